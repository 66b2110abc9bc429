import { describe, expect, it, vi } from 'vitest';

// Tests run as root, so a chmod 000 file is still readable: simulate the permission error instead.
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readFileSync = ((path: unknown, ...rest: unknown[]) => {
    if (String(path).endsWith('locked-inventory.ini')) {
      throw Object.assign(new Error(`EACCES: permission denied, open '${String(path)}'`), { code: 'EACCES' });
    }
    return (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.readFileSync;
  return { ...fs, readFileSync, default: { ...fs, readFileSync } };
});

const { mkdtempSync, writeFileSync } = await import('node:fs');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const { loadInventory } = await import('./inventory.js');
const { UserError } = await import('../errors/index.js');

describe('audit: an unreadable inventory (EACCES) is a user error, not an internal error', () => {
  it('names the file and says permission denied', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kprov-eacces-')), 'locked-inventory.ini');
    writeFileSync(file, '[masters]\nm1\n');
    let err: unknown;
    try {
      loadInventory(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect(String(err)).toBe(`${file}: inventory: permission denied`);
  });
});
