import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { $ } from 'zx';
import { stringify } from 'yaml';
import { UserError } from '../errors/index.js';
import { DockerDriver } from './docker-driver.js';
import { LxdDriver } from './lxd-driver.js';
import { VmDriver } from './vm-driver.js';
import {
  commandMessage,
  LAB_DRIVERS,
  type CreateNodeInput,
  type LabDriver,
  type LabDriverName,
  type NodeSpec,
} from './driver.js';
import { ensureInotifyLimits } from './host-limits.js';
import { render } from '../templates/render.js';
import { clusterStateDirsOf, labInventoryPath, labsRoot } from '../config/state-dir.js';
import { DEFAULTS } from '../config/settings.js';
import type { LabRole } from './driver.js';
import { cidrs6Overlap, parseCidr6, type Cidr6 } from '../net/ipv6.js';

const q = $({ quiet: true });

export interface LabNode {
  name: string;
  /** lb: the lab's API load balancer (haproxy), in front of the masters when there are several; not a cluster host. */
  role: LabRole;
  /** The container or instance the node runs as. */
  container: string;
  ip: string;
  /** Its IPv6 address on the lab network, in a dual-stack lab (kprov lab up --ipv6). */
  ip6?: string;
}

export interface Lab {
  name: string;
  /** What runs the nodes; absent in a Docker lab (so its lab.json is what it was before drivers existed). */
  driver?: LabDriverName;
  dir: string;
  inventory: string;
  privateKey: string;
  knownHosts: string;
  network: string;
  /** The lab network's IPv6 subnet, in a dual-stack lab. */
  ipv6Subnet?: string;
  /** The lab network's IPv4 subnet, when kprov chose it (LXD). */
  ipv4Subnet?: string;
  /** Unprivileged LXD nodes (lab up --unprivileged). */
  unprivileged?: boolean;
  nodes: LabNode[];
}

/** The driver that runs a lab's nodes. */
export function labDriver(name: LabDriverName): LabDriver {
  switch (name) {
    case 'docker':
      return new DockerDriver();
    case 'lxd':
      return new LxdDriver();
    case 'vm':
      return new VmDriver();
    default:
      throw new UserError(`lab driver "${name}" is not available`);
  }
}

// The lab's inventory path is also the key of the cluster state kprov init keeps for it.
export { labsRoot, labInventoryPath };

/**
 * Remove the cluster state (PKI, admin.conf) kprov saved for the lab's inventory: it belongs to the lab's
 * containers, and a new lab of the same name reuses the inventory path with other addresses. Returns what it removed.
 */
export function removeLabClusterState(name: string): string[] {
  validateLabName(name);
  const dirs = clusterStateDirsOf(labInventoryPath(name));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  return dirs;
}
export const LAB_KUBELET_RESOLV_CONF = '/etc/kprov-lab-resolv.conf';

/** Non-loopback nameservers of this machine, for pods on lab nodes. */
function upstreamResolvConf(): string {
  const servers = existsSync('/etc/resolv.conf')
    ? readFileSync('/etc/resolv.conf', 'utf8')
        .split('\n')
        .map((l) => /^nameserver\s+(\S+)/.exec(l)?.[1])
        .filter((s): s is string => !!s && !s.startsWith('127.') && s !== '::1' && /^[0-9a-f.:]+$/i.test(s))
    : [];
  return servers.map((s) => `nameserver ${s}\\n`).join('');
}

export function validateLabName(name: string): void {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(name))
    throw new UserError(`lab name "${name}" must be lowercase letters, digits and '-' (at most 31)`);
}

export interface LabUpOptions {
  name: string;
  masters: number;
  workers: number;
  /** Raise the machine's inotify limits when the lab would exhaust them (instead of stopping with the command). */
  fixHostLimits?: boolean;
  /** Dual-stack: true for the lab's own IPv6 subnet (labIPv6Subnet), or an IPv6 subnet for the Docker network. */
  ipv6?: boolean | string;
  /** What runs the nodes (docker by default). */
  driver?: LabDriverName;
  /** LXD nodes in user namespaces instead of the tutorial's privileged containers. */
  unprivileged?: boolean;
}

