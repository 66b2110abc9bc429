import { describe, expect, it } from 'vitest';
import { isTransientNetworkError, retryTransient } from './retry.js';
import type { Clock } from './wait.js';

const fakeClock = (): Clock & { t: number } => {
  const c = { t: 0, now: () => c.t, sleep: async (ms: number) => void (c.t += ms) };
  return c;
};

describe('retryTransient', () => {
  it('retries transient failures with growing pauses until one succeeds', async () => {
    const clock = fakeClock();
    const pauses: number[] = [];
    let n = 0;
    const v = await retryTransient(
      async () => {
        if (++n < 4) throw new Error('busy');
        return 'ok';
      },
      { deadlineMs: 60_000, isTransient: () => true, clock, onRetry: (_e, _n, p) => pauses.push(p) },
    );
    expect(v).toBe('ok');
    expect(pauses).toEqual([500, 1000, 2000]);
  });

  it('throws a permanent failure at once', async () => {
    let n = 0;
    const err = await retryTransient(
      async () => {
        n++;
        throw new Error('forbidden');
      },
      { deadlineMs: 60_000, isTransient: (e) => (e as Error).message === 'busy', clock: fakeClock() },
    ).catch((e) => e);
    expect(err.message).toBe('forbidden');
    expect(n).toBe(1);
  });

  it('gives up with the last error when the deadline would pass', async () => {
    const clock = fakeClock();
    let n = 0;
    const err = await retryTransient(
      async () => {
        throw new Error(`busy ${++n}`);
      },
      { deadlineMs: 10_000, isTransient: () => true, clock },
    ).catch((e) => e);
    expect(err.message).toMatch(/^busy \d+$/);
    expect(clock.t).toBeLessThanOrEqual(10_000);
  });

  it('knows network errors worth another attempt', () => {
    expect(isTransientNetworkError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientNetworkError(new Error('socket hang up'))).toBe(true);
    expect(isTransientNetworkError(new Error('master1: cannot open tunnel to 10.0.0.1:2379: Connection refused'))).toBe(
      true,
    );
    expect(isTransientNetworkError(new Error('certificate signed by unknown authority'))).toBe(false);
  });
});
