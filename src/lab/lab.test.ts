import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadInventory } from '../config/inventory.js';
import { resolveSettings } from '../config/settings.js';
import { clusterStateDir } from '../actions/init.js';
import { labInventory, labInventoryPath, removeLabClusterState, type Lab } from './lab.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9rZXkgZm9yIHRlc3RzIG9ubHkgMDEyMzQ1Njc4OQ test';

describe('lab down: the cluster state kprov init saved for the lab inventory goes with the lab', () => {
  let home: string;
  const saved = process.env.KPROV_HOME;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'kprov-labstate-'));
    process.env.KPROV_HOME = home;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.KPROV_HOME;
    else process.env.KPROV_HOME = saved;
    rmSync(home, { recursive: true, force: true });
  });

  /** A lab's inventory written where lab up writes it, and the state dir kprov init would use for it. */
  function labWithInitState(name: string, clusterName?: string): string {
    const dir = join(home, 'labs', name);
    mkdirSync(dir, { recursive: true });
    const lab: Lab = {
      name,
      dir,
      inventory: labInventoryPath(name),
      network: `kprov-${name}`,
      privateKey: join(dir, 'id_ed25519'),
      knownHosts: join(dir, 'known_hosts'),
      nodes: [{ name: 'master1', role: 'master', container: `kprov-${name}-master1`, ip: '172.30.0.2' }],
    };
    writeFileSync(`${lab.privateKey}.pub`, `${KEY}\n`);
    const extra = clusterName ? `    cluster_name: ${clusterName}\n` : '';
    writeFileSync(lab.inventory, labInventory(lab).replace('  vars:\n', `  vars:\n${extra}`));
    // The directory kprov init would use for this inventory, computed as init computes it.
    const state = clusterStateDir(resolveSettings(loadInventory(lab.inventory), { offline: true }));
    mkdirSync(join(state, 'pki'), { recursive: true });
    writeFileSync(join(state, 'pki', 'ca.crt'), 'old lab CA\n');
    writeFileSync(join(state, 'admin.conf'), 'old lab admin\n');
    return state;
  }

  it('removes the state dir kprov init uses for the lab inventory, and nothing else', () => {
    const mine = labWithInitState('lab');
    const renamed = labWithInitState('lab', 'other-name');
    const otherLab = labWithInitState('lab2');
    const realCluster = join(home, 'clusters', 'kubernetes-0123abcd');
    mkdirSync(realCluster, { recursive: true });

    expect(removeLabClusterState('lab').sort()).toEqual([mine, renamed].sort());
    expect(existsSync(mine)).toBe(false);
    expect(existsSync(renamed)).toBe(false);
    expect(existsSync(otherLab)).toBe(true);
    expect(existsSync(realCluster)).toBe(true);
    expect(readdirSync(join(home, 'clusters')).sort()).toEqual([otherLab, realCluster].map((d) => basename(d)).sort());
  });

  it('is a no-op without any saved state', () => {
    expect(removeLabClusterState('lab')).toEqual([]);
  });
});