/** A dual-stack lab's pod and service networks (kind's dual-stack defaults beside kprov's IPv4 ones). */
export const LAB_POD_CIDR_6 = 'fd00:10:244::/56';
export const LAB_SERVICE_CIDR_6 = 'fd00:10:96::/112';

/**
 * The IPv6 subnet of a lab's Docker network, one /64 per lab name in fd6b:7072:6f76::/48: Docker refuses a network
 * whose subnet overlaps another's, and (Docker 20.10) allocates no IPv6 subnet by itself.
 */
export function labIPv6Subnet(name: string): string {
  const hash = createHash('sha256').update(name).digest().readUInt16BE(0);
  return `fd6b:7072:6f76:${hash.toString(16)}::/64`;
}

/** The IPv6 subnet for --ipv6 [subnet]: the lab's own, or one given, checked before anything is started. */
export function labIPv6Option(name: string, ipv6: boolean | string | undefined): string | undefined {
  if (ipv6 === undefined || ipv6 === false) return undefined;
  if (ipv6 === true) return labIPv6Subnet(name);
  const c = parseCidr6(ipv6);
  if (typeof c === 'string') throw new UserError(`--ipv6: ${c}`);
  if (c.prefix > 120) throw new UserError(`--ipv6 ${ipv6} is too small for a lab network: use a /64 (at most /120)`);
  for (const other of [LAB_POD_CIDR_6, LAB_SERVICE_CIDR_6]) {
    if (cidrs6Overlap(c, parseCidr6(other) as Cidr6))
      throw new UserError(`--ipv6 ${ipv6} overlaps the lab cluster's IPv6 network ${other}`);
  }
  return c.text;
}

export async function labUp(opts: LabUpOptions, progress: (m: string) => void = () => {}): Promise<Lab> {
  validateLabName(opts.name);
  if (opts.masters < 1) throw new UserError('--masters must be at least 1');
  labIPv6Option(opts.name, opts.ipv6);
  const driverName = opts.driver ?? 'docker';
  const driver = labDriver(driverName);
  checkPlan(driverName, opts);
  await driver.ensureReady(progress);
  const dir = join(labsRoot(), opts.name);
  if (existsSync(join(dir, 'lab.json')))
    throw new UserError(`lab "${opts.name}" already exists (${dir}); run: kprov lab down --name ${opts.name}`);
  await checkHostLimits(driver, opts, progress);
  // No lab by this name exists, so cluster state saved for its inventory path is a removed lab's (kept by
  // an older kprov's lab down): its PKI names other addresses and would make kprov init refuse.
  for (const d of removeLabClusterState(opts.name))
    progress(`removed cluster state of an earlier lab "${opts.name}": ${d}`);
  const image = await driver.ensureImage(progress);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    return await createLab(driver, opts, dir, image, progress);
  } catch (err) {
    // Leave nothing half-made: a failed lab is removed whole, and the error says why.
    await labDown(opts.name, driverName).catch(() => {});
    throw err instanceof UserError ? err : new UserError(`lab up failed: ${commandMessage(err)}`);
  }
}

/** Options a driver cannot honour, refused before anything starts. */
function checkPlan(driver: LabDriverName, opts: LabUpOptions): void {
  if (driver !== 'docker' && opts.ipv6 !== undefined && opts.ipv6 !== false)
    throw new UserError(`--ipv6 is supported by the docker lab driver only, not --driver ${driver}`);
  if (driver !== 'lxd' && opts.unprivileged)
    throw new UserError(`--unprivileged is supported by the lxd lab driver only, not --driver ${driver}`);
}

/** The lab's nodes and every other running lab's, against the inotify limits of the engine's machine. */
async function checkHostLimits(driver: LabDriver, opts: LabUpOptions, progress: (m: string) => void): Promise<void> {
  await driver.checkResources?.(planNodes(opts));
  if (!driver.sharesHostLimits()) return;
  // Every local lab's nodes share this machine's limits, whatever runs them.
  let running = 0;
  for (const other of LAB_DRIVERS) {
    const d = other === driver.name ? driver : labDriver(other);
    if (d.sharesHostLimits()) running += (await d.list()).filter((n) => n.running).length;
  }
  ensureInotifyLimits(
    { newNodes: planNodes(opts).length, otherLabNodes: running, fix: opts.fixHostLimits ?? false },
    progress,
  );
}

