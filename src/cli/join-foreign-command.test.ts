import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run.testing.js';

// `kprov join` to a cluster kprov did not create: every mistake is a usage error (exit 2) found before any host is
// reached, and the token is never printed back.
const dir = mkdtempSync(join(tmpdir(), 'kprov-foreign-cli-'));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const pub = write(
  'op.pub',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop\n',
);
const TOKEN = 'abcdef.0123456789abcdef';
const HASH = `sha256:${'ab'.repeat(32)}`;
const workers = write('workers.ini', `[workers]\nw1 ansible_host=10.0.0.11\n[all:vars]\nsudo_user_public_key=${pub}\n`);
const flags = ['--token', TOKEN, '--discovery-token-ca-cert-hash', HASH, '--endpoint', '10.0.0.10:6443'];

afterEach(() => vi.restoreAllMocks());

describe('kprov join to a cluster kprov did not create', () => {
  it('lists the discovery flags, not the unsafe one', async () => {
    const r = await runCli('join', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('--token <token>');
    expect(r.out).toContain('--discovery-token-ca-cert-hash <sha256:hex>');
    expect(r.out).toContain('--endpoint <host:port>');
    expect(r.out).not.toContain('unsafe');
  });

  it('refuses a malformed token without printing it, and a partial set of values', async () => {
    const bad = 'ABCDEF.0123456789ABCDEF';
    const r = await runCli(
      'join',
      workers,
      '--token',
      bad,
      '--discovery-token-ca-cert-hash',
      HASH,
      '--endpoint',
      'x:1',
    );
    expect(r.code).toBe(2);
    expect(r.err).toBe('error: --token is not a bootstrap token: expected [a-z0-9]{6}.[a-z0-9]{16}\n');
    expect(r.err + r.out).not.toContain(bad);
    const partial = await runCli('join', workers, '--token', TOKEN);
    expect(partial.code).toBe(2);
    expect(partial.err).toMatch(/missing: --discovery-token-ca-cert-hash or discovery_token_ca_cert_hash, --endpoint/);
    expect(partial.err).not.toContain(TOKEN);
  });

  it('refuses to skip CA verification', async () => {
    const r = await runCli('join', workers, ...flags, '--discovery-token-unsafe-skip-ca-verification');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error: --discovery-token-unsafe-skip-ca-verification is not supported: kprov joins only/);
  });

  it("refuses kprov's own-cluster flags and control-plane hosts", async () => {
    const cfg = write('kubeadm.yaml', 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n');
    const withConfig = await runCli('join', workers, ...flags, '--config', cfg);
    expect(withConfig.code).toBe(2);
    expect(withConfig.err).toMatch(/^error: --config: for clusters kprov creates/);
    const mixed = write(
      'mixed.ini',
      '[masters]\nm1 ansible_host=10.0.0.10\n[workers]\nw1 ansible_host=10.0.0.11\n' +
        `[all:vars]\nsudo_user_public_key=${pub}\n`,
    );
    const r = await runCli('join', mixed, ...flags);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `error: ${mixed}:2: joining with a bootstrap token adds workers only, but "m1" is in the control-plane ` +
        'group: list only the workers to join (an empty or absent [masters] group is fine), ' +
        'or pick them with --hosts\n',
    );
  });

  it('keeps other commands away from an inventory that joins a cluster kprov did not create', async () => {
    const inv = write(
      'foreign.ini',
      `[workers]\nw1 ansible_host=10.0.0.11\n[all:vars]\nsudo_user_public_key=${pub}\njoin_token=${TOKEN}\n` +
        `discovery_token_ca_cert_hash=${HASH}\njoin_endpoint=10.0.0.10:6443\n`,
    );
    const init = await runCli('init', inv);
    expect(init.code).toBe(2);
    expect(init.err).toBe(
      `error: ${inv}:5: the inventory sets join_token, discovery_token_ca_cert_hash, join_endpoint: it joins ` +
        'workers to a cluster kprov did not create, which is kprov join (and kprov prepare); this command works on ' +
        'clusters kprov created\n',
    );
    expect((await runCli('status', inv)).code).toBe(2);
    // The inventory view works, and shows neither the token var nor the token.
    const view = await runCli('inventory', inv, '--json');
    expect(view.code).toBe(0);
    expect(view.out).not.toContain('0123456789abcdef');
    const cluster = JSON.parse(view.out).cluster;
    expect(cluster.foreignJoin).toMatchObject({
      token: '<redacted>',
      endpoint: '10.0.0.10:6443',
      caCertHashes: [HASH],
    });
  });
});
