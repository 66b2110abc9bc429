import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadInventory } from '../config/inventory.js';
import { resolveSettings } from '../config/settings.js';
import { renderToDirectory } from './render.js';

/**
 * A dry-run render as comparable text: keys, tokens and certificate bytes are new on every render, so they are
 * replaced by what does not change (a certificate by its subject, issuer, SANs, usages, key type and lifetime; a key
 * or token by a placeholder). Everything else stays as written.
 */
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

/** Every file a render wrote, by path below DIR: its mode and normalized content. */
function renderedFiles(out: string): Map<string, { mode: string; content: string }> {
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
  return new Map(
    files.map((f) => [
      relative(out, f),
      { mode: (statSync(f).mode & 0o777).toString(8), content: normalize(readFileSync(f, 'utf8')) },
    ]),
  );
}

/** One text of every file, for a golden copy. */
export function snapshotText(files: Map<string, { mode: string; content: string }>): string {
  return [...files].map(([path, f]) => `=== ${path} (${f.mode})\n${f.content}`).join('\n');
}

/**
 * `kprov init --dry-run --out` of an inventory (and --config file), every file normalized: random material out, the
 * rest as written.
 */
export async function renderNormalized(
  inventory: string,
  configFile?: string,
): Promise<Map<string, { mode: string; content: string }>> {
  const out = mkdtempSync(join(tmpdir(), 'kprov-golden-'));
  try {
    await renderToDirectory(resolveSettings(loadInventory(inventory), { offline: true }), { out, configFile });
    return renderedFiles(out);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
