import { existsSync } from 'node:fs';
import { sudoUserKey } from './sudo-key.js';
import { expandPath } from './paths.js';
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { formatLocation, UserError, UserErrors, type SourceLocation } from '../errors/index.js';
import { isIPv4 } from '../net/ipv4.js';
import { canonicalIPv6 } from '../net/ipv6.js';
import { DEFAULT_KUBERNETES_VERSION } from '../kubeadm/versions.js';
import {
  clusterNameProblem,
  dnsDomainProblem,
  endpointProblem,
  imageRepositoryProblem,
  ipv4Problem,
  kubernetesVersionProblem,
  nodeNameProblem,
  normalizeKubernetesVersion,
  normalizeRegistryUrl,
  podCidrProblem,
  registryHostProblem,
  serviceCidrProblem,
  cidrsOverlapProblem,
  dualStackMismatchProblem,
  isDualStack,
  nodeIPv6Problem,
  type Problem,
} from './validate.js';
import {
  asksForForeignJoin,
  CLUSTER_OWNED_VARS,
  FOREIGN_JOIN_VARS,
  foreignJoinSettings,
  type ForeignJoin,
  type ForeignJoinFlags,
} from './foreign-join.js';
import {
  isControlPlane,
  isWorker,
  CONTROL_PLANE_GROUPS,
  type Inventory,
  type InventoryHost,
  type Role,
} from './inventory.js';

export interface JumpHost {
  user?: string;
  host: string;
  port: number;
}

/** How to reach one host and what it is for. */
export interface HostSpec {
  name: string;
  address: string;
  port: number;
  user: string;
  role: Role;
  controlPlane: boolean;
  worker: boolean;
  privateKeyFile?: string;
  password?: string;
  become: boolean;
  becomePassword?: string;
  jump?: JumpHost;
  knownHostsFile: string;
  /** strict: refuse unknown hosts; accept-new: record unknown keys (TOFU). A changed key is always refused. */
  hostKeyChecking: 'strict' | 'accept-new';
  nodeName: string;
  nodeIp?: string;
  /** node_ip6: the node's IPv6 address in a dual-stack cluster (RFC 5952 form); the kubelet gets --node-ip=v4,v6. */
  nodeIp6?: string;
  vars: Record<string, unknown>;
  source: SourceLocation;
}

export interface ClusterSettings {
  kubernetesVersion: string;
  podNetworkCidr: string;
  serviceCidr: string;
  controlPlaneEndpoint?: string;
  cni: 'flannel' | 'none';
  containerRuntime: 'containerd';
  sudoUser: string;
  sudoUserPublicKey: string;
  /** The private key matching sudoUserPublicKey, when known: used to prove the new user can log in. */
  sudoUserPrivateKeyFile?: string;
  /** kprov_allow_system_sudo_user: let sudo_user be an existing system account (uid < 1000 or no login shell). */
  allowSystemSudoUser?: boolean;
  imageRepository: string;
  clusterName: string;
  dnsDomain: string;
  artifactsDir?: string;
  /** Plain-HTTP or self-signed registries containerd should trust, host[:port]. */
  insecureRegistries: string[];
  /** Pull-through mirrors per upstream registry (registry.k8s.io -> [http://mirror:5000]), for air-gapped installs. */
  registryMirrors: Record<string, string[]>;
  /** KubeletConfiguration / KubeProxyConfiguration fields merged over kubeadm's defaults. */
  kubeletConfiguration: Record<string, unknown>;
  kubeProxyConfiguration: Record<string, unknown>;
  /**
   * Join the hosts to a cluster kprov did not create (kubeadm's bootstrap-token discovery): set by `kprov join`
   * flags or the join_token, discovery_token_ca_cert_hash and join_endpoint vars. The inventory then lists only the
   * workers to join, and needs no control-plane group.
   */
  foreignJoin?: ForeignJoin;
}

export interface Resolved {
  inventory: Inventory;
  hosts: HostSpec[];
  cluster: ClusterSettings;
  warnings: string[];
}

