import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from './inventory.js';
import { resolveInventory } from './inventory.js';
import { parseIniInventory } from './inventory-ini.js';
import { resolveSettings } from './settings.js';
import { firstInvalidUtf8 } from './read-input.js';
import { UserError, UserErrors } from '../errors/index.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'kprov-input-'));
function errorOf(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserError) return err;
    if (err instanceof UserErrors) return err.errors[0];
    throw err;
  }
  throw new Error('expected a UserError');
}

describe('audit: unreadable input files are user errors naming the file', () => {
  it('an inventory that is a directory', () => {
    const d = fresh();
    const e = errorOf(() => loadInventory(d));
    expect(e.location?.file).toBe(d);
    expect(e.message).toMatch(/directory/);
  });

  it('a FIFO as the inventory is refused before opening (no hang)', () => {
    const fifo = join(fresh(), 'hosts');
    execFileSync('mkfifo', [fifo]);
    const e = errorOf(() => loadInventory(fifo));
    expect(e.toString()).toBe(`${fifo}: inventory: expected a regular file, got a FIFO (named pipe)`);
  });

  it('a binary inventory says "not a text file" and does not dump its bytes', () => {
    const f = join(fresh(), 'hosts');
    writeFileSync(f, Buffer.from([0x5b, 0x6d, 0x5d, 0x0a, 0x00, 0x01, 0xff, 0x41, 0x42, 0x43]));
    const e = errorOf(() => loadInventory(f));
    expect(e.message).toMatch(/not a text file/);
    expect(e.toString()).not.toContain('ABC');
  });

  it('non-UTF-8 bytes are an error with the line of the first bad byte, not U+FFFD', () => {
    const f = join(fresh(), 'hosts');
    const latin1 = Buffer.from([0xe9, 0x74, 0xe9]);
    writeFileSync(f, Buffer.concat([Buffer.from('[masters]\nm1\nm2 note='), latin1, Buffer.from('\n')]));
    const e = errorOf(() => loadInventory(f));
    expect(e.location).toEqual({ file: f, line: 3 });
    expect(e.message).toMatch(/not valid UTF-8/);
    expect(firstInvalidUtf8(Buffer.from('aé\u{1F600}'))).toBe(-1);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xc3]))).toBe(1);
    expect(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBe(0); // a UTF-16 surrogate
  });

  it('a dangling symlink in group_vars names the file', () => {
    const d = fresh();
    writeFileSync(join(d, 'hosts'), '[masters]\nm1\n');
    mkdirSync(join(d, 'group_vars'));
    symlinkSync(join(d, 'nowhere.yml'), join(d, 'group_vars', 'all.yml'));
    const e = errorOf(() => loadInventory(join(d, 'hosts')));
    expect(e.location?.file).toBe(join(d, 'group_vars', 'all.yml'));
    expect(e.message).toMatch(/not found|symbolic link/);
  });

  it('an unreadable host_vars file (a FIFO inside host_vars/NAME/) names the file', () => {
    const d = fresh();
    writeFileSync(join(d, 'hosts'), '[masters]\nm1\n');
    mkdirSync(join(d, 'host_vars', 'm1'), { recursive: true });
    execFileSync('mkfifo', [join(d, 'host_vars', 'm1', 'vars.yml')]);
    const e = errorOf(() => loadInventory(join(d, 'hosts')));
    expect(e.location?.file).toBe(join(d, 'host_vars', 'm1', 'vars.yml'));
  });

  it('sudo_user_public_key pointing at a directory is a user error naming it', () => {
    const d = fresh();
    mkdirSync(join(d, 'keys.pub'));
    const text = `[masters]\nm1 ansible_host=10.0.0.1\n[all:vars]\nsudo_user_public_key=${join(d, 'keys.pub')}\n`;
    const inv = resolveInventory(parseIniInventory(text, 'hosts'));
    const e = errorOf(() => resolveSettings(inv, { home: d }));
    const expected = `^hosts:4: .*expected a regular file, got a directory: ${join(d, 'keys.pub')}`;
    expect(e.toString()).toMatch(new RegExp(expected));
  });
});

describe('audit: deeply nested and cyclic :children', () => {
  const chain = (n: number) => {
    const lines = ['[masters]', 'm1', '[g0]', 'deep'];
    for (let i = 1; i < n; i++) lines.push(`[g${i}:children]`, `g${i - 1}`);
    lines.push('[workers:children]', `g${n - 1}`);
    return lines.join('\n');
  };

  it('5000 levels of :children resolve without a stack overflow', () => {
    const inv = resolveInventory(parseIniInventory(chain(5000), 'hosts'));
    const deep = inv.hosts.find((h) => h.name === 'deep')!;
    expect(deep.role).toBe('worker');
    expect(deep.groups).toContain('g4999');
  });

  it('a cycle is reported with its groups', () => {
    const text = '[a:children]\nb\n[b:children]\nc\n[c:children]\na\n[c]\nh\n';
    const e = errorOf(() => resolveInventory(parseIniInventory(text, 'hosts')));
    expect(e.message).toMatch(/cycle: (a|b|c) -> .* -> \1/);
  });
});