/** The nodes a lab of this size has, in order: masters, workers, and the load balancer of several masters. */
export function planNodes(opts: { masters: number; workers: number }): NodeSpec[] {
  return [
    ...Array.from({ length: opts.masters }, (_, i) => ({ name: `master${i + 1}`, role: 'master' as const })),
    ...Array.from({ length: opts.workers }, (_, i) => ({ name: `worker${i + 1}`, role: 'worker' as const })),
    // Several masters need a stable endpoint in front of them, as on real machines.
    ...(opts.masters > 1 ? [{ name: 'lb', role: 'lb' as const }] : []),
  ];
}

async function createLab(
  driver: LabDriver,
  opts: LabUpOptions,
  dir: string,
  image: string,
  progress: (m: string) => void,
): Promise<Lab> {
  const privateKey = join(dir, 'id_ed25519');
  await q`ssh-keygen -q -t ed25519 -N ${''} -C ${`kprov-lab-${opts.name}`} -f ${privateKey}`;
  const publicKey = readFileSync(`${privateKey}.pub`, 'utf8').trim();

  const ipv6Subnet = labIPv6Option(opts.name, opts.ipv6);
  const network = await driver.createNetwork(opts.name, {
    ...(ipv6Subnet ? { ipv6Subnet } : {}),
    ...(opts.unprivileged ? { unprivileged: true } : {}),
  });
  const wanted = planNodes(opts);
  progress(`starting ${wanted.length} ${driver.name === 'docker' ? 'containers' : `${driver.name} nodes`}`);
  const nodes = await Promise.all(
    wanted.map((node, index) => startNode(driver, { lab: opts.name, dir, network, image, node, index }, publicKey)),
  );
  const lb = nodes.find((n) => n.role === 'lb');
  if (lb)
    await startLoadBalancer(
      driver,
      lb.container,
      nodes.filter((n) => n.role === 'master'),
    );

  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, nodes.map((n) => `${n.ip} ${n.hostKey}`).join('\n') + '\n', { mode: 0o600 });
  const lab: Lab = {
    name: opts.name,
    ...(driver.name === 'docker' ? {} : { driver: driver.name }),
    dir,
    inventory: labInventoryPath(opts.name),
    privateKey,
    knownHosts,
    network: network.name,
    ...(ipv6Subnet ? { ipv6Subnet } : {}),
    ...(network.ipv4Subnet ? { ipv4Subnet: network.ipv4Subnet } : {}),
    ...(opts.unprivileged ? { unprivileged: true } : {}),
    nodes: nodes.map(({ hostKey: _k, ...n }) => n),
  };
  writeFileSync(lab.inventory, labInventory(lab), { mode: 0o600 });
  writeFileSync(join(dir, 'lab.json'), JSON.stringify(lab, null, 2) + '\n');
  return lab;
}

export const LAB_API_PORT = 6443;

/** haproxy on the lab's lb node, balancing port 6443 over the masters' API servers. */
async function startLoadBalancer(
  driver: LabDriver,
  container: string,
  masters: { name: string; ip: string }[],
): Promise<void> {
  const config = render('lab/haproxy.cfg', {
    port: LAB_API_PORT,
    masters: masters.map((m) => ({ name: m.name, ip: m.ip })),
  });
  const install =
    'cat > /etc/haproxy/haproxy.cfg && haproxy -c -q -f /etc/haproxy/haproxy.cfg && systemctl enable --now haproxy';
  await mustExec(driver, container, install, config);
}

/** Run a script on a node; a failure is an error with the script's stderr. */
async function mustExec(driver: LabDriver, id: string, script: string, input?: string): Promise<string> {
  const r = await driver.exec(id, script, input);
  if (r.exitCode !== 0) {
    const tail = r.stderr.trim().split('\n').slice(-3).join(' ');
    throw new UserError(`lab node ${id}: ${script.split('\n')[0]} failed (exit ${r.exitCode}): ${tail}`);
  }
  return r.stdout;
}