export const DEFAULTS = {
  kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
  podNetworkCidr: '10.244.0.0/16',
  serviceCidr: '10.96.0.0/12',
  cni: 'flannel',
  containerRuntime: 'containerd',
  sudoUser: 'ubuntu',
  imageRepository: 'registry.k8s.io',
  clusterName: 'kubernetes',
  dnsDomain: 'cluster.local',
} as const;

/** Vars that must have one value across the cluster. */
const CLUSTER_VARS = [
  'kubernetes_version',
  'pod_network_cidr',
  'service_cidr',
  'control_plane_endpoint',
  'cni',
  'container_runtime',
  'sudo_user',
  'sudo_user_public_key',
  'image_repository',
  'cluster_name',
  'dns_domain',
  'artifacts_dir',
  'insecure_registries',
  'registry_mirrors',
  'kubelet_configuration',
  'kube_proxy_configuration',
  ...Object.values(FOREIGN_JOIN_VARS),
];

type Collect = (message: string, source?: SourceLocation) => void;

/** Turn inventory vars into typed, validated host and cluster settings, reporting every problem at once. */
/**
 * offline: nothing will be connected to (rendering only), so SSH key files and the sudo user's key
 * are not required to exist. join: the flags of `kprov join` (token, CA cert hashes, endpoint), merged over the
 * inventory's vars for a cluster kprov did not create.
 */
export function resolveSettings(
  inventory: Inventory,
  opts: { home?: string; offline?: boolean; join?: ForeignJoinFlags } = {},
): Resolved {
  const errors: UserError[] = [];
  const warnings: string[] = [];
  const fail: Collect = (message, source) => errors.push(new UserError(message, source ?? { file: inventory.file }));
  const home = opts.home ?? homedir();
  const baseDir = dirname(resolve(inventory.file));

  const members = inventory.hosts.filter((h) => h.role !== 'none');
  const cpGroups = CONTROL_PLANE_GROUPS.filter((g) => inventory.groups[g]);
  // Joining a cluster kprov did not create: its control plane is not kprov's to list (only workers join that way;
  // the join refuses a control-plane host it is asked to work on), and an even count of masters is not kprov's.
  const foreign = asksForForeignJoin(clusterVarsHost(members)?.vars ?? {}, opts.join ?? {});
  if (!foreign && cpGroups.length === 0) {
    fail(
      `no control-plane group: add a [masters] group (or control_plane / kube_control_plane) with at least one host`,
    );
  } else if (!foreign && !members.some(isControlPlane)) {
    fail(`control-plane group [${cpGroups.join('], [')}] has no hosts`);
  }
  const cpCount = members.filter(isControlPlane).length;
  if (!foreign && cpCount > 1 && cpCount % 2 === 0) {
    warnings.push(
      `${cpCount} control-plane hosts: etcd keeps quorum best with an odd number (1, 3 or 5); ` +
        `${cpCount} tolerates no more failures than ${cpCount - 1}`,
    );
  }

  const hosts = members.map((h) => hostSpec(h, fail, home, baseDir, Boolean(opts.offline)));
  const seenAddress = new Map<string, HostSpec>();
  for (const h of hosts) {
    const key = `${h.address}:${h.port}`;
    const other = seenAddress.get(key);
    if (other) fail(`hosts "${other.name}" and "${h.name}" have the same address ${key}`, h.source);
    else seenAddress.set(key, h);
  }
  const seenNode = new Map<string, HostSpec>();
  for (const h of hosts) {
    const other = seenNode.get(h.nodeName);
    if (other)
      fail(`hosts "${other.name}" and "${h.name}" would register the same node name "${h.nodeName}"`, h.source);
    else seenNode.set(h.nodeName, h);
  }

  const cluster = clusterSettings(members, fail, warnings, home, baseDir, Boolean(opts.offline), {
    flags: opts.join ?? {},
    failFlag: (message) => errors.push(new UserError(message)),
  });
  dualStackHosts(hosts, cluster, fail);
  if (!foreign && cpCount > 1 && !cluster.controlPlaneEndpoint) {
    warnings.push(
      `${cpCount} control-plane hosts but no control_plane_endpoint: using the first master's address, ` +
        'which is a single point of failure; set control_plane_endpoint to a load balancer or DNS name',
    );
  }
  const unique = errors.filter((e, i) => errors.findIndex((o) => o.toString() === e.toString()) === i);
  if (unique.length > 0) throw unique.length === 1 ? unique[0] : new UserErrors(unique);
  return { inventory, hosts, cluster, warnings };
}

