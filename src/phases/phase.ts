import type { Resolved } from '../config/settings.js';
import type { Host } from '../host/host.js';
import type { RunLog } from '../log/logger.js';

export interface RunContext {
  resolved: Resolved;
  log: RunLog;
  dryRun: boolean;
  concurrency: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Every host of the run, connected or not; failed hosts carry their error. */
  hosts: Host[];
  warn(message: string): void;
  /** Set when the run is interrupted (SIGINT/SIGTERM): no new phase or host step starts. */
  abort?: AbortSignal;
  /** Host name -> title of the phase it is working on now; what an interrupted run left half-done. */
  inFlight?: Map<string, string>;
}

/**
 * A phase runs on each selected host (in parallel, bounded by concurrency).
 * A phase may instead look at all hosts at once (validation across hosts) with runAll,
 * which returns a problem per host that must stop.
 */
export interface Phase {
  title: string;
  select?(ctx: RunContext): Host[];
  runHost?(host: Host, ctx: RunContext): Promise<void>;
  runAll?(hosts: Host[], ctx: RunContext): Promise<Map<string, string>>;
}
