/**
 * Typed errors. A UserError is a mistake in input (exit 2, no stack trace);
 * a HostError is a step that failed on one host (exit 1) and carries what is needed to act on it.
 */

export const EXIT_OK = 0;
export const EXIT_STEP_FAILED = 1;
export const EXIT_USAGE = 2;

export interface SourceLocation {
  file: string;
  line?: number;
}

export function formatLocation(loc: SourceLocation | undefined): string {
  if (!loc) return '';
  return loc.line ? `${loc.file}:${loc.line}` : loc.file;
}

/** A mistake in what the user gave us: inventory, flags, config files. */
export class UserError extends Error {
  readonly location?: SourceLocation;
  constructor(message: string, location?: SourceLocation, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UserError';
    this.location = location;
  }
  override toString(): string {
    const where = formatLocation(this.location);
    return where ? `${where}: ${this.message}` : this.message;
  }
}

/** Several user errors found at once, so the user can fix them all in one go. */
export class UserErrors extends Error {
  readonly errors: UserError[];
  constructor(errors: UserError[]) {
    super(errors.map((e) => e.toString()).join('\n'));
    this.name = 'UserErrors';
    this.errors = errors;
  }
}

export interface RemoteFailure {
  host: string;
  command: string;
  exitCode: number | null;
  stderrTail: string;
}

/** Something went wrong on a host: connecting, running a command, or checking a result. */
export class HostError extends Error {
  readonly host: string;
  readonly step?: string;
  readonly command?: string;
  readonly exitCode?: number | null;
  readonly stderrTail?: string;
  constructor(
    host: string,
    message: string,
    details: { step?: string; command?: string; exitCode?: number | null; stderrTail?: string } = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'HostError';
    this.host = host;
    Object.assign(this, details);
  }
  override toString(): string {
    const parts = [`${this.host}: ${this.step ? `[${this.step}] ` : ''}${this.message}`];
    if (this.command) parts.push(`  command: ${this.command}`);
    if (this.exitCode !== undefined) parts.push(`  exit code: ${this.exitCode}`);
    if (this.stderrTail) parts.push(`  stderr: ${this.stderrTail.trim().split('\n').join('\n          ')}`);
    return parts.join('\n');
  }
}

/** The run was stopped by SIGINT (exit 130) or SIGTERM (exit 143); the message says what was left half-done. */
export class InterruptedError extends Error {
  readonly exitCode: number;
  constructor(
    readonly signal: 'SIGINT' | 'SIGTERM',
    message: string,
  ) {
    super(message);
    this.name = 'InterruptedError';
    this.exitCode = signal === 'SIGINT' ? 130 : 143;
  }
}

/** Keep the last lines of a command's error output: enough to diagnose, not a wall of text. */
export function tail(text: string, lines = 8): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/** Message for the terminal: user-facing errors without stack traces, anything else with one. */
export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof UserErrors) {
    return {
      message: `${err.errors.length} errors:\n${err.errors.map((e) => `error: ${e.toString()}`).join('\n')}`,
      exitCode: EXIT_USAGE,
    };
  }
  if (err instanceof UserError) {
    return { message: `error: ${err.toString()}`, exitCode: EXIT_USAGE };
  }
  if (err instanceof HostError) {
    return { message: `error: ${err.toString()}`, exitCode: EXIT_STEP_FAILED };
  }
  if (err instanceof InterruptedError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof PreflightFailed) return { message: `error: ${err.message}`, exitCode: EXIT_STEP_FAILED };
  const e = err as Error;
  return { message: `internal error: ${e?.stack ?? String(err)}`, exitCode: EXIT_STEP_FAILED };
}

/** A check before a run found the cluster unfit for it; nothing was changed (exit 1, with the reasons). */
export class PreflightFailed extends Error {
  constructor(
    readonly problems: string[],
    what = 'upgrade preflight',
  ) {
    super(`${what} failed (nothing was changed):\n  ${problems.join('\n  ')}`);
    this.name = 'PreflightFailed';
  }
}
