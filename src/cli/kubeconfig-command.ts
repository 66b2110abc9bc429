import { chmodSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { clusterKubeconfig, parseDuration } from '../actions/kubeconfig.js';
import { UserError } from '../errors/index.js';
import { loadResolved } from './options.js';

const collect = (value: string, previous: string[]) => [...previous, value];
const duration = (value: string) => {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as UserError).message);
  }
};

/** kprov kubeconfig: the admin kubeconfig, or one for a user and groups signed by the cluster CA (kubeadm's). */
export function registerKubeconfigCommand(program: Command): void {
  program
    .command('kubeconfig')
    .description(
      'print (or write, 0600) the admin kubeconfig, or one for --user with a certificate from the cluster CA',
    )
    .argument('<inventory>', 'Ansible inventory (INI or YAML)')
    .option('--user <name>', 'a client-certificate kubeconfig for this user (the certificate CN)')
    .option('--group <group>', 'a group (certificate O) for --user; repeat for more', collect, [])
    .option('--ttl <duration>', 'certificate validity for --user, e.g. 24h, 30d (default a year)', duration)
    .option('--out <file>', 'write the kubeconfig here with mode 0600 instead of printing it')
    .action(async (file: string, o: { user?: string; group: string[]; ttl?: number; out?: string }) => {
      if (!o.user && (o.group.length > 0 || o.ttl)) throw new UserError('--group and --ttl need --user');
      const resolved = loadResolved(file, { offline: true });
      const text = await clusterKubeconfig(resolved, { user: o.user, groups: o.group, validityMs: o.ttl });
      if (!o.out) return void process.stdout.write(text);
      writeFileSync(o.out, text, { mode: 0o600 });
      chmodSync(o.out, 0o600);
      process.stderr.write(`kubeconfig for ${o.user ?? 'the cluster admin'} written to ${o.out}\n`);
    });
}
