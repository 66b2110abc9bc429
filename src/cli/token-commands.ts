import { InvalidArgumentError, type Command } from 'commander';
import { parseDuration } from '../actions/kubeconfig.js';
import { createToken, deleteTokens, joinCommand, listTokens } from '../actions/tokens.js';
import { EXIT_STEP_FAILED, type UserError } from '../errors/index.js';
import type { RunOutcome } from '../phases/manager.js';
import { loadResolved, runOptions, withRunOptions } from './options.js';

const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const ttl = (value: string) => {
  if (value === '0') return 0;
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as UserError).message);
  }
};
const usages = (value: string) => {
  const u = list(value);
  for (const x of u)
    if (x !== 'signing' && x !== 'authentication') throw new InvalidArgumentError(`unknown usage ${x}`);
  return u as ('signing' | 'authentication')[];
};

/** Say which masters could not be used when no master carried the request (exit 1). */
function failed(outcome: RunOutcome, setExit: (code: number) => void): void {
  const why = outcome.failed.map((h) => `${h.name}: ${h.failed?.message}`).join('\n');
  process.stderr.write(`no control-plane host could reach the cluster's API\n${why}\n`);
  setExit(EXIT_STEP_FAILED);
}

/** kprov token create|list|delete on a running cluster, and token generate (offline). */
export function registerTokenCommands(token: Command, setExit: (code: number) => void): void {
  withRunOptions(
    token
      .command('create')
      .description('create a bootstrap token on the cluster (kubeadm token create)')
      .argument('<inventory>', 'Ansible inventory (INI or YAML)')
      .argument('[token]', 'the token to create ([a-z0-9]{6}.[a-z0-9]{16}); a random one by default')
      .option('--ttl <duration>', 'lifetime, e.g. 24h, 2d; 0 never expires', ttl, 24 * 3_600_000)
      .option('--description <text>', 'a description stored with the token')
      .option('--usages <list>', 'signing,authentication (default both)', usages)
      .option('--groups <list>', 'extra groups (system:bootstrappers:...)', list)
      .option('--print-join-command', 'print a kubeadm join command with the token and the CA hash', false),
  ).action(async (file: string, given: string | undefined, o: Record<string, unknown>) => {
    const resolved = loadResolved(file);
    const { result, outcome } = await createToken(resolved, runOptions(o, resolved), {
      token: given,
      ttlMs: o.ttl as number,
      description: o.description as string | undefined,
      usages: o.usages as ('signing' | 'authentication')[] | undefined,
      groups: o.groups as string[] | undefined,
    });
    if (!result) return failed(outcome, setExit);
    process.stdout.write(`${o.printJoinCommand ? joinCommand(resolved, result) : result}\n`);
  });

  withRunOptions(
    token
      .command('list')
      .description('list the bootstrap tokens of the cluster (kubeadm token list)')
      .argument('<inventory>', 'Ansible inventory (INI or YAML)')
      .option('--json', 'machine-readable output', false),
  ).action(async (file: string, o: Record<string, unknown>) => {
    const resolved = loadResolved(file);
    const { result, outcome } = await listTokens(resolved, runOptions(o, resolved));
    if (!result) return failed(outcome, setExit);
    if (o.json) return void process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    const rows = [['TOKEN', 'EXPIRES', 'USAGES', 'DESCRIPTION', 'EXTRA GROUPS']];
    for (const t of result) {
      rows.push([t.token, t.expires ?? '<forever>', t.usages.join(','), t.description || '<none>', t.groups.join(',')]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    process.stdout.write(
      rows
        .map((r) =>
          r
            .map((c, i) => c.padEnd(widths[i]))
            .join('   ')
            .trimEnd(),
        )
        .join('\n') + '\n',
    );
  });

  withRunOptions(
    token
      .command('delete')
      .description('delete bootstrap tokens from the cluster (kubeadm token delete)')
      .argument('<inventory>', 'Ansible inventory (INI or YAML)')
      .argument('<tokens...>', 'tokens or token ids'),
  ).action(async (file: string, tokens: string[], o: Record<string, unknown>) => {
    const resolved = loadResolved(file);
    const { result, outcome } = await deleteTokens(resolved, runOptions(o, resolved), tokens);
    if (!result) return failed(outcome, setExit);
    for (const id of result) process.stdout.write(`bootstrap token "${id}" deleted\n`);
  });
}