/**
 * Dual-stack needs every node's IPv6 address (node_ip6), each on one node only. Hosts with node_ip6 in an IPv4
 * inventory are left to the render, which sees a --config file's networking too.
 */
function dualStackHosts(hosts: HostSpec[], cluster: ClusterSettings, fail: Collect): void {
  if (isDualStack(cluster.podNetworkCidr) && isDualStack(cluster.serviceCidr)) {
    for (const h of hosts.filter((x) => x.nodeIp6 === undefined)) {
      fail(
        `host "${h.name}": node_ip6 is required: pod_network_cidr and service_cidr are dual-stack, so every node ` +
          'needs its IPv6 address (the kubelet registers both with --node-ip)',
        h.source,
      );
    }
  }
  const seen = new Map<string, HostSpec>();
  for (const h of hosts) {
    if (h.nodeIp6 === undefined) continue;
    const other = seen.get(h.nodeIp6);
    if (other) fail(`hosts "${other.name}" and "${h.name}" have the same node_ip6 ${h.nodeIp6}`, h.source);
    else seen.set(h.nodeIp6, h);
  }
}

function hostSpec(h: InventoryHost, fail: Collect, home: string, baseDir: string, offline: boolean): HostSpec {
  const v = h.vars;
  const src = (k: string) => h.varSources[k] ?? h.source;
  const str = (k: string): string | undefined => scalarVar(v, k, src(k), fail);

  const address = str('ansible_host') ?? str('ansible_ssh_host') ?? h.name;
  const port = parsePort(
    str('ansible_port') ?? str('ansible_ssh_port') ?? '22',
    `ansible_port of host "${h.name}"`,
    src('ansible_port'),
    fail,
  );
  const user = str('ansible_user') ?? str('ansible_ssh_user') ?? 'root';
  const become = parseBool(
    v.ansible_become ?? user !== 'root',
    `ansible_become of host "${h.name}"`,
    src('ansible_become'),
    fail,
  );

  let jump: JumpHost | undefined;
  const jumpText =
    str('kprov_jump_host') ??
    proxyJumpFrom(str('ansible_ssh_common_args')) ??
    proxyJumpFrom(str('ansible_ssh_extra_args'));
  if (jumpText) {
    const parsed = parseJump(jumpText);
    if (typeof parsed === 'string')
      fail(`${parsed} (host "${h.name}")`, src(str('kprov_jump_host') ? 'kprov_jump_host' : 'ansible_ssh_common_args'));
    else jump = parsed;
  }

  const keyFile = str('ansible_ssh_private_key_file') ?? str('ansible_private_key_file');
  const privateKeyFile = keyFile ? expandPath(keyFile, home, baseDir) : undefined;
  if (privateKeyFile && !offline && !existsSync(privateKeyFile))
    fail(`private key file not found: ${privateKeyFile} (host "${h.name}")`, src('ansible_ssh_private_key_file'));

  const checking =
    str('kprov_host_key_checking') ??
    (v.ansible_host_key_checking !== undefined && !parseBool(v.ansible_host_key_checking, '', undefined, () => {})
      ? 'accept-new'
      : 'strict');
  if (checking !== 'strict' && checking !== 'accept-new')
    fail(`kprov_host_key_checking must be "strict" or "accept-new", got "${checking}"`, src('kprov_host_key_checking'));

  const nodeIp = str('node_ip') ?? (isIPv4(address) ? address : undefined);
  const check = (problem: Problem, key: string) => problem && fail(problem, src(key));
  if (nodeIp !== undefined) check(ipv4Problem(nodeIp, `host "${h.name}": node_ip`), 'node_ip');
  const nodeIp6Text = str('node_ip6');
  if (nodeIp6Text !== undefined) check(nodeIPv6Problem(nodeIp6Text, `host "${h.name}": node_ip6`), 'node_ip6');
  const nodeIp6 = nodeIp6Text === undefined ? undefined : canonicalIPv6(nodeIp6Text);
  const nodeName = (str('node_name') ?? h.name).toLowerCase();
  check(nodeNameProblem(nodeName, `host "${h.name}": node name`), 'node_name');

  return {
    name: h.name,
    address,
    port,
    user,
    role: h.role,
    controlPlane: isControlPlane(h),
    worker: isWorker(h),
    privateKeyFile,
    password: str('ansible_password') ?? str('ansible_ssh_pass'),
    become,
    becomePassword: str('ansible_become_password') ?? str('ansible_become_pass') ?? str('ansible_sudo_pass'),
    jump,
    knownHostsFile: expandPath(str('kprov_known_hosts_file') ?? join(home, '.ssh', 'known_hosts'), home, baseDir),
    hostKeyChecking: checking === 'accept-new' ? 'accept-new' : 'strict',
    nodeName,
    nodeIp,
    ...(nodeIp6 !== undefined ? { nodeIp6 } : {}),
    vars: v,
    source: h.source,
  };
}

