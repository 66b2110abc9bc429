import type { Resolved } from '../config/settings.js';
import type { Host } from '../host/host.js';
import { RunLog } from '../log/logger.js';
import type { RunContext } from './phase.js';

/** A RunContext for phase tests: no log file, short timeouts, warnings collected. */
export function testContext(hosts: Host[], resolved = {} as Resolved, over: Partial<RunContext> = {}) {
  const warnings: string[] = [];
  const ctx: RunContext = {
    resolved,
    log: new RunLog(undefined),
    dryRun: false,
    concurrency: 5,
    connectTimeoutMs: 1000,
    commandTimeoutMs: 1000,
    hosts,
    warn: (m) => warnings.push(m),
    ...over,
  };
  return { ctx, warnings };
}
