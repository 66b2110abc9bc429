import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { loadInventory } from '../config/inventory.js';
import { resolveSettings, type Resolved } from '../config/settings.js';
import { UserError } from '../errors/index.js';
import { FOREIGN_JOIN_VARS, type ForeignJoinFlags } from '../config/foreign-join.js';
import type { RunOptions } from '../actions/session.js';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
}

/** --hosts a,b: at least one name; an empty or blank value would otherwise mean every host. */
export function parseHosts(value: string): string[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) {
    throw new InvalidArgumentError('needs at least one host name (a,b); leave --hosts out to work on every host');
  }
  return names;
}

/**
 * --log-file PATH: a file, never a directory (every host would fail with EISDIR). A missing parent directory is
 * created here, so a path that cannot be written is a usage error before anything connects.
 */
export function parseLogFile(value: string): string {
  const file = resolve(value);
  let isDir = false;
  try {
    const st = statSync(file);
    isDir = st.isDirectory();
    if (!isDir && !st.isFile()) throw new InvalidArgumentError(`${file} is not a regular file`);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    // does not exist yet: fine
  }
  if (isDir) {
    throw new InvalidArgumentError(`${file} is a directory: give the path of a file to write, e.g. ${file}/run.log`);
  }
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    closeSync(openSync(file, 'a', 0o600));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new InvalidArgumentError(`cannot create ${file}: ${why}`);
  }
  return file;
}

/** The one --hosts check for every command: each name must be a control-plane or worker host of the inventory. */
export function checkHosts(only: string[] | undefined, resolved: Resolved): void {
  const names = resolved.hosts.map((h) => h.name);
  for (const n of only ?? []) {
    if (!names.includes(n)) {
      const list = names.join(', ');
      throw new UserError(`--hosts: "${n}" is not a control-plane or worker host of the inventory (hosts: ${list})`);
    }
  }
}

/** Flags shared by every command that works on hosts. */
export function withRunOptions(cmd: Command): Command {
  return cmd
    .option('--dry-run', 'connect and inspect, print what would change, change nothing', false)
    .option('--hosts <names>', 'only these inventory hosts (comma-separated)', parseHosts)
    .option('-c, --concurrency <n>', 'hosts worked on at once', positiveInt, 20)
    .option('--connect-timeout <seconds>', 'SSH connect timeout per attempt', positiveInt, 15)
    .option('--command-timeout <seconds>', 'longest a single remote command may run', positiveInt, 900)
    .option('-v, --verbose', 'show every remote command', false)
    .option('--log-file <path>', 'where to write the run log (default ~/.kprov/logs/)', parseLogFile);
}

/** Run options from parsed flags, with --hosts checked against the inventory (every command goes through here). */
export function runOptions(o: Record<string, unknown>, resolved: Resolved): RunOptions {
  const only = o.hosts as string[] | undefined;
  checkHosts(only, resolved);
  return {
    dryRun: Boolean(o.dryRun),
    concurrency: o.concurrency as number,
    verbose: Boolean(o.verbose),
    connectTimeoutMs: (o.connectTimeout as number) * 1000,
    commandTimeoutMs: (o.commandTimeout as number) * 1000,
    logFile: o.logFile as string | undefined,
    only,
  };
}

/**
 * The inventory, resolved and checked. join: `kprov join`'s discovery flags (the command that joins a cluster kprov
 * did not create); foreign: 'allow' for commands that work on hosts alone (prepare, inventory). Any other command
 * needs a cluster kprov created, so an inventory that sets join_token and the like is refused for it.
 */
export function loadResolved(
  file: string,
  opts: { offline?: boolean; join?: ForeignJoinFlags; foreign?: 'allow' } = {},
) {
  const resolved = resolveSettings(loadInventory(file), opts);
  if (resolved.cluster.foreignJoin && !opts.join && opts.foreign !== 'allow') {
    const keys = Object.values(FOREIGN_JOIN_VARS);
    const source = resolved.inventory.hosts
      .flatMap((h) => keys.map((k) => h.varSources[k]))
      .find((s) => s !== undefined);
    throw new UserError(
      `the inventory sets ${keys.join(', ')}: it joins workers to a cluster kprov did not create, which is ` +
        'kprov join (and kprov prepare); this command works on clusters kprov created',
      source ?? { file },
    );
  }
  for (const w of resolved.warnings) process.stderr.write(`warning: ${w}\n`);
  return resolved;
}
