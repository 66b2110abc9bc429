import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';

/** Where kprov keeps its state on the operator's machine (KPROV_HOME, default ~/.kprov). */
export const kprovHome = () => process.env.KPROV_HOME ?? join(homedir(), '.kprov');

/** Where kprov lab up keeps its labs, and where it writes a lab's inventory. */
export const labsRoot = () => join(kprovHome(), 'labs');
export const labInventoryPath = (name: string) => join(labsRoot(), name, 'inventory.yaml');

/** The lab whose inventory this file is (kprov lab up wrote it), if it is one. */
export function labOfInventory(inventoryFile: string): string | undefined {
  return /^([a-z][a-z0-9-]{0,30})\/inventory\.yaml$/.exec(relative(resolve(labsRoot()), resolve(inventoryFile)))?.[1];
}

/** The suffix of a cluster state directory's name: it is kept per inventory file path. */
export function inventoryStateId(inventoryFile: string): string {
  return createHash('sha256').update(resolve(inventoryFile)).digest('hex').slice(0, 8);
}

/** Where kprov keeps a cluster's PKI and admin kubeconfig: ~/.kprov/clusters/<cluster name>-<inventory id>. */
export function clusterStateDirFor(inventoryFile: string, clusterName: string): string {
  return join(kprovHome(), 'clusters', `${clusterName}-${inventoryStateId(inventoryFile)}`);
}

/** The PKI kprov keeps for a cluster (CAs, keys, certificates), inside its state directory. */
export const statePkiDir = (stateDir: string) => join(stateDir, 'pki');

/** Every cluster state directory kept for this inventory file, whatever cluster_name it had. */
export function clusterStateDirsOf(inventoryFile: string): string[] {
  const root = join(kprovHome(), 'clusters');
  if (!existsSync(root)) return [];
  const suffix = `-${inventoryStateId(inventoryFile)}`;
  // A cluster name is a DNS label, so "<name>-<8 hex>" ends in exactly this suffix only for this inventory.
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name.endsWith(suffix) && d.name.length > suffix.length)
    .map((d) => join(root, d.name));
}
