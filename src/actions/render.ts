import { mkdirSync, writeFileSync, chmodSync, rmSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Resolved } from '../config/settings.js';
import { UserError } from '../errors/index.js';
import { clusterConfigFrom, nodeConfigFrom, type ClusterConfig, type NodeConfig } from '../kubeadm/config.js';
import { loadKubeadmConfig } from '../kubeadm/kubeadm-config.js';
import { planCluster, objectsToYaml, type ClusterPlan } from '../kubeadm/plan.js';
import { DirStore } from '../pki/store.js';
import { clusterStateDirFor, labOfInventory } from '../config/state-dir.js';
import { shq } from '../ssh/quote.js';

export interface RenderOptions {
  out: string;
  pkiDir?: string;
  configFile?: string;
}

/** Build the cluster plan (and the configuration it was made from) from an inventory and an optional kubeadm config file. */
export async function planFromInventory(resolved: Resolved, pkiDir: string, configFile?: string): Promise<{ plan: ClusterPlan; cfg: ClusterConfig }> {
  const fileConfig = configFile ? loadKubeadmConfig(configFile) : { cluster: {} };
  const cfg = clusterConfigFrom(resolved.cluster, fileConfig.cluster);
  const nodes: NodeConfig[] = resolved.hosts.map((h) => ({ ...nodeConfigFrom(h), ...(h.controlPlane && fileConfig.taints ? { taints: fileConfig.taints } : {}) }));
  // Control-plane nodes first, in inventory order: the first one is where init runs.
  nodes.sort((a, b) => Number(b.controlPlane) - Number(a.controlPlane));
  for (const n of nodes) {
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(n.advertiseAddress)) throw new UserError(`host "${n.name}": the advertise address must be an IPv4 address; set ansible_host to an IP or node_ip`);
  }
  const plan = await planCluster(new DirStore(pkiDir), cfg, nodes, { token: fileConfig.token?.token, tokenTtlMs: fileConfig.token?.ttlMs, tokenDescription: fileConfig.token?.description });
  if (plan.problems.length > 0) {
    const problems = plan.problems.join('\n  ');
    const hint = startOver(resolved, pkiDir);
    throw new UserError(`existing PKI in ${pkiDir} does not match the configuration:\n  ${problems}\n${hint}`);
  }
  return { plan, cfg };
}

/** The one command that discards PKI made for a cluster that is gone (the files above fix a cluster that is not). */
function startOver(resolved: Resolved, pkiDir: string): string {
  const state = clusterStateDirFor(resolved.inventory.file, resolved.cluster.clusterName);
  const inState = resolve(pkiDir) === join(state, 'pki');
  const lab = labOfInventory(resolved.inventory.file);
  if (inState && lab) {
    const masters = resolved.hosts.filter((h) => h.controlPlane).length;
    const workers = resolved.hosts.filter((h) => !h.controlPlane).length;
    return `This is lab "${lab}"'s inventory; to start the lab over (lab down also removes its saved cluster state):\n`
      + `  kprov lab down --name ${lab} && kprov lab up --name ${lab} --masters ${masters} --workers ${workers}`;
  }
  return 'To keep a running cluster, act on the lines above; if the cluster this PKI was made for no longer exists,'
    + ` remove ${inState ? 'its saved state' : 'it'} and run again:\n`
    + `  rm -rf ${shq(inState ? state : resolve(pkiDir))}`;
}

function writeWithMode(path: string, content: string, mode: number, dirMode?: number): void {
  mkdirSync(dirname(path), { recursive: true });
  if (dirMode !== undefined) chmodSync(dirname(path), dirMode);
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
}

/** kprov init --dry-run --out DIR: every file per host at its absolute path, the cluster objects, the join command. */
export async function renderToDirectory(resolved: Resolved, opts: RenderOptions): Promise<{ plan: ClusterPlan; fileCount: number; out: string }> {
  const out = resolve(opts.out);
  const pkiDir = resolve(opts.pkiDir ?? join(out, '.kprov-pki'));
  const { plan } = await planFromInventory(resolved, pkiDir, opts.configFile);
  let fileCount = 0;
  for (const host of resolved.hosts) {
    const hostDir = join(out, host.name);
    if (existsSync(hostDir)) rmSync(hostDir, { recursive: true, force: true });
    for (const f of plan.files[host.nodeName]) {
      writeWithMode(join(hostDir, f.path), f.content, f.mode, f.dirMode);
      fileCount++;
    }
  }
  const clusterDir = join(out, 'cluster');
  if (existsSync(clusterDir)) rmSync(clusterDir, { recursive: true, force: true });
  for (const [name, objs] of Object.entries(plan.objects)) {
    // Bootstrap token and encrypted certs are secrets: owner-only.
    writeWithMode(join(clusterDir, `${name}.yaml`), objectsToYaml(objs), /token|certs/.test(name) ? 0o600 : 0o644);
    fileCount++;
  }
  writeWithMode(join(clusterDir, 'control-plane-node-patches.yaml'), stringify(plan.nodePatches), 0o644);
  const cpJoin = plan.certificateKey ? `\n# control-plane nodes:\n${plan.joinCommand} --control-plane --certificate-key ${plan.certificateKey}\n` : '';
  writeWithMode(join(out, 'join-command.txt'), `${plan.joinCommand}\n${cpJoin}`, 0o600);
  return { plan, fileCount: fileCount + 2, out };
}
