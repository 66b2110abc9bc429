import { describe, expect, it } from 'vitest';
import { waitUntil, WaitTimeout, type Clock } from './wait.js';

/** A clock whose sleeps advance time instantly. */
function fakeClock(): Clock & { t: number } {
  const c = { t: 0, now: () => c.t, sleep: async (ms: number) => void (c.t += ms) };
  return c;
}

describe('waitUntil', () => {
  it('returns the value once the check passes', async () => {
    let n = 0;
    const v = await waitUntil({
      what: 'x',
      stallMs: 10_000,
      deadlineMs: 60_000,
      clock: fakeClock(),
      check: async () => (++n === 3 ? 'done' : undefined),
    });
    expect(v).toBe('done');
    expect(n).toBe(3);
  });

  it('fails after stallMs without progress, saying what the host was stuck on', async () => {
    const clock = fakeClock();
    const err = await waitUntil({
      what: 'node w1 to register',
      stallMs: 60_000,
      deadlineMs: 600_000,
      everyMs: 2000,
      clock,
      check: async () => {
        throw new Error('HTTP 404');
      },
      probe: async () => 'kubelet active/running, last messages: Unable to register node',
    }).catch((e) => e);
    expect(err).toBeInstanceOf(WaitTimeout);
    expect(err.message).toMatch(/node w1 to register: no progress for 60s/);
    expect(err.message).toContain('last answer: HTTP 404');
    expect(err.message).toContain('stuck on: kubelet active/running, last messages: Unable to register node');
    expect(clock.t).toBeGreaterThanOrEqual(60_000);
    expect(clock.t).toBeLessThan(70_000);
  });

  // Regression (issue 8, HA suite on a busy machine): a fixed 120 s limit failed a worker whose kubelet was still
  // making progress; a wait now lasts while the observed state changes.
  it('keeps waiting past stallMs while the probe shows progress, up to the deadline', async () => {
    const clock = fakeClock();
    let step = 0;
    const v = await waitUntil({
      what: 'slow but moving',
      stallMs: 30_000,
      deadlineMs: 600_000,
      everyMs: 5000,
      probeEveryMs: 0,
      clock,
      check: async () => (clock.t >= 200_000 ? true : undefined),
      probe: async () => `step ${Math.floor(step++ / 4)}`, // changes every 20 s
    });
    expect(v).toBe(true);
    expect(clock.t).toBeGreaterThanOrEqual(200_000);
  });

  it('stops at the deadline even while things change', async () => {
    const clock = fakeClock();
    let n = 0;
    const err = await waitUntil({
      what: 'never',
      stallMs: 30_000,
      deadlineMs: 100_000,
      clock,
      check: async () => {
        throw new Error(`answer ${n++}`);
      },
    }).catch((e) => e);
    expect(err.message).toMatch(/still not done after 10\ds/);
  });

  it('reports each change of observation', async () => {
    const clock = fakeClock();
    const seen: string[] = [];
    let n = 0;
    await waitUntil({
      what: 'x',
      stallMs: 60_000,
      deadlineMs: 60_000,
      clock,
      check: async () => {
        n++;
        if (n < 3) throw new Error('busy');
        if (n < 5) throw new Error('almost');
        return true;
      },
      onChange: (o) => seen.push(o),
    });
    expect(seen).toEqual(['busy', 'almost']);
  });
});
