/**
 * Waiting on remote hosts without fixed wall-clock limits: a wait lasts while the thing waited on makes
 * progress (its answer or the host's observable state changes) and fails only when nothing has changed for
 * `stallMs`, or when the overall `deadlineMs` has passed. A failed wait says what the host was stuck on.
 */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = { now: () => Date.now(), sleep };

export interface WaitSpec<T> {
  /** What is awaited, for messages: "node worker1 to register". */
  what: string;
  /** The value when done; undefined (or a thrown error, whose message is kept as the last answer) when not yet. */
  check: () => Promise<T | undefined>;
  /**
   * What the host is doing now (kubelet state, a journal tail): a change counts as progress and ends up in the
   * error.
   */
  probe?: () => Promise<string>;
  /** Fail when neither the check's answer nor the probe has changed for this long. */
  stallMs: number;
  /** Fail after this long in all, progress or not. */
  deadlineMs: number;
  /** Pause between checks. */
  everyMs?: number;
  /** Least time between two probes (a probe is a remote command). */
  probeEveryMs?: number;
  /** Called when the check's answer or the probe's output changes (for the run log). */
  onChange?: (observation: string, elapsedMs: number) => void;
  clock?: Clock;
}

/** A wait that ran out: carries the last answer and what the host was doing, for the operator. */
export class WaitTimeout extends Error {
  constructor(
    message: string,
    readonly lastAnswer: string,
    readonly stuckOn: string,
  ) {
    super(message);
    this.name = 'WaitTimeout';
  }
}

const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;

export async function waitUntil<T>(spec: WaitSpec<T>): Promise<T> {
  const clock = spec.clock ?? realClock;
  const everyMs = spec.everyMs ?? 2000;
  const probeEveryMs = spec.probeEveryMs ?? 5000;
  const started = clock.now();
  let lastChange = started;
  let answer = '';
  let probed = '';
  let probedAt = -Infinity;
  for (;;) {
    let observed = answer;
    try {
      const value = await spec.check();
      if (value !== undefined) return value;
      observed = 'not yet';
    } catch (err) {
      observed = (err as Error).message;
    }
    let state = probed;
    if (spec.probe && clock.now() - probedAt >= probeEveryMs) {
      probedAt = clock.now();
      state = await spec.probe().catch((err: Error) => `(cannot inspect the host: ${err.message})`);
    }
    const now = clock.now();
    if (observed !== answer || state !== probed) {
      lastChange = now;
      spec.onChange?.(state && state !== probed ? `${observed} | ${state}` : observed, now - started);
      answer = observed;
      probed = state;
    }
    const stalled = now - lastChange >= spec.stallMs;
    const overdue = now - started >= spec.deadlineMs;
    if (stalled || overdue) {
      const why = overdue
        ? `still not done after ${seconds(now - started)}`
        : `no progress for ${seconds(now - lastChange)} (${seconds(now - started)} in all)`;
      const parts = [`timed out waiting for ${spec.what}: ${why}`];
      if (answer && answer !== 'not yet') parts.push(`last answer: ${answer}`);
      if (probed) parts.push(`stuck on: ${probed}`);
      throw new WaitTimeout(parts.join('; '), answer, probed);
    }
    await clock.sleep(everyMs);
  }
}
