import { join } from 'node:path';
import { homedir } from 'node:os';
import type { Resolved } from '../config/settings.js';
import { Host } from '../host/host.js';
import { RunLog } from '../log/logger.js';
import { SshConnection } from '../ssh/connection.js';
import { closeJumpConnections } from '../phases/connect.js';
import { runPhases, chooseRenderer, type RunOutcome } from '../phases/manager.js';
import type { Phase, RunContext } from '../phases/phase.js';

export interface RunOptions {
  dryRun: boolean;
  concurrency: number;
  verbose: boolean;
  quiet?: boolean;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  logFile?: string;
  /** Only these inventory hosts (by name). */
  only?: string[];
}

export function defaultLogFile(command: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return join(process.env.KPROV_HOME ?? join(homedir(), '.kprov'), 'logs', `${stamp}-${command}.log`);
}

/** Set up hosts and connections for a run, run the phases, always disconnect. */
export async function runOnHosts(resolved: Resolved, phases: Phase[], opts: RunOptions, command: string, onHosts?: (hosts: Host[]) => void): Promise<RunOutcome & { ctx: RunContext }> {
  const log = new RunLog(opts.logFile ?? defaultLogFile(command), opts.verbose ? (line) => process.stderr.write(line + '\n') : undefined);
  const warnings: string[] = [];
  const specs = opts.only ? resolved.hosts.filter((h) => opts.only!.includes(h.name)) : resolved.hosts;
  const hosts = specs.map(
    (spec) =>
      new Host(
        spec,
        new SshConnection(
          {
            name: spec.name,
            host: spec.address,
            port: spec.port,
            user: spec.user,
            privateKeyFile: spec.privateKeyFile,
            privateKeyPassphrase: process.env.KPROV_SSH_KEY_PASSPHRASE,
            password: spec.password,
            knownHostsFile: spec.knownHostsFile,
            hostKeyChecking: spec.hostKeyChecking,
          },
          log,
          { enabled: spec.become || spec.user !== 'root', password: spec.becomePassword },
        ),
        opts.dryRun,
      ),
  );
  onHosts?.(hosts);
  const ctx: RunContext = {
    resolved,
    log,
    dryRun: opts.dryRun,
    concurrency: opts.concurrency,
    connectTimeoutMs: opts.connectTimeoutMs,
    commandTimeoutMs: opts.commandTimeoutMs,
    hosts,
    warn: (m) => {
      warnings.push(m);
      log.write('kprov', `warning: ${m}`);
    },
  };
  try {
    const outcome = await runPhases(phases, ctx, chooseRenderer(opts.verbose, opts.quiet));
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
    return { ...outcome, ctx };
  } finally {
    for (const h of hosts) h.conn.close();
    closeJumpConnections(ctx);
  }
}
