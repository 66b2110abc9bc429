import { InvalidArgumentError, type Command } from 'commander';
import { loadInventory } from '../config/inventory.js';
import { resolveSettings } from '../config/settings.js';
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

/** Flags shared by every command that works on hosts. */
export function withRunOptions(cmd: Command): Command {
  return cmd
    .option('--dry-run', 'connect and inspect, print what would change, change nothing', false)
    .option('--hosts <names>', 'only these inventory hosts (comma-separated)')
    .option('-c, --concurrency <n>', 'hosts worked on at once', positiveInt, 20)
    .option('--connect-timeout <seconds>', 'SSH connect timeout per attempt', positiveInt, 15)
    .option('--command-timeout <seconds>', 'longest a single remote command may run', positiveInt, 900)
    .option('-v, --verbose', 'show every remote command', false)
    .option('--log-file <path>', 'where to write the run log (default ~/.kprov/logs/)');
}

export function runOptions(o: Record<string, unknown>): RunOptions {
  return {
    dryRun: Boolean(o.dryRun),
    concurrency: o.concurrency as number,
    verbose: Boolean(o.verbose),
    connectTimeoutMs: (o.connectTimeout as number) * 1000,
    commandTimeoutMs: (o.commandTimeout as number) * 1000,
    logFile: o.logFile as string | undefined,
    only: o.hosts ? String(o.hosts).split(',').map((s) => s.trim()).filter(Boolean) : undefined,
  };
}

export function loadResolved(file: string, opts: { offline?: boolean } = {}) {
  const resolved = resolveSettings(loadInventory(file), opts);
  for (const w of resolved.warnings) process.stderr.write(`warning: ${w}\n`);
  return resolved;
}

