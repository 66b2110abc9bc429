import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadInventory } from '../config/inventory.js';
import { resolveSettings } from '../config/settings.js';
import { labInventoryPath } from '../config/state-dir.js';
import { clusterStateDir } from './init.js';
import { planFromInventory } from './render.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9rZXkgZm9yIHRlc3RzIG9ubHkgMDEyMzQ1Njc4OQ test';
const inventory = (masterIp: string) => `all:
  vars: { ansible_user: root, sudo_user_public_key: '${KEY}' }
  children:
    masters: { hosts: { master1: { ansible_host: ${masterIp} } } }
    workers: { hosts: { worker1: { ansible_host: 10.0.0.11 } } }
`;

// ECDSA keys: the same checks as RSA, generated in milliseconds.
const ECDSA = 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nencryptionAlgorithm: ECDSA-P256\n';

/** init's PKI for the inventory at `file`, then the same file with the master at another address, as a new lab has. */
async function mismatch(file: string, pkiDir?: (state: string) => string): Promise<{ message: string; state: string }> {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, inventory('10.0.0.10'));
  const config = join(dirname(file), 'kubeadm.yaml');
  writeFileSync(config, ECDSA);
  const first = resolveSettings(loadInventory(file), { offline: true });
  const state = clusterStateDir(first);
  const pki = pkiDir ? pkiDir(state) : join(state, 'pki');
  await planFromInventory(first, pki, config);
  writeFileSync(file, inventory('10.0.0.20'));
  const moved = resolveSettings(loadInventory(file), { offline: true });
  const err = await planFromInventory(moved, pki, config).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err?.message).toMatch(/^existing PKI in .* does not match the configuration:\n/);
  return { message: err?.message ?? '', state };
}

describe('init refusing saved PKI that does not match ends with one command to start over', () => {
  let home: string;
  const saved = process.env.KPROV_HOME;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'kprov-pkimsg-'));
    process.env.KPROV_HOME = home;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.KPROV_HOME;
    else process.env.KPROV_HOME = saved;
    rmSync(home, { recursive: true, force: true });
  });

  it('an inventory of real machines: remove the cluster state dir', async () => {
    const { message, state } = await mismatch(join(home, 'site', 'hosts.yaml'));
    expect(message.split('\n').slice(-2)).toEqual([
      'To keep a running cluster, act on the lines above; if the cluster this PKI was made for no longer exists,' +
        ' remove its saved state and run again:',
      `  rm -rf ${state}`,
    ]);
  });

  it('a lab inventory: lab down (which removes the state) and up again with the same hosts', async () => {
    const { message } = await mismatch(labInventoryPath('lab'));
    expect(message.split('\n').slice(-2)).toEqual([
      'This is lab "lab"\'s inventory; to start the lab over (lab down also removes its saved cluster state):',
      '  kprov lab down --name lab && kprov lab up --name lab --masters 1 --workers 1',
    ]);
  });

  it('a PKI directory given with --pki-dir: remove that directory', async () => {
    const { message } = await mismatch(join(home, 'site', 'hosts.yaml'), () => join(home, 'my pki'));
    expect(message.split('\n').slice(-1)).toEqual([`  rm -rf '${join(home, 'my pki')}'`]);
  });
});
