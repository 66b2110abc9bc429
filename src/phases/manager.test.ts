import { describe, expect, it } from 'vitest';
import { Host } from '../host/host.js';
import { RunLog } from '../log/logger.js';
import type { HostSpec, Resolved } from '../config/settings.js';
import type { SshConnection } from '../ssh/connection.js';
import { runPhases } from './manager.js';
import type { Phase, RunContext } from './phase.js';

function context(names: string[], dryRun = false): RunContext {
  // These phases never touch the connection: the manager is tested on its own.
  const hosts = names.map((name) => new Host({ name } as HostSpec, { name } as unknown as SshConnection, dryRun));
  return {
    resolved: {} as Resolved,
    log: new RunLog(undefined),
    dryRun,
    concurrency: 2,
    connectTimeoutMs: 1000,
    commandTimeoutMs: 1000,
    hosts,
    warn: () => {},
  };
}

describe('phase manager', () => {
  it('runs phases in order, records changes, and drops a failed host from later phases', async () => {
    const ctx = context(['a', 'b', 'c']);
    const seen: string[] = [];
    const phases: Phase[] = [
      {
        title: 'one',
        async runHost(host) {
          seen.push(`one:${host.name}`);
          if (host.name === 'b') throw new Error('disk full');
          if (host.name === 'a') await host.change('did a thing', async () => {});
        },
      },
      {
        title: 'two',
        async runHost(host) {
          seen.push(`two:${host.name}`);
        },
      },
    ];
    const outcome = await runPhases(phases, ctx, 'silent');
    expect(seen.filter((s) => s.startsWith('two:')).sort()).toEqual(['two:a', 'two:c']);
    expect(outcome.failed.map((h) => h.name)).toEqual(['b']);
    expect(outcome.failed[0].failed?.toString()).toBe('b: [one] disk full');
    const statusOf = (phase: string, host: string) =>
      outcome.reports.find((r) => r.phase === phase && r.host === host)?.status;
    expect(statusOf('one', 'a')).toBe('changed');
    expect(statusOf('one', 'b')).toBe('failed');
    expect(statusOf('one', 'c')).toBe('unchanged');
    expect(statusOf('two', 'b')).toBeUndefined();
  });

  it('in dry-run records changes without applying them', async () => {
    const ctx = context(['a'], true);
    let applied = false;
    const outcome = await runPhases(
      [
        {
          title: 'x',
          async runHost(h) {
            await h.change('would do', async () => {
              applied = true;
            });
          },
        },
      ],
      ctx,
      'silent',
    );
    expect(applied).toBe(false);
    expect(outcome.reports[0]).toMatchObject({ status: 'changed', changes: ['would do'] });
  });

  it('bounds parallelism', async () => {
    const ctx = context(['a', 'b', 'c', 'd', 'e']);
    let running = 0;
    let peak = 0;
    await runPhases(
      [
        {
          title: 'x',
          async runHost() {
            running++;
            peak = Math.max(peak, running);
            await new Promise((r) => setTimeout(r, 20));
            running--;
          },
        },
      ],
      ctx,
      'silent',
    );
    expect(peak).toBe(2);
  });

  it('cross-host checks fail only the hosts they name', async () => {
    const ctx = context(['a', 'b']);
    const outcome = await runPhases(
      [
        {
          title: 'validate',
          async runAll() {
            return new Map([['b', 'machine-id is the same as on a']]);
          },
        },
      ],
      ctx,
      'silent',
    );
    expect(outcome.failed.map((h) => h.failed?.toString())).toEqual(['b: [validate] machine-id is the same as on a']);
  });
});
