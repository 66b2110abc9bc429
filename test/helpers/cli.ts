import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const KPROV_BIN = fileURLToPath(new URL('../../bin/kprov.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run the built kprov CLI as a user would (a child process), with its own KPROV_HOME. */
export function kprov(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KPROV_BIN, ...args], {
      env: { ...process.env, CI: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
  });
}
