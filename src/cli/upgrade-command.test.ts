import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run.testing.js';

const dir = mkdtempSync(join(tmpdir(), 'kprov-upgrade-cli-'));
const inventory = join(dir, 'hosts');
const pub = join(dir, 'op.pub');
writeFileSync(pub, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop\n');
writeFileSync(
  inventory,
  '[masters]\nm1 ansible_host=10.0.0.10\n[workers]\nw1 ansible_host=10.0.0.11\n' +
    `[all:vars]\nsudo_user_public_key=${pub}\n`,
);
process.env.KPROV_HOME = join(dir, 'home');

describe('kprov upgrade: refusals before any host is reached (exit 2)', () => {
  it('a version kprov does not support, naming the supported ones', async () => {
    const r = await runCli('upgrade', inventory, '--to', 'v1.32.4');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--to v1\.32\.4 is not supported: kprov supports v1\.35, v1\.36 and v1\.37/);
  });

  it('a malformed --certificate-renewal', async () => {
    const r = await runCli('upgrade', inventory, '--to', 'v1.37.2', '--certificate-renewal', 'maybe');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--certificate-renewal takes true or false/);
  });

  it('a cluster kprov never created', async () => {
    const r = await runCli('upgrade', inventory, '--to', 'v1.37.2');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no cluster state in .*: run kprov init first/);
  });
});
