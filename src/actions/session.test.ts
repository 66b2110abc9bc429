import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import type { HostSpec } from '../config/settings.js';
import { InterruptedError, describeError } from '../errors/index.js';
import { Host } from '../host/host.js';
import { FakeConnection } from '../ssh/fake-connection.testing.js';
import type { Phase } from '../phases/phase.js';
import { runAbortable } from './session.js';
import { testContext } from '../phases/context.testing.js';

function setup(names: string[]) {
  const conns = names.map((n) => new FakeConnection(n));
  const hosts = conns.map((c) => new Host({ name: c.name } as HostSpec, c.asConnection(), false));
  const { ctx } = testContext(hosts);
  return { conns, hosts, ctx };
}

describe('an interrupted run', () => {
  it('on SIGINT stops commands, starts nothing, cleans staging files, reports half-done hosts, exits 130', async () => {
    const { conns, ctx } = setup(['a', 'b']);
    const signals = new EventEmitter();
    const started: string[] = [];
    const phases: Phase[] = [
      {
        title: 'Container runtime',
        async runHost(host) {
          started.push(`runtime:${host.name}`);
          const conn = conns.find((c) => c.name === host.name)!;
          conn.trackStaging(`/tmp/.kprov-${host.name}`);
          conn.trackStaging(`/var/lib/kprov/staging/${host.name}`);
          if (host.name === 'a') {
            setTimeout(() => signals.emit('SIGINT'), 20);
            await conn.runsUntilAborted(); // a long remote command
          }
        },
      },
      {
        title: 'Later',
        async runHost(host) {
          started.push(`later:${host.name}`);
        },
      },
    ];
    const err = await runAbortable(phases, ctx, 'silent', signals, 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(describeError(err).exitCode).toBe(130);
    const message = (err as Error).message;
    expect(message).toContain('interrupted by SIGINT');
    expect(message).toContain('a: stopped during "Container runtime"');
    expect(message).not.toContain('b: stopped');
    expect(message).toContain('a: removed 2 staging file(s): /tmp/.kprov-a /var/lib/kprov/staging/a');
    expect(started).toEqual(['runtime:a', 'runtime:b']);
    for (const c of conns) {
      expect(c.aborted).toBe(true);
      expect(c.execs.at(-1)).toMatchObject({
        sudo: true,
        command: `rm -rf /tmp/.kprov-${c.name} /var/lib/kprov/staging/${c.name}`,
      });
    }
    expect(signals.listenerCount('SIGINT') + signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('SIGTERM exits 143', async () => {
    const { conns, ctx } = setup(['a']);
    const signals = new EventEmitter();
    const phases: Phase[] = [
      {
        title: 'x',
        async runHost() {
          setTimeout(() => signals.emit('SIGTERM'), 10);
          await conns[0].runsUntilAborted();
        },
      },
    ];
    const err = await runAbortable(phases, ctx, 'silent', signals, 1000).catch((e: unknown) => e);
    expect(describeError(err)).toMatchObject({ exitCode: 143 });
  });

  it('a run without signals returns its outcome and leaves no listeners', async () => {
    const { ctx } = setup(['a']);
    const signals = new EventEmitter();
    const outcome = await runAbortable([{ title: 'x', async runHost() {} }], ctx, 'silent', signals);
    expect(outcome.reports).toHaveLength(1);
    expect(signals.listenerCount('SIGINT')).toBe(0);
  });
});
