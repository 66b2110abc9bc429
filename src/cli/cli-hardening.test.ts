import { describe, expect, it, vi, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from './main.js';

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await main(['node', 'kprov', ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'kprov-cli-hard-'));
const write = (name: string, text: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const pub = write('op.pub', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop\n');
const inventory = write('ok.ini', `[masters]\nm1 ansible_host=10.0.0.1\n[workers]\nw1 ansible_host=10.0.0.2\n[all:vars]\nsudo_user_public_key=${pub}\n`);

afterEach(() => vi.restoreAllMocks());

describe('audit: --config values (CLI)', () => {
  it('a malformed bootstrapTokens[0].token in --config is exit 2 with file:line, not a stack trace', async () => {
    const config = write('token.yaml', 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nbootstrapTokens:\n  - token: nope\n');
    const r = await run('init', inventory, '--dry-run', '--out', join(dir, 'out-token'), '--config', config);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`error: ${config}:4: InitConfiguration: bootstrapTokens[0].token is not a bootstrap token: expected [a-z0-9]{6}.[a-z0-9]{16}\n`);
  });

  it('a hostile imageRepository in --config is exit 2 and nothing is rendered', async () => {
    const config = write('repo.yaml', 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nimageRepository: "registry.k8s.io --anonymous-auth=true"\n');
    const r = await run('init', inventory, '--dry-run', '--out', join(dir, 'out-repo'), '--config', config);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^error: ${config}:3: ClusterConfiguration: imageRepository`));
    expect(r.err).not.toMatch(/internal error|\n\s+at /);
  });
});
