import type { Command } from 'commander';
import { backupCluster } from '../actions/backup.js';
import { restoreCluster } from '../actions/restore.js';
import { EXIT_STEP_FAILED } from '../errors/index.js';
import { loadResolved, runOptions, withRunOptions } from './options.js';
import { reportRun } from './report.js';

/** A passphrase from the environment, never a flag (flags show in ps and shell history). */
const passphrase = () => process.env.KPROV_BACKUP_PASSPHRASE || undefined;

/** kprov backup and kprov restore: etcd snapshot + PKI + saved state in one archive, and upstream's restore. */
export function registerBackupCommands(program: Command, setExit: (code: number) => void): void {
  withRunOptions(
    program
      .command('backup')
      .description(
        "one archive (0600) with an etcd snapshot taken through etcd's API and checked against its hash, the " +
          "cluster PKI and kprov's saved state; encrypted when KPROV_BACKUP_PASSPHRASE is set. Changes no host",
      )
      .argument('<inventory>', 'Ansible inventory (INI or YAML)')
      .requiredOption('--out <file>', 'archive to write (must not exist)'),
  ).action(async (file: string, o: Record<string, unknown>) => {
    const resolved = loadResolved(file);
    const started = Date.now();
    const result = await backupCluster(resolved, {
      ...runOptions(o, resolved),
      out: o.out as string,
      passphrase: passphrase(),
    });
    if (result.planned) {
      process.stdout.write(`would ${result.planned}\n`);
      return;
    }
    const m = result.manifest!;
    process.stdout.write(
      `backup written: ${result.file} (${result.bytes} bytes${passphrase() ? ', encrypted' : ''}) in ` +
        `${((Date.now() - started) / 1000).toFixed(1)}s\n` +
        `  etcd snapshot from ${m.etcd.takenFrom}: revision ≥ ${m.etcd.minRevision}, ` +
        `database ${m.etcd.dbBytes} bytes, ` +
        `sha256 ${m.etcd.snapshotSha256}\n` +
        `  Kubernetes ${m.kubernetesVersion}, members ${m.etcd.members.map((x) => x.name).join(', ')}\n`,
    );
  });

  withRunOptions(
    program
      .command('restore')
      .description(
        "upstream's etcd restore for a kubeadm cluster: stop the control plane on every master, restore the " +
          'snapshot on each (new cluster ID, same members), start etcd, then the rest; resumable',
      )
      .argument('<inventory>', 'Ansible inventory (INI or YAML)')
      .requiredOption('--from <file>', 'archive written by kprov backup')
      .option('--allow-different-ca', "restore the etcd data onto masters whose CA is not the backup's", false),
  ).action(async (file: string, o: Record<string, unknown>) => {
    const resolved = loadResolved(file);
    const started = Date.now();
    const { outcome, manifest, notes } = await restoreCluster(resolved, {
      ...runOptions(o, resolved),
      from: o.from as string,
      passphrase: passphrase(),
      allowDifferentCa: o.allowDifferentCa === true,
    });
    process.stdout.write(
      `restoring the etcd snapshot (revision ≥ ${manifest.etcd.minRevision}) taken ${manifest.created} ` +
        `from ${manifest.etcd.takenFrom}\n`,
    );
    for (const n of notes) process.stdout.write(`note: ${n}\n`);
    reportRun(outcome, 'restore', started, setExit);
    if (outcome.failed.some((h) => h.spec.controlPlane)) {
      process.stderr.write(
        'The restore is not finished on every master: run kprov restore again with the same archive.\n',
      );
      setExit(EXIT_STEP_FAILED);
    }
  });
}
