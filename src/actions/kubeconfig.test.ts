import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runCli } from '../cli/run.testing.js';
import { loadInventory } from '../config/inventory.js';
import { resolveSettings } from '../config/settings.js';
import { statePkiDir } from '../config/state-dir.js';
import { clusterStateDir } from './init.js';
import { parseDuration } from './kubeconfig.js';
import { renderToDirectory } from './render.js';

// A cluster's saved state as init leaves it (PKI in the state directory), made by the dry-run renderer.
const home = mkdtempSync(join(tmpdir(), 'kprov-kubeconfig-'));
const inventory = join(home, 'hosts');
writeFileSync(
  inventory,
  '[masters]\nm1 ansible_host=10.0.0.10\n[workers]\nw1 ansible_host=10.0.0.11\n[all:vars]\n' +
    'control_plane_endpoint=k8s.example.com:6443\nsudo_user_public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9v x"\n',
);
const before = process.env.KPROV_HOME;
let caPem = '';
beforeAll(async () => {
  process.env.KPROV_HOME = home;
  const resolved = resolveSettings(loadInventory(inventory), { offline: true });
  const pkiDir = statePkiDir(clusterStateDir(resolved));
  await renderToDirectory(resolved, { out: join(home, 'out'), pkiDir });
  writeFileSync(join(clusterStateDir(resolved), 'admin.conf'), 'saved admin kubeconfig\n');
  caPem = readFileSync(join(pkiDir, 'ca.crt'), 'utf8');
});
afterAll(() => {
  process.env.KPROV_HOME = before;
});

const openssl = (input: string, ...args: string[]) => execFileSync('openssl', args, { input, encoding: 'utf8' });

describe('kprov kubeconfig', () => {
  it('gives a user a client certificate from the cluster CA, with its groups, for the endpoint', async () => {
    const out = join(home, 'alice.conf');
    const r = await runCli(
      'kubeconfig',
      inventory,
      '--user',
      'alice',
      '--group',
      'dev',
      '--group',
      'ops',
      '--out',
      out,
    );
    expect(r.code, r.err).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const k = parse(readFileSync(out, 'utf8'));
    expect(k.clusters[0].cluster.server).toBe('https://k8s.example.com:6443');
    expect(k['current-context']).toBe('alice@kubernetes');
    const cert = Buffer.from(k.users[0].user['client-certificate-data'], 'base64').toString();
    expect(openssl(cert, 'x509', '-noout', '-subject')).toMatch(/O ?= ?dev, O ?= ?ops, CN ?= ?alice/);
    const ca = join(home, 'ca.crt');
    writeFileSync(ca, caPem);
    const leaf = join(home, 'alice.crt');
    writeFileSync(leaf, cert);
    expect(execFileSync('openssl', ['verify', '-CAfile', ca, leaf], { encoding: 'utf8' }).trim()).toBe(`${leaf}: OK`);
    // kubectl reads it.
    const view = execFileSync('kubectl', ['--kubeconfig', out, 'config', 'view', '-o', 'jsonpath={.users[0].name}']);
    expect(String(view)).toBe('alice');
  });

  it('honours --ttl', async () => {
    const r = await runCli('kubeconfig', inventory, '--user', 'bob', '--ttl', '2h');
    const cert = Buffer.from(parse(r.out).users[0].user['client-certificate-data'], 'base64').toString();
    const end = Date.parse(openssl(cert, 'x509', '-noout', '-enddate').trim().split('=')[1]);
    expect(end - Date.now()).toBeGreaterThan(110 * 60_000);
    expect(end - Date.now()).toBeLessThanOrEqual(2 * 3_600_000);
  });

  it('prints the saved admin kubeconfig without --user', async () => {
    expect((await runCli('kubeconfig', inventory)).out).toBe('saved admin kubeconfig\n');
  });

  it('refuses bad names and durations with exit 2', async () => {
    expect((await runCli('kubeconfig', inventory, '--user', 'a\nb')).code).toBe(2);
    expect((await runCli('kubeconfig', inventory, '--group', 'dev')).code).toBe(2);
    expect((await runCli('kubeconfig', inventory, '--user', 'a', '--ttl', '1y')).code).toBe(2);
    expect(parseDuration('8760h')).toBe(8760 * 3_600_000);
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
  });
});
