import { CA_TRUST_EXTRA_DIRS } from '../kubeadm/constants.js';
import { canonicalIPv6 } from '../net/ipv6.js';
/** What kprov learns about a host before it changes anything. */
export interface Facts {
  osId: string;
  osVersion: string;
  osLike: string;
  arch: string;
  kernel: string;
  hostname: string;
  machineId: string;
  productUuid: string;
  cpus: number;
  memoryMb: number;
  swapActive: boolean;
  initSystem: string;
  packageManager: 'apt' | 'dnf' | 'yum' | 'unknown';
  criSockets: string[];
  containerdVersion?: string;
  /**
   * Whether processes here may lower their OOM score (false in some containers and sandboxes without
   * CAP_SYS_RESOURCE).
   */
  canLowerOomScore: boolean;
  /** 2 on the unified hierarchy (cgroup2fs at /sys/fs/cgroup), otherwise 1. */
  cgroupVersion: 1 | 2;
  /** Which of the CA-trust directories kubeadm mounts into the control plane exist here. */
  caTrustDirs?: string[];
}

/** One remote script prints key=value lines; parseFacts turns them into Facts. Read-only. */
export const FACTS_SCRIPT = [
  `[ -r /etc/os-release ] && . /etc/os-release`,
  `echo "os_id=$ID"; echo "os_version=$VERSION_ID"; echo "os_like=$ID_LIKE"`,
  `echo "arch=$(uname -m)"; echo "kernel=$(uname -r)"; echo "hostname=$(hostname)"`,
  `echo "machine_id=$(cat /etc/machine-id 2>/dev/null)"`,
  `echo "product_uuid=$(cat /sys/class/dmi/id/product_uuid 2>/dev/null)"`,
  `echo "cpus=$(nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo)"`,
  `echo "mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"`,
  `echo "swaps=$(tail -n +2 /proc/swaps 2>/dev/null | wc -l)"`,
  `echo "init=$(cat /proc/1/comm 2>/dev/null)"`,
  'for s in /var/run/containerd/containerd.sock /var/run/crio/crio.sock /var/run/cri-dockerd.sock; do ' +
    '[ -S "$s" ] && echo "cri_socket=$s"; done',
  'if command -v apt-get >/dev/null; then echo pkg=apt; ' +
    'elif command -v dnf >/dev/null; then echo pkg=dnf; elif command -v yum >/dev/null; then echo pkg=yum; fi',
  `command -v containerd >/dev/null && echo "containerd_version=$(containerd --version | awk '{print $3}')"`,
  `(echo -1 > /proc/self/oom_score_adj) 2>/dev/null && echo oom_lower=yes || echo oom_lower=no`,
  `echo "cgroup_fs=$(stat -fc %T /sys/fs/cgroup 2>/dev/null)"`,
  `for d in ${CA_TRUST_EXTRA_DIRS.join(' ')}; do [ -e "$d" ] && echo "ca_dir=$d"; done`,
  `true`,
].join('\n');

