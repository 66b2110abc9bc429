import { kprovHome } from '../config/state-dir.js';
import { join } from 'node:path';
import type { Resolved } from '../config/settings.js';
import { Host } from '../host/host.js';
import { RunLog } from '../log/logger.js';
import { SshConnection } from '../ssh/connection.js';
import { closeJumpConnections } from '../phases/connect.js';
import { runPhases, chooseRenderer, type Renderer, type RunOutcome } from '../phases/manager.js';
import { InterruptedError } from '../errors/index.js';
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
  return join(kprovHome(), 'logs', `${stamp}-${command}.log`);
}

/** Set up hosts and connections for a run, run the phases, always disconnect. */
export async function runOnHosts(
  resolved: Resolved,
  phases: Phase[],
  opts: RunOptions,
  command: string,
  onHosts?: (hosts: Host[]) => void,
): Promise<RunOutcome & { ctx: RunContext }> {
  const log = new RunLog(
    opts.logFile ?? defaultLogFile(command),
    opts.verbose ? (line) => process.stderr.write(line + '\n') : undefined,
  );
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
    const outcome = await runAbortable(phases, ctx, chooseRenderer(opts.verbose, opts.quiet));
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
    return { ...outcome, ctx };
  } finally {
    for (const h of hosts) h.conn.close();
    closeJumpConnections(ctx);
  }
}

type RunSignal = 'SIGINT' | 'SIGTERM';

/** Where SIGINT and SIGTERM come from: the process, or a test's emitter. */
export interface SignalSource {
  on(event: RunSignal, listener: () => void): unknown;
  off(event: RunSignal, listener: () => void): unknown;
}

/**
 * Run the phases; on SIGINT or SIGTERM stop starting steps, stop the remote commands that run, remove the
 * staging files (uploads and root-only copies) from every host, then throw an InterruptedError (exit 130 or 143)
 * that says which hosts were left half-done in which phase. A second signal exits at once.
 */
export async function runAbortable(
  phases: Phase[],
  ctx: RunContext,
  renderer: Renderer,
  signals: SignalSource = process,
  graceMs = 5000,
): Promise<RunOutcome> {
  const controller = new AbortController();
  ctx.abort = controller.signal;
  ctx.inFlight = new Map();
  let received: RunSignal | undefined;
  let halfDone: [string, string][] = [];
  let stopped: Promise<string[]> | undefined;
  const stop = async (): Promise<string[]> => {
    const lines: string[] = [];
    await Promise.all(
      ctx.hosts.map(async (h) => {
        try {
          const removed = await h.conn.cleanupStaging();
          if (removed.length === 0) return;
          lines.push(`  ${h.name}: removed ${removed.length} staging file(s): ${removed.join(' ')}`);
        } catch (err) {
          const left = h.conn.pendingStaging();
          lines.push(`  ${h.name}: could not remove staging files ${left.join(' ')}: ${(err as Error).message}`);
        }
      }),
    );
    return lines;
  };
  const handler = (sig: RunSignal) => () => {
    if (received) {
      if (signals === process) process.exit(sig === 'SIGINT' ? 130 : 143);
      return;
    }
    received = sig;
    halfDone = [...ctx.inFlight!];
    const busy = halfDone.map(([h, p]) => `${h} in ${p}`).join(', ') || 'nothing';
    ctx.log.write('kprov', `${sig}: stopping (in progress: ${busy})`);
    controller.abort();
    for (const h of ctx.hosts) h.conn.abort();
    stopped = stop();
  };
  const onInt = handler('SIGINT');
  const onTerm = handler('SIGTERM');
  signals.on('SIGINT', onInt);
  signals.on('SIGTERM', onTerm);
  try {
    const running = runPhases(phases, ctx, renderer);
    const interrupted = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve()));
    const first = await Promise.race([running.then((o) => ({ outcome: o })), interrupted.then(() => undefined)]);
    if (!received && first) return first.outcome;
    // Interrupted: cleanup first, then give the phases a moment to unwind (commands were stopped), not forever.
    const cleaned = await stopped!;
    await Promise.race([running.catch(() => undefined), new Promise((r) => setTimeout(r, graceMs).unref())]);
    const sig = received!;
    const lines = [`interrupted by ${sig}: no further steps were started.`];
    if (halfDone.length === 0) lines.push('  no host was in the middle of a phase');
    for (const [host, phase] of halfDone) {
      lines.push(`  ${host}: stopped during "${phase}" (half-done; a re-run converges it)`);
    }
    lines.push(...cleaned);
    ctx.log.write('kprov', lines.join('\n'));
    throw new InterruptedError(sig, lines.join('\n'));
  } finally {
    signals.off('SIGINT', onInt);
    signals.off('SIGTERM', onTerm);
  }
}
