import { describe, expect, it, vi, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { runCli } from './run.testing.js';

const run = runCli;

const dir = mkdtempSync(join(tmpdir(), 'kprov-cli-'));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const pub = write(
  'op.pub',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop\n',
);

afterEach(() => vi.restoreAllMocks());

describe('kprov CLI', () => {
  it('prints help and version with exit 0', async () => {
    expect((await run('--version')).code).toBe(0);
    const help = await run('prepare', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('--dry-run');
  });

  it('exits 2 on usage errors', async () => {
    expect((await run('bogus')).code).toBe(2);
    expect((await run('prepare')).code).toBe(2);
    expect((await run('prepare', 'x', '--concurrency', '0')).code).toBe(2);
  });

  it('exits 2 with file and line and no stack trace for a bad inventory', async () => {
    const inv = write('bad.ini', `[masters]\nm1 ansible_port=abc\n[all:vars]\nsudo_user_public_key=${pub}\n`);
    const r = await run('inventory', inv);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`error: ${inv}:2: ansible_port of host "m1" must be a port number 1-65535, got "abc"\n`);
  });

  it('prints the resolved inventory with secrets redacted', async () => {
    const inv = write(
      'ok.ini',
      `[masters]\nm1 ansible_host=10.0.0.1 ansible_become_password=hunter22\n[all:vars]\nsudo_user_public_key=${pub}\n`,
    );
    const r = await run('inventory', inv, '--json');
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('hunter22');
    const view = JSON.parse(r.out);
    expect(view.hosts[0]).toMatchObject({
      name: 'm1',
      role: 'control-plane',
      address: '10.0.0.1',
      vars: { ansible_become_password: '<redacted>' },
    });
  });

  it('reports an unreachable host per host and exits 1', async () => {
    const key = join(dir, 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const inv = write(
      'down.ini',
      `[masters]\nm1 ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_private_key_file=${key}\n` +
        `[all:vars]\nsudo_user_public_key=${pub}\n`,
    );
    const r = await run('prepare', inv, '--log-file', join(dir, 'run.log'));
    expect(r.code).toBe(1);
    expect(r.out).toContain('✖ m1: FAILED');
    expect(r.out).toMatch(
      /m1: \[connect\] cannot connect to root@127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1 \(3 attempts\)/,
    );
    expect(r.err).toContain('1 of 1 hosts failed: m1');
  });

  it('says which key cannot be used and why', async () => {
    const key = write('not-a-key', 'hello\n');
    const inv = write(
      'badkey.ini',
      `[masters]\nm1 ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_private_key_file=${key}\n` +
        `[all:vars]\nsudo_user_public_key=${pub}\n`,
    );
    const r = await run('prepare', inv, '--log-file', join(dir, 'run2.log'));
    expect(r.code).toBe(1);
    expect(r.out).toContain(`m1: [connect] cannot use private key ${key}: Unsupported key format`);
  });
});