export function parseFacts(output: string): Facts {
  const values = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    values.set(key, [...(values.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  const one = (k: string) => values.get(k)?.[0] ?? '';
  const pkg = one('pkg');
  return {
    osId: one('os_id'),
    osVersion: one('os_version'),
    osLike: one('os_like'),
    arch: one('arch'),
    kernel: one('kernel'),
    hostname: one('hostname'),
    machineId: one('machine_id'),
    productUuid: one('product_uuid'),
    cpus: Number(one('cpus')) || 0,
    memoryMb: Math.round((Number(one('mem_kb')) || 0) / 1024),
    swapActive: Number(one('swaps')) > 0,
    initSystem: one('init'),
    packageManager: pkg === 'apt' || pkg === 'dnf' || pkg === 'yum' ? pkg : 'unknown',
    criSockets: values.get('cri_socket') ?? [],
    containerdVersion: one('containerd_version') || undefined,
    canLowerOomScore: one('oom_lower') !== 'no',
    cgroupVersion: one('cgroup_fs') === 'cgroup2fs' ? 2 : 1,
    caTrustDirs: values.get('ca_dir') ?? [],
  };
}

const SUPPORTED_OS = ['debian', 'ubuntu', 'rhel', 'centos', 'rocky', 'almalinux', 'fedora', 'ol'];

/** Problems that make a host unusable, each a sentence for the operator. */
export function hostProblems(f: Facts): string[] {
  const problems: string[] = [];
  const family = [f.osId, ...f.osLike.split(/\s+/)];
  if (!family.some((id) => SUPPORTED_OS.includes(id)))
    problems.push(`unsupported OS "${f.osId || 'unknown'}" (supported: Debian, Ubuntu and the RHEL family)`);
  if (f.initSystem !== 'systemd')
    problems.push(`init system is "${f.initSystem}", kprov needs systemd to run containerd and kubelet`);
  if (!['x86_64', 'aarch64'].includes(f.arch)) problems.push(`unsupported architecture ${f.arch}`);
  if (f.packageManager === 'unknown') problems.push('no apt-get, dnf or yum found');
  if (!f.machineId) problems.push('/etc/machine-id is empty: run systemd-machine-id-setup');
  return problems;
}

/** Identity that must be unique across the cluster: clones of one VM image are a classic mistake. */
export function duplicateIdentities(hosts: { name: string; facts: Facts }[]): Map<string, string> {
  const problems = new Map<string, string>();
  for (const [label, pick] of [
    ['hostname', (f: Facts) => f.hostname],
    ['machine-id', (f: Facts) => f.machineId],
    ['product_uuid', (f: Facts) => f.productUuid],
  ] as const) {
    const seen = new Map<string, string>();
    for (const h of hosts) {
      const value = pick(h.facts);
      if (!value) continue;
      const other = seen.get(value);
      if (other) problems.set(h.name, `${label} "${value}" is the same as on ${other} (cloned machine?)`);
      else seen.set(value, h.name);
    }
  }
  return problems;
}

/** Read-only: a dual-stack node's global IPv6 addresses and its IPv4 and IPv6 default routes, in three sections. */
export const IPV6_NETWORK_SCRIPT =
  'ip -o -6 addr show scope global 2>&1; echo ---; ip -o -4 route show default 2>&1; echo ---; ' +
  'ip -o -6 route show default 2>&1';

/**
 * What keeps a host from being a dual-stack node with this IPv6 address: the address must be on one of its
 * interfaces (the kubelet registers it), and with flannel there must be an IPv6 default route on the interface of the
 * IPv4 one (flanneld picks its interface from the default routes and refuses two different ones).
 */
export function ipv6NodeProblems(nodeIp6: string, output: string, flannel: boolean): string[] {
  const [addrs = '', v4Routes = '', v6Routes = ''] = output.split(/^---$/m);
  const problems: string[] = [];
  const mine = [...addrs.matchAll(/\binet6 ([0-9a-fA-F:.]+)\/\d+/g)].map((m) => canonicalIPv6(m[1]));
  if (!mine.includes(nodeIp6)) {
    const found = mine.filter(Boolean).join(', ') || 'none';
    problems.push(`node_ip6 ${nodeIp6} is not an address of this host (global IPv6 addresses: ${found})`);
  }
  if (!flannel) return problems;
  const dev = (routes: string) => /^default\b.*\bdev (\S+)/m.exec(routes)?.[1];
  const v4Dev = dev(v4Routes);
  const v6Dev = dev(v6Routes);
  if (v6Dev === undefined) {
    problems.push(
      'no IPv6 default route: flannel needs one for dual-stack (on the interface of the IPv4 default route)',
    );
  } else if (v4Dev !== undefined && v4Dev !== v6Dev) {
    problems.push(
      `the IPv6 default route is on ${v6Dev} but the IPv4 one on ${v4Dev}: flannel needs both on the same interface`,
    );
  }
  return problems;
}
