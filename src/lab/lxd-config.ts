import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { UserError } from '../errors/index.js';
import type { NodeSpec } from './driver.js';
import { LAB_ROOTFS_PACKAGES } from './packages.js';

// Pure parts of the LXD lab driver: names, the address plan, and the documents given to LXD. No I/O here.

/** Bump when the image recipe changes, so an old cached image is not reused. */
export const LXD_IMAGE_ALIAS = 'kprov-lab-bookworm-1';
/** Instance config keys kprov sets on its nodes: the lab that owns it and the node's name in the inventory. */
export const LXD_LAB_KEY = 'user.kprov.lab';
export const LXD_NODE_KEY = 'user.kprov.node';
/** The storage pool kprov creates when LXD has none yet. */
export const LXD_DEFAULT_POOL = 'default';
/** Where lab bridges take their /24s from. */
export const LXD_SUBNET_BASE = '10.210';

export const lxdInstanceName = (lab: string, node: string) => `kprov-${lab}-${node}`;
export const lxdProfileName = (lab: string) => `kprov-${lab}`;

/** A Linux interface name (at most 15 characters): kprov-NAME when it fits, else kprov- and a hash of the name. */
export function lxdBridgeName(lab: string): string {
  const plain = `kprov-${lab}`;
  if (plain.length <= 15) return plain;
  return `kprov-${createHash('sha256').update(lab).digest('hex').slice(0, 9)}`;
}

/** The DOCKER-USER comment that marks a lab's rules, so lab down removes exactly those. */
export const lxdRuleComment = (lab: string) => `kprov-lab-${lab}`;

/**
 * iptables rules (arguments after `-I DOCKER-USER` / `-D DOCKER-USER`) that let the lab bridge's traffic past Docker's
 * FORWARD DROP policy: node to node (bridged, seen by iptables through br_netfilter), and to and from the outside.
 */
export function lxdDockerUserRules(lab: string, bridge: string): string[][] {
  const comment = ['-m', 'comment', '--comment', lxdRuleComment(lab)];
  return [
    ['-i', bridge, ...comment, '-j', 'ACCEPT'],
    ['-o', bridge, ...comment, '-j', 'ACCEPT'],
  ];
}

function ipv4ToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

