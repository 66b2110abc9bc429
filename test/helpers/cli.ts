import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const KPROV_BIN = fileURLToPath(new URL('../../bin/kprov.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Kill the process (SIGKILL) after this many ms; its code is then -1. */
  timeout?: number;
  /** Pass the child's stderr through (long builds show their progress) instead of collecting it. */
  inheritStderr?: boolean;
}

/**
 * Run a program without blocking the test's event loop. Tests must not use execFileSync/spawnSync for anything that
 * can take long: Vitest's worker answers its runner over RPC with a 60 s timeout, and a worker blocked longer than
 * that fails the whole run ("Timeout calling onTaskUpdate") even when every test passed.
 */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', options.inheritStderr ? 'inherit' : 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    const timer = options.timeout ? setTimeout(() => child.kill('SIGKILL'), options.timeout) : undefined;
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Like run, but a non-zero exit throws with the command and its stderr; resolves to stdout. */
export async function runOk(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  const r = await run(command, args, options);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Run the built kprov CLI as a user would (a child process), with its own KPROV_HOME. */
export function kprov(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return run(process.execPath, [KPROV_BIN, ...args], { env: { ...process.env, CI: 'true', ...env } });
}

/**
 * The longest a test may block on a synchronous child process (execFileSync, spawnSync), under Vitest's 60 s RPC
 * timeout; anything that can take longer goes through run.
 */
export const SYNC_TIMEOUT_MS = 50_000;
