import { vi } from 'vitest';
import { main } from './main.js';

/** Run the kprov CLI in this process (no built dist/ needed), capturing what it prints and its exit code. */
export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  try {
    return { code: await main(['node', 'kprov', ...args]), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