/** One single-valued cluster var: its inventory name, default, validator and the form it is kept in. */
interface ScalarVar {
  key: string;
  default?: string;
  problem?: (value: string, label: string) => Problem;
  normalize?: (value: string) => string;
}

const oneOf =
  (allowed: string[]) =>
  (value: string, label: string): Problem =>
    allowed.includes(value) ? undefined : `${label} "${value}" is not supported: use ${allowed.join(' or ')}`;

/** The cluster's single-valued vars, as data: every value from the inventory passes its validator. */
const SCALAR_VARS = {
  kubernetesVersion: {
    key: 'kubernetes_version',
    default: DEFAULTS.kubernetesVersion,
    problem: kubernetesVersionProblem,
    normalize: normalizeKubernetesVersion,
  },
  podNetworkCidr: { key: 'pod_network_cidr', default: DEFAULTS.podNetworkCidr, problem: podCidrProblem },
  serviceCidr: { key: 'service_cidr', default: DEFAULTS.serviceCidr, problem: serviceCidrProblem },
  controlPlaneEndpoint: { key: 'control_plane_endpoint', problem: endpointProblem },
  cni: { key: 'cni', default: DEFAULTS.cni, problem: oneOf(['flannel', 'none']) },
  containerRuntime: { key: 'container_runtime', default: DEFAULTS.containerRuntime, problem: oneOf(['containerd']) },
  sudoUser: {
    key: 'sudo_user',
    default: DEFAULTS.sudoUser,
    problem: (value: string, label: string): Problem =>
      /^[a-z_][a-z0-9_-]{0,31}$/.test(value) ? undefined : `${label} "${value}" is not a valid user name`,
  },
  imageRepository: { key: 'image_repository', default: DEFAULTS.imageRepository, problem: imageRepositoryProblem },
  clusterName: { key: 'cluster_name', default: DEFAULTS.clusterName, problem: clusterNameProblem },
  dnsDomain: { key: 'dns_domain', default: DEFAULTS.dnsDomain, problem: dnsDomainProblem },
  artifactsDir: { key: 'artifacts_dir' },
} satisfies Record<string, ScalarVar>;

type ScalarField = keyof typeof SCALAR_VARS;

/**
 * Each scalar var from the inventory (or its default), validated and normalised; undefined when absent without a
 * default, or when invalid (the problem is reported through fail with the var's name).
 */
function scalarSettings(
  read: (key: string) => string | undefined,
  fail: (problem: string, key: string) => void,
): Record<ScalarField, string | undefined> {
  const out = {} as Record<ScalarField, string | undefined>;
  for (const [field, spec] of Object.entries(SCALAR_VARS) as [ScalarField, ScalarVar][]) {
    const value = read(spec.key) ?? spec.default;
    const problem = value === undefined ? undefined : spec.problem?.(value, spec.key);
    if (problem) fail(problem, spec.key);
    out[field] = value === undefined || problem ? undefined : (spec.normalize?.(value) ?? value);
  }
  return out;
}

/** The host whose cluster-wide vars (they agree on every host) are read: the first master, else the first host. */
const clusterVarsHost = (members: InventoryHost[]) => members.find(isControlPlane) ?? members[0];

