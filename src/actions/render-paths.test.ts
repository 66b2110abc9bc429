import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadInventory } from '../config/inventory.js';
import { resolveSettings, type Resolved } from '../config/settings.js';
import { renderToDirectory } from './render.js';
import { UserError } from '../errors/index.js';

const repo = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const withHostName = (name: string): Resolved => {
  const r = resolveSettings(loadInventory(repo('inventories/1-master-2-workers.ini')), { offline: true });
  return { ...r, hosts: r.hosts.map((h, i) => (i === 1 ? { ...h, name } : h)) };
};

describe('audit: render never removes anything outside --out DIR', () => {
  for (const name of ['..', '../victim', '.', '', 'cluster', '.kprov-pki', '/tmp']) {
    it(`refuses host name ${JSON.stringify(name)} before touching the file system`, async () => {
      const parent = mkdtempSync(join(tmpdir(), 'kprov-render-safety-'));
      const out = join(parent, 'out');
      mkdirSync(join(out, '.kprov-pki'), { recursive: true });
      mkdirSync(join(out, 'cluster'), { recursive: true });
      writeFileSync(join(parent, 'sentinel'), 'keep');
      mkdirSync(join(parent, 'victim'));
      writeFileSync(join(out, '.kprov-pki', 'ca.key'), 'keep');
      writeFileSync(join(out, 'cluster', 'x.yaml'), 'keep');
      await expect(renderToDirectory(withHostName(name), { out })).rejects.toBeInstanceOf(UserError);
      expect(existsSync(join(parent, 'sentinel'))).toBe(true);
      expect(existsSync(join(parent, 'victim'))).toBe(true);
      expect(existsSync(join(out, '.kprov-pki', 'ca.key'))).toBe(true);
      expect(existsSync(join(out, 'cluster', 'x.yaml'))).toBe(true);
    });
  }

  it('refuses a --pki-dir inside a host directory it would remove', async () => {
    const out = mkdtempSync(join(tmpdir(), 'kprov-render-safety-'));
    mkdirSync(join(out, 'master', 'pki'), { recursive: true });
    writeFileSync(join(out, 'master', 'pki', 'ca.key'), 'keep');
    const r = resolveSettings(loadInventory(repo('inventories/1-master-2-workers.ini')), { offline: true });
    await expect(renderToDirectory(r, { out, pkiDir: join(out, 'master', 'pki') })).rejects.toThrow(/pki/i);
    expect(existsSync(join(out, 'master', 'pki', 'ca.key'))).toBe(true);
  });
});