/** [first, last] address of an IPv4 CIDR (a bare address is a /32), or undefined if it is not one. */
export function ipv4Range(cidr: string): [number, number] | undefined {
  const [ip, prefixText] = cidr.split('/');
  const base = ipv4ToInt(ip);
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  if (base === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  const first = base - (base % size);
  return [first, first + size - 1];
}

/**
 * The lab bridge's /24 in 10.210.0.0/16 (or another /16 base): one per lab name (a hash picks where to start), the
 * first that overlaps none of the networks in use (the host's routes and addresses, other LXD networks), so two labs
 * never share one.
 */
export function pickLxdSubnet(lab: string, inUse: string[], base = LXD_SUBNET_BASE): string {
  const used = inUse.map(ipv4Range).filter((r): r is [number, number] => r !== undefined);
  const start = createHash('sha256').update(lab).digest().readUInt8(0);
  for (let i = 0; i < 256; i++) {
    const third = (start + i) % 256;
    const cidr = `${base}.${third}.0/24`;
    const [a, b] = ipv4Range(cidr)!;
    // A default route (0.0.0.0/0) overlaps everything and says nothing about what is in use.
    if (!used.some(([c, d]) => d - c < 2 ** 31 && a <= d && c <= b)) return cidr;
  }
  throw new UserError(`no free /24 left in ${base}.0.0/16 for a lab bridge`);
}

/** The bridge's own address (the nodes' gateway): .1 of the subnet, with its prefix. */
export function lxdGateway(subnet: string): string {
  return subnet.replace(/\.0\/24$/, '.1/24');
}

/** Nodes take .10 onwards, in plan order (masters, workers, the load balancer): fixed, so the inventory is stable. */
export const LXD_FIRST_NODE_HOST = 10;

export function lxdNodeAddress(subnet: string, index: number): string {
  if (index < 0 || LXD_FIRST_NODE_HOST + index > 254)
    throw new UserError(`an LXD lab has room for at most ${255 - LXD_FIRST_NODE_HOST} nodes`);
  return subnet.replace(/\.0\/24$/, `.${LXD_FIRST_NODE_HOST + index}`);
}

/** The address plan of a lab: node name to address. */
export function lxdAddressPlan(subnet: string, nodes: NodeSpec[]): Record<string, string> {
  return Object.fromEntries(nodes.map((n, i) => [n.name, lxdNodeAddress(subnet, i)]));
}

/**
 * `lxd init --preseed` for an LXD that has never been initialised: a `dir` storage pool and a default profile with
 * the root disk on it. No network: every lab makes its own bridge (`lxd init --auto` cannot pick a subnet here).
 */
export function lxdPreseed(pool = LXD_DEFAULT_POOL): string {
  return stringify({
    config: {},
    networks: [],
    storage_pools: [{ name: pool, driver: 'dir', config: {} }],
    profiles: [{ name: 'default', devices: { root: { path: '/', pool, type: 'disk' } } }],
  });
}

/** `lxc network create` settings of a lab bridge: its gateway address, NAT to the outside, no IPv6. */
export function lxdBridgeConfig(subnet: string): Record<string, string> {
  return { 'ipv4.address': lxdGateway(subnet), 'ipv4.nat': 'true', 'ipv6.address': 'none' };
}

/**
 * The Kubernetes node profile (`lxc profile edit`), as the classic tutorial's privileged profile with what this kind
 * of host needs instead: no linux.kernel_modules (nothing is loadable; overlay, br_netfilter and vxlan are built in,
 * and LXD fails to start the instance when modprobe fails), and cgroup:rw:force in raw.lxc (without it the cpu and
 * cpuacct hierarchies are missing inside and runc cannot set CPU limits).
 */
export function lxdProfile(opts: { pool: string; bridge: string; unprivileged?: boolean }): string {
  // Unprivileged: root in the node is an unprivileged user of this machine (a user namespace). It keeps nesting and
  // the writable cgroup mounts; it cannot drop the capability bounding set or lift the devices cgroup for itself.
  const rawLxc = (
    opts.unprivileged
      ? ['lxc.apparmor.profile=unconfined', 'lxc.mount.auto=proc:rw sys:rw cgroup:rw:force']
      : [
          'lxc.apparmor.profile=unconfined',
          'lxc.cap.drop=',
          'lxc.cgroup.devices.allow=a',
          'lxc.mount.auto=proc:rw sys:rw cgroup:rw:force',
        ]
  ).join('\n');
  return stringify({
    description: `kprov lab: ${opts.unprivileged ? 'unprivileged' : 'privileged'} Kubernetes node (systemd, nesting)`,
    config: {
      'security.privileged': opts.unprivileged ? 'false' : 'true',
      'security.nesting': 'true',
      'raw.lxc': rawLxc,
    },
    devices: {
      root: { path: '/', pool: opts.pool, type: 'disk' },
      eth0: { name: 'eth0', network: opts.bridge, type: 'nic' },
      kmsg: { path: '/dev/kmsg', source: '/dev/kmsg', type: 'unix-char' },
    },
  });
}

/** metadata.yaml of the image: what it is, and the templates LXD renders when an instance is created. */
export function lxdImageMetadata(createdEpochSeconds: number): string {
  const onCreate = (template: string) => ({ when: ['create', 'copy'], create_only: false, template });
  return stringify({
    architecture: 'x86_64',
    creation_date: createdEpochSeconds,
    properties: { description: 'kprov lab node: Debian bookworm, systemd, sshd', os: 'debian', release: 'bookworm' },
    templates: { '/etc/hostname': onCreate('hostname.tpl'), '/etc/hosts': onCreate('hosts.tpl') },
  });
}

/** The node's name from its instance config (the inventory name), else the instance name. */
const NODE_NAME = `{{ config_get("${LXD_NODE_KEY}", container.name) }}`;

export const LXD_TEMPLATES: Record<string, string> = {
  'hostname.tpl': `${NODE_NAME}\n`,
  'hosts.tpl': `127.0.0.1 localhost\n127.0.1.1 ${NODE_NAME}\n::1 localhost ip6-localhost ip6-loopback\n`,
};

/** Packages of the LXD node image: the Docker lab's, plus what brings eth0 up (ifupdown + a DHCP client). */
export const LXD_IMAGE_PACKAGES = [
  ...LAB_ROOTFS_PACKAGES,
  // systemd-networkd waits forever for udev under sys:rw; ifupdown with dhclient takes the address LXD assigns.
  'ifupdown',
  'isc-dhcp-client',
  // The API load balancer of labs with several masters; off unless the lab starts it on its lb node.
  'haproxy',
];

/** Files the image gets on top of the packages (path in the rootfs to content). */
export const LXD_IMAGE_FILES: Record<string, string> = {
  '/etc/network/interfaces': 'auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n',
  // First boot: SSH host keys of its own, and shared mount propagation (kubelet volumes), as on a VM.
  '/etc/systemd/system/kprov-lab-firstboot.service': [
    '[Unit]',
    'Description=kprov lab: SSH host keys and shared mounts',
    'Before=ssh.service',
    'DefaultDependencies=no',
    'After=local-fs.target',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    'ExecStart=/usr/bin/ssh-keygen -A',
    'ExecStart=/bin/mount --make-rshared /',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n'),
};

/** Units masked in the image: consoles and kernel mounts a container neither has nor needs. */
export const LXD_IMAGE_MASKED = [
  'getty.target',
  'console-getty.service',
  'systemd-udevd.service',
  'systemd-udev-trigger.service',
  'systemd-modules-load.service',
  'systemd-remount-fs.service',
  'systemd-firstboot.service',
  'sys-kernel-debug.mount',
  'sys-kernel-tracing.mount',
  'sys-kernel-config.mount',
  'dev-hugepages.mount',
];