function clusterSettings(
  members: InventoryHost[],
  fail: Collect,
  warnings: string[],
  home: string,
  baseDir: string,
  offline: boolean,
  join: { flags: ForeignJoinFlags; failFlag: (message: string) => void },
): ClusterSettings {
  const first = clusterVarsHost(members);
  const v = first?.vars ?? {};
  const src = (k: string) => first?.varSources[k];
  // Cluster-wide vars must agree across hosts: a worker with another kubernetes_version is a mistake.
  for (const key of CLUSTER_VARS) {
    for (const h of members) {
      if (first && JSON.stringify(h.vars[key]) !== JSON.stringify(v[key])) {
        const shown = (x: unknown) =>
          x === undefined || x === null ? '(default)' : typeof x === 'object' ? JSON.stringify(x) : String(x);
        fail(
          `${key} is cluster-wide but differs: "${shown(v[key])}" on ${first.name}, ` +
            `"${shown(h.vars[key])}" on ${h.name}`,
          h.varSources[key] ?? src(key),
        );
        break;
      }
    }
  }
  const str = (k: string): string | undefined => scalarVar(v, k, src(k), fail);
  const scalars = scalarSettings(str, (problem, key) => fail(problem, src(key)));
  const { kubernetesVersion, podNetworkCidr, serviceCidr, controlPlaneEndpoint: endpoint, cni, sudoUser } = scalars;
  const { imageRepository, clusterName, dnsDomain, artifactsDir } = scalars;
  if (podNetworkCidr !== undefined && serviceCidr !== undefined) {
    const overlap = cidrsOverlapProblem(podNetworkCidr, serviceCidr, 'pod_network_cidr', 'service_cidr');
    if (overlap) fail(overlap, src('pod_network_cidr') ?? src('service_cidr'));
    const mismatch = dualStackMismatchProblem(podNetworkCidr, serviceCidr, 'pod_network_cidr', 'service_cidr');
    if (mismatch) fail(mismatch, src('pod_network_cidr') ?? src('service_cidr'));
  }

  const { publicKey, privateKeyFile } = sudoUserKey(
    str('sudo_user_public_key'),
    str('sudo_user_private_key_file'),
    home,
    baseDir,
    offline ? () => {} : fail,
    src('sudo_user_public_key'),
  );

  const insecure = v.insecure_registries;
  const insecureRegistries = Array.isArray(insecure)
    ? insecure.map(String)
    : insecure
      ? String(insecure)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
  for (const r of insecureRegistries) {
    const problem = registryHostProblem(r, 'insecure_registries entry');
    if (problem) fail(`${problem} (DNS name, IPv4 or [IPv6], optional port 1-65535)`, src('insecure_registries'));
  }
  const registryMirrors = mirrorsVar(v.registry_mirrors, (m) => fail(m, src('registry_mirrors')));
  const foreignJoin = foreignJoinSettings(v, src, join.flags, fail, join.failFlag);
  if (foreignJoin) {
    for (const key of CLUSTER_OWNED_VARS.filter((k) => v[k] !== undefined && v[k] !== null)) {
      const where = src(key) ? ` (${formatLocation(src(key))})` : '';
      warnings.push(
        `${key}${where} is ignored when joining a cluster kprov did not create: the cluster's own configuration ` +
          'applies (its kubelet-config, kube-proxy and CNI)',
      );
    }
  }
  const mapVar = (k: string): Record<string, unknown> => {
    const value = v[k];
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      fail(`${k} must be a mapping of configuration fields (use a YAML inventory or group_vars)`, src(k));
      return {};
    }
    return value as Record<string, unknown>;
  };
  return {
    kubeletConfiguration: mapVar('kubelet_configuration'),
    kubeProxyConfiguration: mapVar('kube_proxy_configuration'),
    kubernetesVersion: kubernetesVersion ?? DEFAULTS.kubernetesVersion,
    podNetworkCidr: podNetworkCidr ?? DEFAULTS.podNetworkCidr,
    serviceCidr: serviceCidr ?? DEFAULTS.serviceCidr,
    controlPlaneEndpoint: endpoint,
    cni: (cni ?? DEFAULTS.cni) as ClusterSettings['cni'],
    containerRuntime: 'containerd',
    sudoUser: sudoUser ?? DEFAULTS.sudoUser,
    sudoUserPublicKey: publicKey,
    sudoUserPrivateKeyFile: privateKeyFile,
    allowSystemSudoUser: parseBool(
      v.kprov_allow_system_sudo_user ?? false,
      'kprov_allow_system_sudo_user',
      src('kprov_allow_system_sudo_user'),
      fail,
    ),
    imageRepository: imageRepository ?? DEFAULTS.imageRepository,
    clusterName: clusterName ?? DEFAULTS.clusterName,
    dnsDomain: dnsDomain ?? DEFAULTS.dnsDomain,
    artifactsDir: artifactsDir ? expandPath(artifactsDir, home, baseDir) : undefined,
    insecureRegistries,
    registryMirrors,
    ...(foreignJoin ? { foreignJoin } : {}),
  };
}

