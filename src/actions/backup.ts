import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { BACKUP_FORMAT, certificateSha256, packBackup, type BackupManifest } from '../backup/archive.js';
import { checkSnapshot } from '../backup/snapshot.js';
import type { Resolved } from '../config/settings.js';
import { statePkiDir } from '../config/state-dir.js';
import { HostError, PreflightFailed, UserError } from '../errors/index.js';
import type { Host } from '../host/host.js';
import { ClusterAccess, savedCredentials } from '../kube/cluster-access.js';
import { PKI_DIR } from '../kubeadm/constants.js';
import { nodeConfigFrom } from '../kubeadm/config.js';
import type { TarEntry } from '../artifacts/tar.js';
import { connectPhase } from '../phases/connect.js';
import type { Phase } from '../phases/phase.js';
import { etcdImageOn } from '../phases/restore/held.js';
import { clusterStateDir } from './init.js';
import { runOnHosts, type RunOptions } from './session.js';

export interface BackupOptions extends RunOptions {
  out: string;
  /** Encrypts the archive (KPROV_BACKUP_PASSPHRASE). */
  passphrase?: string;
}

export interface BackupResult {
  file?: string;
  bytes?: number;
  manifest?: BackupManifest;
  /** In a dry run: what would be done. */
  planned?: string;
}

/** Every file of the saved state (PKI, admin.conf), by path relative to the state directory. */
export function stateFiles(state: string): TarEntry[] {
  const out: TarEntry[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else if (st.isFile())
        out.push({ name: relative(state, path), content: readFileSync(path), mode: st.mode & 0o777 });
    }
  };
  walk(state);
  return out;
}

/**
 * kprov backup: an etcd snapshot taken through etcd's API on the first master that answers (checked against the
 * sha256 etcd appends), the cluster PKI and kprov's saved state, in one archive written 0600 (encrypted when a
 * passphrase is given). Reads only: no host is changed.
 */
export async function backupCluster(resolved: Resolved, opts: BackupOptions): Promise<BackupResult> {
  const state = clusterStateDir(resolved);
  const caFile = join(statePkiDir(state), 'ca.crt');
  if (!existsSync(join(state, 'admin.conf')) || !existsSync(caFile)) {
    throw new UserError(`no cluster state in ${state}: run kprov init first`);
  }
  if (existsSync(opts.out)) throw new UserError(`${opts.out} already exists: choose another name or remove it`);
  if (!existsSync(dirname(opts.out)) || !statSync(dirname(opts.out)).isDirectory()) {
    throw new UserError(`${dirname(opts.out)} is not a directory`);
  }
  const caSha256 = certificateSha256(readFileSync(caFile, 'utf8'));
  const problems: string[] = [];
  let result: BackupResult = {};

  const snapshot: Phase = {
    title: 'Snapshot etcd',
    // The first master that can be reached takes the snapshot (any member's database is the cluster's).
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && h.spec.controlPlane).slice(0, 1),
    async runHost(host: Host, ctx) {
      const ca = (await host.sudo(`cat ${PKI_DIR}/ca.crt`, { step: 'read CA' })).stdout;
      if (certificateSha256(ca) !== caSha256) {
        throw new HostError(host.name, `the cluster CA here is not the one kprov saved in ${state}`, {
          step: 'snapshot etcd',
        });
      }
      const access = new ClusterAccess(savedCredentials(state, host.spec.nodeName));
      const address = nodeConfigFrom(host.spec).advertiseAddress;
      access.useMaster(host, address, ctx.log);
      const etcd = access.etcd(host, 'snapshot etcd');
      const status = await etcd.status();
      const members = await etcd.members();
      const image = await etcdImageOn(host);
      const version = (
        await host.sudo(
          `sed -n 's/^ *image: .*kube-apiserver:\\(.*\\)$/\\1/p' /etc/kubernetes/manifests/kube-apiserver.yaml`,
          {
            step: 'read the API server version',
          },
        )
      ).stdout.trim();
      if (ctx.dryRun) {
        result.planned =
          `snapshot etcd on ${host.name} (${image}, database ${status.dbSize ?? '?'} bytes, revision ` +
          `${status.header?.revision ?? '?'}) and save it with ${stateFiles(state).length} files of ${state} ` +
          `to ${opts.out}${opts.passphrase === undefined ? '' : ', encrypted'}`;
        return;
      }
      const taken = await etcd.snapshot().catch((err: Error) => {
        throw new HostError(host.name, err.message, { step: 'snapshot etcd' });
      });
      let checked: ReturnType<typeof checkSnapshot>;
      try {
        checked = checkSnapshot(taken);
      } catch (err) {
        throw new HostError(host.name, (err as Error).message, { step: 'snapshot etcd' });
      }
      const manifest: BackupManifest = {
        format: BACKUP_FORMAT,
        created: new Date().toISOString(),
        clusterName: resolved.cluster.clusterName,
        kubernetesVersion: version || resolved.cluster.kubernetesVersion,
        caSha256,
        etcd: {
          takenFrom: host.spec.nodeName,
          minRevision: status.header?.revision ?? '?',
          snapshotSha256: checked.sha256,
          dbBytes: checked.dbBytes,
          members: members.filter((m) => m.name).map((m) => ({ name: m.name!, peerUrl: m.peerURLs?.[0] ?? '' })),
        },
      };
      const archive = packBackup({ manifest, snapshot: taken, state: stateFiles(state) }, opts.passphrase);
      // Written whole under a temporary name, then renamed: a reader never sees half a backup.
      const partial = `${opts.out}.kprov-partial`;
      try {
        writeFileSync(partial, archive, { mode: 0o600, flag: 'wx' });
        renameSync(partial, opts.out);
      } catch (err) {
        rmSync(partial, { force: true });
        throw new UserError(`cannot write ${opts.out}: ${(err as Error).message}`);
      }
      result = { file: opts.out, bytes: archive.length, manifest };
    },
  };

  const masters = resolved.hosts.filter((h) => h.controlPlane).map((h) => h.name);
  const outcome = await runOnHosts(
    resolved,
    [connectPhase, snapshot],
    { ...opts, dryRun: opts.dryRun, only: masters },
    'backup',
  );
  if (!result.file && !result.planned) {
    for (const h of outcome.failed) problems.push(h.failed!.toString());
    if (problems.length === 0) problems.push('no master could be reached');
    throw new PreflightFailed(problems, 'backup');
  }
  return result;
}