async function startNode(driver: LabDriver, input: CreateNodeInput, publicKey: string) {
  const container = await driver.createNode(input);
  const authorize = `umask 077; mkdir -p /root/.ssh; printf '%s\\n' '${publicKey}' > /root/.ssh/authorized_keys`;
  await mustExec(driver, container, authorize);
  // Wait for systemd and sshd; read the host key generated at first boot so SSH checks it strictly.
  const readHostKey = 'systemctl is-active ssh >/dev/null && cut -d" " -f1,2 /etc/ssh/ssh_host_ed25519_key.pub';
  let hostKey = '';
  const deadline = Date.now() + driver.bootTimeoutMs;
  while (!hostKey && Date.now() < deadline) {
    const r = await driver.exec(container, readHostKey);
    if (r.exitCode === 0 && r.stdout.trim()) hostKey = r.stdout.trim();
    else await new Promise((res) => setTimeout(res, 250));
  }
  if (!hostKey) throw new UserError(`lab node ${container} did not start sshd: see ${driver.logsHint(container)}`);
  // Docker's embedded DNS (127.0.0.11) is loopback: a pod using the node's resolv.conf would query itself
  // (CoreDNS's loop check stops it). The kubelet gets the engine host's upstream servers instead.
  await mustExec(driver, container, `printf '${upstreamResolvConf()}' > ${LAB_KUBELET_RESOLV_CONF}`);
  await mustExec(driver, container, labServiceRangeRules(Boolean(input.network.ipv6Subnet)));
  const { ip, ip6 } = await driver.address(container, input.network);
  return { name: input.node.name, role: input.node.role, container, ip, ...(ip6 ? { ip6 } : {}), hostKey };
}

/**
 * Packets for the lab cluster's Service ranges that kube-proxy did not translate (a ClusterIP on a port the Service
 * does not have) are dropped as they leave a node. On a network of VMs nothing beyond the nodes answers those
 * addresses; a lab node's traffic goes out through the Docker host, and where that machine's network intercepts
 * every outgoing TCP connection (an egress proxy), it would answer them (`HTTP/1.1 400 Bad Request`), so a Service
 * port that was removed would seem to stay open. mangle POSTROUTING runs after kube-proxy's DNAT, and neither
 * kube-proxy nor flannel writes rules there.
 */
export function labServiceRangeRules(ipv6: boolean): string {
  const rule = (cmd: string, cidr: string) => {
    const r = (op: string) => `${cmd} -t mangle ${op} POSTROUTING -d ${cidr} -j DROP`;
    return `{ ${r('-C')} 2>/dev/null || ${r('-A')}; }`;
  };
  return [rule('iptables', DEFAULTS.serviceCidr), ...(ipv6 ? [rule('ip6tables', LAB_SERVICE_CIDR_6)] : [])].join(
    ' && ',
  );
}

/**
 * Kubelet and kube-proxy inside containers (as kind sets them): the kubelet sees the host's disk, so no disk-pressure
 * eviction or image GC; no swap check; conntrack limits cannot be written there. VM nodes are real machines: none.
 */
const containerNodeVars = (unprivileged: boolean) => ({
  kubelet_configuration: {
    cgroupRoot: '/kubelet',
    resolvConf: LAB_KUBELET_RESOLV_CONF,
    failSwapOn: false,
    imageGCHighThresholdPercent: 100,
    evictionHard: { 'nodefs.available': '0%', 'nodefs.inodesFree': '0%', 'imagefs.available': '0%' },
    // In a user namespace the kubelet cannot set oom_score_adj below its own, nor some sysctls: the gate makes it
    // carry on (as rootless kind and usernetes run it).
    ...(unprivileged ? { featureGates: { KubeletInUserNamespace: true } } : {}),
  },
  kube_proxy_configuration: { conntrack: { maxPerCore: 0 }, iptables: { minSyncPeriod: '1s' } },
});