/** registry_mirrors: { upstream: url | [url, ...] } with http(s) URLs; problems go to fail. */
function mirrorsVar(value: unknown, fail: (message: string) => void): Record<string, string[]> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    fail(
      'registry_mirrors must be a mapping of upstream registry to mirror URL(s), ' +
        'e.g. registry.k8s.io: http://10.0.0.5:5000',
    );
    return {};
  }
  const out: Record<string, string[]> = {};
  for (const [upstream, mirrors] of Object.entries(value as Record<string, unknown>)) {
    const problem = registryHostProblem(upstream, 'registry_mirrors:');
    if (problem) fail(`${problem} (DNS name, IPv4 or [IPv6], optional port 1-65535)`);
    const urls = (Array.isArray(mirrors) ? mirrors : [mirrors]).map(String);
    const normalized: string[] = [];
    for (const url of urls) {
      const clean = normalizeRegistryUrl(url);
      if (clean === undefined) {
        const want = 'must be an http:// or https:// URL of a registry host (no credentials, query or backslashes)';
        fail(`registry_mirrors: mirror ${JSON.stringify(url)} of ${upstream} ${want}`);
      } else normalized.push(clean);
    }
    if (!problem) out[upstream] = normalized;
  }
  return out;
}

/** A var that must be one value: a list or mapping there is a mistake (it would print as "[object Object]"). */
function scalarVar(
  vars: Record<string, unknown>,
  k: string,
  source: SourceLocation | undefined,
  fail: Collect,
): string | undefined {
  const value = vars[k];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object') {
    fail(`${k} must be a single value, not a ${Array.isArray(value) ? 'list' : 'mapping'}`, source);
    return undefined;
  }
  return String(value);
}

function parsePort(text: string, what: string, source: SourceLocation | undefined, fail: Collect): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) {
    fail(`${what} must be a port number 1-65535, got "${text}"`, source);
    return 22;
  }
  return n;
}

export function parseBool(value: unknown, what: string, source: SourceLocation | undefined, fail: Collect): boolean {
  if (typeof value === 'boolean') return value;
  const s = String(value).toLowerCase();
  if (['true', 'yes', 'on', '1', 'y'].includes(s)) return true;
  if (['false', 'no', 'off', '0', 'n'].includes(s)) return false;
  fail(`${what} must be true or false, got "${value}"`, source);
  return false;
}

/** Find `-o ProxyJump=...`, `-o ProxyJump ...` or `-J ...` in ansible_ssh_common_args. */
export function proxyJumpFrom(args: string | undefined): string | undefined {
  if (!args) return undefined;
  const m = /(?:-o\s*ProxyJump[=\s]\s*|-J\s*)(\S+)/i.exec(args.replace(/["']/g, ''));
  return m?.[1];
}

export function parseJump(text: string): JumpHost | string {
  if (text.includes(',')) return `only one jump host is supported, got "${text}"`;
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:\s]+)(?::(\d+))?$/.exec(text.replace(/^ssh:\/\//, ''));
  if (!m) return `invalid jump host "${text}": expected [user@]host[:port]`;
  const port = m[3] ? Number(m[3]) : 22;
  if (port < 1 || port > 65535) return `invalid port in jump host "${text}"`;
  return { user: m[1], host: m[2].replace(/^\[|\]$/g, ''), port };
}
