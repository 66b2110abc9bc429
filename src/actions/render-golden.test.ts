import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadInventory } from '../config/inventory.js';
import { resolveSettings } from '../config/settings.js';
import { labInventory, type Lab } from '../lab/lab.js';
import { renderToDirectory } from './render.js';

/**
 * Every file `kprov init --dry-run --out` writes for the IPv4 inventories kprov has always taken, compared with a
 * golden copy made before dual-stack existed (test/fixtures/render-golden). Dual-stack is opt-in: an inventory without
 * it must render byte for byte what it rendered before. Keys, tokens and certificate bytes are new on every render,
 * so they are replaced by what does not change: a certificate by its subject, issuer, SANs, usages and lifetime, a key
 * or token by a placeholder. Everything else is compared as it is written.
 */
const repo = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const golden = (name: string) => repo(`test/fixtures/render-golden/${name}.txt`);

function describeCert(pem: string): string {
  const c = new X509Certificate(pem);
  const lifetimeHours = Math.round((Date.parse(c.validTo) - Date.parse(c.validFrom)) / 3600_000);
  return [
    `<certificate subject=${JSON.stringify(c.subject.split('\n').join(', '))}`,
    `issuer=${JSON.stringify(c.issuer.split('\n').join(', '))}`,
    `sans=${JSON.stringify(c.subjectAltName ?? '')}`,
    `ca=${c.ca}`,
    `usages=${JSON.stringify(c.keyUsage ?? [])}`,
    `key=${c.publicKey.asymmetricKeyType}`,
    `lifetime=${lifetimeHours}h>`,
  ].join(' ');
}

const PEM = /-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----\n?/g;
const pemText = (text: string) =>
  text.replace(PEM, (block, kind: string) => (kind === 'CERTIFICATE' ? describeCert(block) : `<${kind}>`) + '\n');

/** Random material out, the rest as written. */
function normalize(text: string): string {
  return pemText(text)
    .replace(/(certificate-authority-data|client-certificate-data|client-key-data): (\S+)/g, (_m, key, b64) => {
      const decoded = Buffer.from(b64, 'base64').toString('utf8');
      return `${key}: ${decoded.includes('CERTIFICATE') ? describeCert(decoded) : '<key>'}`;
    })
    .replace(/jws-kubeconfig-[a-z0-9]{6}: \S+/g, 'jws-kubeconfig-<id>: <jws>')
    .replace(/bootstrap-token-[a-z0-9]{6}\b/g, 'bootstrap-token-<id>')
    .replace(/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g, '<token>')
    .replace(/(token-id|token-secret): [a-z0-9]+/g, '$1: <random>')
    .replace(/expiration: \S+/g, 'expiration: <time>')
    .replace(/sha256:[0-9a-f]{64}/g, (hash) => (text.includes(`component-config.hash: ${hash}`) ? hash : '<ca-hash>'))
    .replace(/--certificate-key [0-9a-f]{64}/g, '--certificate-key <key>')
    .replace(/^( +[a-z0-9.-]+\.(?:crt|key|pub)): [A-Za-z0-9+/=]{40,}$/gm, '$1: <encrypted>');
}

function snapshot(out: string): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '.kprov-pki') walk(path);
      } else files.push(path);
    }
  };
  walk(out);
  return files
    .map((f) => {
      const mode = (statSync(f).mode & 0o777).toString(8);
      return `=== ${relative(out, f)} (${mode})\n${normalize(readFileSync(f, 'utf8'))}`;
    })
    .join('\n');
}

async function renderSnapshot(inventory: string, configFile?: string): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'kprov-golden-'));
  try {
    await renderToDirectory(resolveSettings(loadInventory(inventory), { offline: true }), { out, configFile });
    return snapshot(out);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** A temporary copy of an inventory with more lines: variants of the shipped examples. */
function variant(source: string, extra: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kprov-golden-inv-'));
  const file = join(dir, 'hosts');
  writeFileSync(file, readFileSync(repo(source), 'utf8') + extra);
  return file;
}

/** The inventory kprov lab up writes for 1 master + 2 workers, at fixed addresses. */
function labFixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kprov-golden-lab-'));
  const node = (name: string, role: 'master' | 'worker', ip: string) => ({
    name,
    role,
    container: `kprov-lab-${name}`,
    ip,
  });
  const lab: Lab = {
    name: 'lab',
    dir,
    inventory: join(dir, 'inventory.yaml'),
    privateKey: join(dir, 'id_ed25519'),
    knownHosts: join(dir, 'known_hosts'),
    network: 'kprov-lab',
    nodes: [node('master1', 'master', '172.30.0.2'), node('worker1', 'worker', '172.30.0.3')],
  };
  writeFileSync(lab.inventory, labInventory(lab));
  return lab.inventory;
}

describe('IPv4 inventories render byte for byte what they rendered before dual-stack', () => {
  const cases: [string, () => Promise<string>][] = [
    ['1-master-2-workers', () => renderSnapshot(repo('inventories/1-master-2-workers.ini'))],
    ['3-masters-2-workers', () => renderSnapshot(repo('inventories/3-masters-2-workers.yaml'))],
    [
      'kubeadm-config-file',
      () => renderSnapshot(repo('inventories/1-master-2-workers.ini'), repo('test/fixtures/kubeadm/config.yaml')),
    ],
    [
      'v1.35-custom-cidrs',
      () =>
        renderSnapshot(
          variant(
            'inventories/1-master-2-workers.ini',
            'kubernetes_version=v1.35.4\npod_network_cidr=10.32.0.0/12\nservice_cidr=172.20.0.0/16\n',
          ),
        ),
    ],
    ['lab', () => renderSnapshot(labFixture())],
  ];
  for (const [name, render] of cases) {
    it(name, async () => {
      await expect(await render()).toMatchFileSnapshot(golden(name));
    });
  }

  it('the lab inventory itself is unchanged', async () => {
    const file = labFixture();
    const inventory = readFileSync(file, 'utf8').replaceAll(dirname(file), '<lab dir>');
    await expect(inventory).toMatchFileSnapshot(golden('lab-inventory'));
  });
});
