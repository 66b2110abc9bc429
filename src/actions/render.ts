import { mkdirSync, writeFileSync, chmodSync, rmSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { stringify } from 'yaml';
import type { Resolved } from '../config/settings.js';
import { UserError, UserErrors } from '../errors/index.js';
import {
  clusterConfigFrom,
  isDualStackCluster,
  nodeConfigFrom,
  type ClusterConfig,
  type NodeConfig,
} from '../kubeadm/config.js';
import { loadKubeadmConfig } from '../config/kubeadm-config-file.js';
import { planCluster, objectsToYaml, type ClusterPlan } from '../kubeadm/plan.js';
import { DirStore } from '../pki/store.js';
import { clusterStateDirFor, labOfInventory, statePkiDir } from '../config/state-dir.js';
import { shq } from '../ssh/quote.js';
import { cidrsOverlapProblem, dualStackMismatchProblem } from '../config/validate.js';
import { isIPv4 } from '../net/ipv4.js';

export interface RenderOptions {
  out: string;
  pkiDir?: string;
  configFile?: string;
}

/**
 * Build the cluster plan (and the configuration it was made from) from an inventory and an optional kubeadm
 * config file.
 */
export async function planFromInventory(
  resolved: Resolved,
  pkiDir: string,
  configFile?: string,
  /** Certificates and kubeconfigs to renew with their key whatever their expiry, by path on the master. */
  renew?: (hostPath: string) => boolean,
): Promise<{ plan: ClusterPlan; cfg: ClusterConfig }> {
  const fileConfig = configFile ? loadKubeadmConfig(configFile) : { cluster: {} };
  const cfg = clusterConfigFrom(resolved.cluster, fileConfig.cluster);
  // Each source was checked on its own; a --config subnet may still collide with the inventory's other one.
  const overlap = cidrsOverlapProblem(cfg.podSubnet, cfg.serviceSubnet, 'pod network', 'service network');
  if (overlap) {
    throw new UserError(`${overlap} (inventory and --config together)`, configFile ? { file: configFile } : undefined);
  }
  dualStackNodes(resolved, cfg, configFile);
  const nodes: NodeConfig[] = resolved.hosts.map((h) => ({
    ...nodeConfigFrom(h),
    ...(h.controlPlane && fileConfig.taints ? { taints: fileConfig.taints } : {}),
  }));
  // Control-plane nodes first, in inventory order: the first one is where init runs.
  nodes.sort((a, b) => Number(b.controlPlane) - Number(a.controlPlane));
  for (const n of nodes) {
    if (!isIPv4(n.advertiseAddress)) {
      const why = 'the advertise address must be an IPv4 address; set ansible_host to an IP or node_ip';
      throw new UserError(`host "${n.name}": ${why}`);
    }
  }
  const plan = await planCluster(new DirStore(pkiDir), cfg, nodes, {
    token: fileConfig.token?.token,
    tokenTtlMs: fileConfig.token?.ttlMs,
    tokenDescription: fileConfig.token?.description,
    renew,
  });
  if (plan.problems.length > 0) {
    const problems = plan.problems.join('\n  ');
    const hint = startOver(resolved, pkiDir);
    throw new UserError(`existing PKI in ${pkiDir} does not match the configuration:\n  ${problems}\n${hint}`);
  }
  return { plan, cfg };
}

/**
 * The networks as they finally are (inventory and --config together) and the hosts' node_ip6 must agree: a
 * dual-stack cluster needs every node's IPv6 address, and an IPv6 address is no use to an IPv4 cluster.
 */
function dualStackNodes(resolved: Resolved, cfg: ClusterConfig, configFile?: string): void {
  const where = configFile ? { file: configFile } : undefined;
  const mismatch = dualStackMismatchProblem(cfg.podSubnet, cfg.serviceSubnet, 'pod network', 'service network');
  if (mismatch) throw new UserError(`${mismatch} (inventory and --config together)`, where);
  const dual = isDualStackCluster(cfg);
  const wrong = resolved.hosts.filter((h) => (h.nodeIp6 !== undefined) !== dual);
  if (wrong.length === 0) return;
  const errors = wrong.map((h) =>
    dual
      ? new UserError(
          `host "${h.name}": node_ip6 is required: the pod and service networks are dual-stack ` +
            `(${cfg.podSubnet}; ${cfg.serviceSubnet}), so every node needs its IPv6 address`,
          h.source,
        )
      : new UserError(
          `host "${h.name}": node_ip6 ${h.nodeIp6} is set but the pod and service networks are IPv4 only: ` +
            'give pod_network_cidr and service_cidr as "IPv4,IPv6" for dual-stack, or remove node_ip6',
          resolved.inventory.hosts.find((x) => x.name === h.name)?.varSources.node_ip6 ?? h.source,
        ),
  );
  throw errors.length === 1 ? errors[0] : new UserErrors(errors);
}

/** The one command that discards PKI made for a cluster that is gone (the files above fix a cluster that is not). */
function startOver(resolved: Resolved, pkiDir: string): string {
  const state = clusterStateDirFor(resolved.inventory.file, resolved.cluster.clusterName);
  const inState = resolve(pkiDir) === statePkiDir(state);
  const lab = labOfInventory(resolved.inventory.file);
  if (inState && lab) {
    const masters = resolved.hosts.filter((h) => h.controlPlane).length;
    const workers = resolved.hosts.filter((h) => !h.controlPlane).length;
    return (
      `This is lab "${lab}"'s inventory; to start the lab over (lab down also removes its saved cluster state):\n` +
      `  kprov lab down --name ${lab} && kprov lab up --name ${lab} --masters ${masters} --workers ${workers}` +
      (resolved.hosts.some((h) => h.nodeIp6 !== undefined) ? ' --ipv6' : '')
    );
  }
  return (
    'To keep a running cluster, act on the lines above; if the cluster this PKI was made for no longer exists,' +
    ` remove ${inState ? 'its saved state' : 'it'} and run again:\n` +
    `  rm -rf ${shq(inState ? state : resolve(pkiDir))}`
  );
}

function writeWithMode(path: string, content: string, mode: number, dirMode?: number): void {
  mkdirSync(dirname(path), { recursive: true });
  if (dirMode !== undefined) chmodSync(dirname(path), dirMode);
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
}

/** True when path is strictly below dir (not dir itself, not beside or above it). */
function strictlyInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`);
}

/**
 * DIR/<host> for every host, checked before anything is removed: exactly one level below DIR, not one of the
 * names render writes itself, and not holding the PKI directory.
 */
function hostDirectories(resolved: Resolved, out: string, pkiDir: string): Map<string, string> {
  const dirs = new Map<string, string>();
  const reserved = [join(out, 'cluster'), join(out, 'join-command.txt'), join(out, '.kprov-pki')];
  for (const host of resolved.hosts) {
    const hostDir = resolve(out, host.name);
    const outside = !strictlyInside(out, hostDir) || dirname(hostDir) !== out;
    if (outside || host.name.startsWith('.') || reserved.includes(hostDir)) {
      throw new UserError(`host name "${host.name}" cannot be used as a directory name under ${out}`, host.source);
    }
    if (hostDir === pkiDir || strictlyInside(hostDir, pkiDir)) {
      throw new UserError(
        `--pki-dir ${pkiDir} is inside ${hostDir}, which is rewritten for host "${host.name}": ` +
          'choose another PKI directory',
      );
    }
    dirs.set(host.name, hostDir);
  }
  return dirs;
}

/** kprov init --dry-run --out DIR: every file per host at its absolute path, the cluster objects, the join command. */
export async function renderToDirectory(
  resolved: Resolved,
  opts: RenderOptions,
): Promise<{ plan: ClusterPlan; fileCount: number; out: string }> {
  const out = resolve(opts.out);
  const pkiDir = resolve(opts.pkiDir ?? join(out, '.kprov-pki'));
  const hostDirs = hostDirectories(resolved, out, pkiDir);
  const clusterDir = join(out, 'cluster');
  if (clusterDir === pkiDir || strictlyInside(clusterDir, pkiDir)) {
    throw new UserError(
      `--pki-dir ${pkiDir} is inside ${clusterDir}, which is rewritten on every run: choose another PKI directory`,
    );
  }
  const { plan } = await planFromInventory(resolved, pkiDir, opts.configFile);
  let fileCount = 0;
  for (const host of resolved.hosts) {
    const hostDir = hostDirs.get(host.name)!;
    if (!strictlyInside(out, hostDir)) throw new UserError(`refusing to remove ${hostDir}: not inside ${out}`);
    if (existsSync(hostDir)) rmSync(hostDir, { recursive: true, force: true });
    for (const f of plan.files[host.nodeName]) {
      writeWithMode(join(hostDir, f.path), f.content, f.mode, f.dirMode);
      fileCount++;
    }
  }
  if (existsSync(clusterDir)) rmSync(clusterDir, { recursive: true, force: true });
  for (const [name, objs] of Object.entries(plan.objects)) {
    // Bootstrap token and encrypted certs are secrets: owner-only.
    writeWithMode(join(clusterDir, `${name}.yaml`), objectsToYaml(objs), /token|certs/.test(name) ? 0o600 : 0o644);
    fileCount++;
  }
  if (plan.uploadCerts) {
    // The owner's uid is the API server's to give: shown empty here, filled in when uploaded.
    const { tokenSecret, secret } = plan.uploadCerts;
    const objs = [tokenSecret, secret({ name: tokenSecret.metadata.name, uid: '' })];
    writeWithMode(join(clusterDir, '08-kubeadm-certs.yaml'), objectsToYaml(objs), 0o600);
    fileCount++;
  }
  writeWithMode(join(clusterDir, 'control-plane-node-patches.yaml'), stringify(plan.nodePatches), 0o644);
  const cpJoin = plan.certificateKey
    ? `\n# control-plane nodes:\n${plan.joinCommand} --control-plane --certificate-key ${plan.certificateKey}\n`
    : '';
  writeWithMode(join(out, 'join-command.txt'), `${plan.joinCommand}\n${cpJoin}`, 0o600);
  return { plan, fileCount: fileCount + 2, out };
}
