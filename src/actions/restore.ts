import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { certificateSha256, unpackBackup, type BackupContents } from '../backup/archive.js';
import type { RestoreMember } from '../backup/restore-plan.js';
import { checkSnapshot } from '../backup/snapshot.js';
import type { Resolved } from '../config/settings.js';
import { statePkiDir } from '../config/state-dir.js';
import { PreflightFailed, UserError } from '../errors/index.js';
import { nodeConfigFrom } from '../kubeadm/config.js';
import { peerUrlOf } from '../kubeadm/etcd-members.js';
import { connectPhase } from '../phases/connect.js';
import { restoreDataPhase } from '../phases/restore/data.js';
import { restartKubeletsPhase, restoreCleanupPhase } from '../phases/restore/finish.js';
import { restoreInspectPhase, type RestoreTarget } from '../phases/restore/inspect.js';
import { startControlPlanePhase, startEtcdPhase } from '../phases/restore/start.js';
import { stopControlPlanePhase } from '../phases/restore/stop.js';
import { clusterStateDir } from './init.js';
import { runOnHosts, type RunOptions } from './session.js';

export interface RestoreOptions extends RunOptions {
  from: string;
  passphrase?: string;
  /** Restore onto masters whose CA is not the backup's (their PKI is kept). */
  allowDifferentCa: boolean;
}

/** Read and check an archive; every way it can be wrong is the user's to fix (exit 2). */
export function readBackup(file: string, passphrase?: string): BackupContents {
  if (!existsSync(file)) throw new UserError(`${file}: no such file`);
  try {
    const contents = unpackBackup(readFileSync(file), passphrase);
    checkSnapshot(contents.snapshot);
    return contents;
  } catch (err) {
    // A damaged, foreign or wrongly decrypted archive, or a snapshot that fails its hash: all for the user to fix.
    throw new UserError((err as Error).message, { file });
  }
}

/**
 * kprov restore, upstream's procedure for a kubeadm cluster: with every master reachable and its CA the backup's,
 * stop the control plane on every master, restore the snapshot into a fresh data directory on each (a new cluster
 * ID, the members as the inventory has them), start etcd everywhere, then the rest, then restart every kubelet.
 * Each step looks before it acts, so an interrupted restore is finished by running it again; --dry-run lists it.
 */
export async function restoreCluster(resolved: Resolved, opts: RestoreOptions) {
  const backup = readBackup(opts.from, opts.passphrase);
  const { manifest } = backup;
  const state = clusterStateDir(resolved);
  const notes: string[] = [];

  const savedCa = join(statePkiDir(state), 'ca.crt');
  if (existsSync(savedCa)) {
    const saved = certificateSha256(readFileSync(savedCa, 'utf8'));
    if (saved !== manifest.caSha256 && !opts.allowDifferentCa) {
      throw new UserError(
        `the backup's cluster CA (sha256 ${manifest.caSha256.slice(0, 16)}…) is not this cluster's ` +
          `(${saved.slice(0, 16)}… in ${state}); pass --allow-different-ca to restore its etcd data anyway`,
        { file: opts.from },
      );
    }
  }

  const masters = resolved.hosts.filter((h) => h.controlPlane);
  const members: RestoreMember[] = masters.map((h) => {
    const node = nodeConfigFrom(h);
    return { name: node.name, peerUrl: peerUrlOf(node.advertiseAddress) };
  });
  const before = manifest.etcd.members.map((m) => m.name).sort();
  if (
    before.join(',') !==
    members
      .map((m) => m.name)
      .sort()
      .join(',')
  ) {
    notes.push(
      `the backup was taken with etcd members ${before.join(', ')}; ` +
        `restoring as ${members.map((m) => m.name).join(', ')}`,
    );
  }

  // 1. Read-only: every master reachable, its CA the backup's, the etcd image on it.
  const targets = new Map<string, RestoreTarget>();
  const inspected = await runOnHosts(
    resolved,
    [connectPhase, restoreInspectPhase(targets)],
    { ...opts, dryRun: true, only: masters.map((h) => h.name), quiet: true },
    'restore-preflight',
  );
  const problems = inspected.failed.map((h) => h.failed!.toString());
  for (const [name, t] of targets) {
    if (t.caSha256 !== manifest.caSha256 && !opts.allowDifferentCa) {
      problems.push(
        `${name}: its cluster CA (${t.caSha256?.slice(0, 16) ?? 'none'}…) is not the backup's ` +
          `(${manifest.caSha256.slice(0, 16)}…); pass --allow-different-ca to restore the etcd data anyway`,
      );
    } else if (t.caSha256 !== manifest.caSha256) {
      notes.push(`${name}: its CA differs from the backup's; its PKI is kept, only the etcd data is restored`);
    }
  }
  if (problems.length > 0) throw new PreflightFailed(problems, 'restore preflight');

  // The saved state comes back with the cluster when this machine has none (a new operator machine).
  if (!existsSync(join(state, 'admin.conf')) && !opts.dryRun) {
    for (const f of backup.state) {
      const path = join(state, f.name);
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, f.content, { mode: f.mode & 0o600 });
      chmodSync(path, f.mode & 0o600);
    }
    notes.push(`kprov's saved state for this cluster was restored into ${state}`);
  }

  // 2. The restore.
  const data = {
    snapshot: backup.snapshot,
    sha256: manifest.etcd.snapshotSha256,
    revision: manifest.etcd.minRevision,
    members,
    memberOf: new Map(masters.map((h, i) => [h.name, members[i]])),
    targets,
  };
  const phases = [
    connectPhase,
    stopControlPlanePhase,
    restoreDataPhase(data),
    startEtcdPhase,
    startControlPlanePhase,
    restartKubeletsPhase,
    restoreCleanupPhase,
  ];
  const outcome = await runOnHosts(resolved, phases, { ...opts, only: undefined }, 'restore');
  return { outcome, manifest, notes };
}
