import { realClock, type Clock } from './wait.js';

/**
 * Retrying what fails for a moment: a busy etcd answering "request timed out", an API server restarting, a
 * tunnel that could not be opened. One deadline bounds all attempts; the pause doubles up to a ceiling.
 */
export interface RetryOptions {
  /** Give up (rethrowing the last error) when the next attempt would start after this long. */
  deadlineMs: number;
  /** Whether an error is worth another attempt; anything else is thrown at once. */
  isTransient: (err: unknown) => boolean;
  baseMs?: number;
  maxMs?: number;
  /** Told about each failed attempt that will be retried. */
  onRetry?: (err: unknown, attempt: number, pauseMs: number) => void;
  clock?: Clock;
}

export async function retryTransient<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const clock = opts.clock ?? realClock;
  const started = clock.now();
  let pause = opts.baseMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const elapsed = clock.now() - started;
      if (!opts.isTransient(err) || elapsed + pause > opts.deadlineMs) throw err;
      opts.onRetry?.(err, attempt, pause);
      await clock.sleep(pause);
      pause = Math.min(pause * 2, opts.maxMs ?? 8000);
    }
  }
}

/** The messages of the network-level failures below: one alternative of the pattern per line. */
const TRANSIENT_NETWORK_MESSAGE = new RegExp(
  [
    'socket hang up',
    'no answer in',
    'connection closed before an answer',
    'cannot open tunnel',
    'Channel open failure',
    'connection lost',
    'ECONNRESET',
    'other side closed',
    'TLS connection was established',
  ].join('|'),
  'i',
);

/** Network-level failures that a new connection may not have: resets, refusals, timeouts, a closed tunnel. */
export function isTransientNetworkError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (
    e?.code &&
    ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(e.code)
  ) {
    return true;
  }
  return TRANSIENT_NETWORK_MESSAGE.test(e?.message ?? '');
}

/** HTTP statuses that mean "try again": throttled, unavailable, gateway timeouts. */
export const TRANSIENT_HTTP = new Set([429, 502, 503, 504]);

/** etcd's answers while a member catches up or a leader is elected (also wrapped in the API server's 500s). */
export const TRANSIENT_ETCD = new RegExp(
  [
    'request timed out',
    'leader changed',
    'no leader',
    'unhealthy cluster',
    'too many requests',
    'timed out waiting for read index',
    'raft proposal dropped',
    'etcdserver: (server stopped|request cancelled)',
  ].join('|'),
  'i',
);
