import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labInventory, type Lab } from '../lab/lab.js';
import { renderNormalized, snapshotText } from './render-snapshot.testing.js';

/**
 * Every file `kprov init --dry-run --out` writes for the IPv4 inventories kprov has always taken, compared with a
 * golden copy made before dual-stack existed (test/fixtures/render-golden). Dual-stack is opt-in: an inventory without
 * it must render byte for byte what it rendered before (random keys, tokens and certificate bytes aside: see
 * render-snapshot.testing.ts).
 */
const renderSnapshot = async (inventory: string, configFile?: string) =>
  snapshotText(await renderNormalized(inventory, configFile));
const repo = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const golden = (name: string) => repo(`test/fixtures/render-golden/${name}.txt`);

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