const LAB_NODES_ARE: Record<LabDriverName, string> = {
  docker: 'containers on the local Docker engine',
  lxd: 'LXD system containers',
  vm: 'QEMU virtual machines with their own kernel',
};

/** An Ansible YAML inventory for the lab: the same format users write for real machines. */
export function labInventory(lab: Lab): string {
  const host = (n: LabNode) => ({ ansible_host: n.ip, ...(n.ip6 ? { node_ip6: n.ip6 } : {}) });
  const hostsOf = (role: LabNode['role']) =>
    Object.fromEntries(lab.nodes.filter((n) => n.role === role).map((n) => [n.name, host(n)]));
  const lb = lab.nodes.find((n) => n.role === 'lb');
  // Dual-stack: kprov's IPv4 defaults first, then the lab's IPv6 networks; each host has its node_ip6.
  const dualStack = lab.ipv6Subnet
    ? {
        pod_network_cidr: `${DEFAULTS.podNetworkCidr},${LAB_POD_CIDR_6}`,
        service_cidr: `${DEFAULTS.serviceCidr},${LAB_SERVICE_CIDR_6}`,
      }
    : {};
  const doc = {
    all: {
      vars: {
        ...(lb ? { control_plane_endpoint: `${lb.ip}:${LAB_API_PORT}` } : {}),
        ...dualStack,
        ansible_user: 'root',
        ansible_ssh_private_key_file: lab.privateKey,
        kprov_known_hosts_file: lab.knownHosts,
        sudo_user_public_key: `${lab.privateKey}.pub`,
        ...(labDriverOf(lab) === 'vm' ? {} : containerNodeVars(lab.unprivileged ?? false)),
      },
      children: {
        masters: { hosts: hostsOf('master') },
        workers: { hosts: hostsOf('worker') },
      },
    },
  };
  const what = `${lab.unprivileged ? 'unprivileged ' : ''}${LAB_NODES_ARE[labDriverOf(lab)]}`;
  return `# kprov lab "${lab.name}": ${what}.\n${stringify(doc)}`;
}

export function readLab(name: string): Lab {
  validateLabName(name);
  const file = join(labsRoot(), name, 'lab.json');
  if (!existsSync(file)) throw new UserError(`no lab named "${name}" (see: kprov lab ls)`);
  return JSON.parse(readFileSync(file, 'utf8')) as Lab;
}

/** The lab's driver as its saved state names it (labs from before drivers existed are Docker labs). */
export function labDriverOf(lab: Pick<Lab, 'driver'>): LabDriverName {
  return lab.driver ?? 'docker';
}

/**
 * Remove every node, volume and network the lab created (with the driver its saved state names, or the one given
 * when no state was saved), then its state directory and the cluster state kprov init saved for its inventory.
 * Returns the cluster state directories it removed.
 */
export async function labDown(name: string, driverName?: LabDriverName): Promise<string[]> {
  validateLabName(name);
  const file = join(labsRoot(), name, 'lab.json');
  const saved = existsSync(file) ? readLab(name) : undefined;
  if (saved && driverName && labDriverOf(saved) !== driverName)
    throw new UserError(`lab "${name}" was made with --driver ${labDriverOf(saved)}, not ${driverName}`);
  const driver = labDriver(saved ? labDriverOf(saved) : (driverName ?? 'docker'));
  await driver.ensureReady(() => {});
  await driver.destroy(name);
  rmSync(join(labsRoot(), name), { recursive: true, force: true });
  return removeLabClusterState(name);
}

export interface LabListing {
  name: string;
  driver: LabDriverName;
  nodes: number;
  running: number;
  inventory: string;
}

export async function labList(): Promise<LabListing[]> {
  const root = labsRoot();
  if (!existsSync(root)) return [];
  const out: LabListing[] = [];
  for (const name of readdirSync(root)) {
    if (!existsSync(join(root, name, 'lab.json'))) continue;
    const lab = readLab(name);
    const driver = labDriverOf(lab);
    const found = await labDriver(driver).list(name);
    out.push({
      name,
      driver,
      nodes: lab.nodes.length,
      running: found.filter((n) => n.running).length,
      inventory: lab.inventory,
    });
  }
  return out;
}
