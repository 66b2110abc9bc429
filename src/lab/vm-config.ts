import { createHash } from 'node:crypto';
import { UserError } from '../errors/index.js';
import type { LabRole } from './driver.js';
import { LAB_ROOTFS_PACKAGES } from './packages.js';

// Pure parts of the VM lab driver: names, the address plan, QEMU's command line, the seed disk and the guest image's
// own files. No I/O here.

/** Bump when the guest image recipe changes, so an old cached image is not reused. */
export const VM_IMAGE_VERSION = 'bookworm-1';
/** Where lab bridges take their /24s from (LXD labs take 10.210). */
export const VM_SUBNET_BASE = '10.211';
/** Nodes take .10 onwards, in plan order, as in an LXD lab. */
export const VM_FIRST_NODE_HOST = 10;

/** Memory per node, MiB: a control plane with etcd needs more than a kubelet; the load balancer runs only haproxy. */
export const VM_MEMORY_MIB: Record<LabRole, number> = { master: 2560, worker: 1536, lb: 384 };
/** vCPUs per node; under software emulation each one costs a host thread while busy. */
export const VM_CPUS: Record<LabRole, number> = { master: 2, worker: 1, lb: 1 };
/** Size of the root filesystem each node sees (sparse: only what is written takes disk). */
export const VM_DISK_GIB = 16;
/** Disk a node's overlay grows to with a cluster's images, for the free-space check. */
export const VM_DISK_NEED_GIB = 4;

const hash = (s: string) => createHash('sha256').update(s).digest('hex');

/** The lab's bridge (a Linux interface name, at most 15 characters). */
export const vmBridgeName = (lab: string) => `kpvb-${hash(lab).slice(0, 8)}`;
/** A node's tap device on the bridge. */
export function vmTapName(lab: string, index: number): string {
  if (index < 0 || index > 99) throw new UserError('a VM lab has room for at most 100 nodes');
  return `kpvt${hash(lab).slice(0, 8)}-${index}`;
}
/** The iptables comment that marks a lab's rules, so lab down removes exactly those. */
export const vmRuleComment = (lab: string) => `kprov-vmlab-${lab}`;

/** The bridge's address (the nodes' gateway) and a node's address in the lab's /24. */
export const vmGateway = (subnet: string) => subnet.replace(/\.0\/24$/, '.1');
export function vmNodeAddress(subnet: string, index: number): string {
  if (index < 0 || VM_FIRST_NODE_HOST + index > 254)
    throw new UserError(`a VM lab has room for at most ${255 - VM_FIRST_NODE_HOST} nodes`);
  return subnet.replace(/\.0\/24$/, `.${VM_FIRST_NODE_HOST + index}`);
}

/** A stable MAC address per lab and node (QEMU's 52:54:00 prefix). */
export function vmMac(lab: string, index: number): string {
  const h = hash(`${lab}/${index}`);
  return `52:54:00:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
}

/**
 * iptables rules, each as [table, chain, ...rule], that let the bridge's traffic out: past Docker's FORWARD DROP
 * policy (DOCKER-USER, when Docker is there) or an ACCEPT in FORWARD otherwise, and masqueraded to the outside.
 */
export function vmHostRules(lab: string, bridge: string, subnet: string, dockerUser: boolean): string[][] {
  const comment = ['-m', 'comment', '--comment', vmRuleComment(lab)];
  const chain = dockerUser ? 'DOCKER-USER' : 'FORWARD';
  return [
    ['filter', chain, '-i', bridge, ...comment, '-j', 'ACCEPT'],
    ['filter', chain, '-o', bridge, ...comment, '-j', 'ACCEPT'],
    ['nat', 'POSTROUTING', '-s', subnet, '!', '-o', bridge, ...comment, '-j', 'MASQUERADE'],
  ];
}

/** How QEMU runs guests: hardware virtualisation when it boots a kernel here, else software emulation. */
export type VmAccel = 'kvm' | 'tcg';

export interface QemuInput {
  node: string;
  role: LabRole;
  accel: VmAccel;
  uuid: string;
  kernel: string;
  initrd: string;
  disk: string;
  seed: string;
  tap: string;
  mac: string;
  pidFile: string;
  console: string;
  monitor: string;
}

/** The guest kernel's command line: root on the first disk, the serial console, cgroup v2 only. */
export function vmKernelCmdline(node: string): string {
  return [
    'root=/dev/vda',
    'rw',
    'console=ttyS0',
    'net.ifnames=0',
    'systemd.unified_cgroup_hierarchy=1',
    `systemd.hostname=${node}`,
    'panic=10',
  ].join(' ');
}

/** qemu-system-x86_64's arguments for one node: direct kernel boot, virtio disks and NIC, daemonized. */
export function qemuArgs(i: QemuInput): string[] {
  const accel = i.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,tb-size=256', '-cpu', 'max'];
  return [
    '-name',
    i.node,
    ...accel,
    '-machine',
    'q35',
    '-m',
    String(VM_MEMORY_MIB[i.role]),
    '-smp',
    String(VM_CPUS[i.role]),
    '-uuid',
    i.uuid,
    '-kernel',
    i.kernel,
    '-initrd',
    i.initrd,
    '-append',
    vmKernelCmdline(i.node),
    '-drive',
    `file=${i.disk},if=virtio,format=qcow2,discard=unmap`,
    '-drive',
    `file=${i.seed},if=virtio,format=raw,readonly=on`,
    '-netdev',
    `tap,id=net0,ifname=${i.tap},script=no,downscript=no`,
    '-device',
    `virtio-net-pci,netdev=net0,mac=${i.mac}`,
    '-device',
    'virtio-rng-pci',
    '-display',
    'none',
    '-serial',
    `file:${i.console}`,
    '-monitor',
    `unix:${i.monitor},server,nowait`,
    '-pidfile',
    i.pidFile,
    '-daemonize',
  ];
}

export interface SeedInput {
  node: string;
  address: string;
  gateway: string;
  nameservers: string[];
  authorizedKey: string;
  hostKey: { private: string; public: string };
}

/** The files of a node's seed disk (read by kprov-vm-seed at boot): who the node is and how it is reached. */
export function vmSeedFiles(s: SeedInput): Record<string, string> {
  for (const [what, v] of Object.entries({ node: s.node, address: s.address, gateway: s.gateway })) {
    if (!/^[a-z0-9.-]+$/.test(v)) throw new UserError(`VM seed: ${what} "${v}" is not a plain name or address`);
  }
  return {
    'network.env': `ADDRESS=${s.address}\nPREFIX=24\nGATEWAY=${s.gateway}\n`,
    hostname: `${s.node}\n`,
    hosts: `127.0.0.1 localhost\n127.0.1.1 ${s.node}\n::1 localhost ip6-localhost ip6-loopback\n`,
    'resolv.conf': (s.nameservers.length > 0 ? s.nameservers : [s.gateway]).map((n) => `nameserver ${n}\n`).join(''),
    authorized_keys: `${s.authorizedKey.trim()}\n`,
    ssh_host_ed25519_key: s.hostKey.private,
    'ssh_host_ed25519_key.pub': s.hostKey.public,
  };
}

/** Packages of the guest: the Docker lab's, a kernel and udev (a real machine), and haproxy for the lb node. */
export const VM_IMAGE_PACKAGES = [...LAB_ROOTFS_PACKAGES, 'linux-image-amd64', 'udev', 'haproxy'];

const SEED_SCRIPT = `#!/bin/sh
# kprov lab VM: take this node's identity and network from its seed disk (the second virtio disk).
set -eu
for _ in $(seq 1 100); do [ -b /dev/vdb ] && break; sleep 0.1; done
mkdir -p /run/kprov-seed
mount -o ro /dev/vdb /run/kprov-seed
seed=/run/kprov-seed
. "$seed/network.env"
ip link set lo up
ip link set eth0 up
ip addr replace "$ADDRESS/$PREFIX" dev eth0
ip route replace default via "$GATEWAY"
cp "$seed/resolv.conf" /etc/resolv.conf
cp "$seed/hostname" /etc/hostname
cp "$seed/hosts" /etc/hosts
hostname -F /etc/hostname
install -d -m 700 /root/.ssh
install -m 600 "$seed/authorized_keys" /root/.ssh/authorized_keys
install -m 600 "$seed/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
install -m 644 "$seed/ssh_host_ed25519_key.pub" /etc/ssh/ssh_host_ed25519_key.pub
ssh-keygen -A
umount /run/kprov-seed
`;

/** Files the guest image gets on top of its packages (path in the rootfs to content and mode). */
export const VM_IMAGE_FILES: Record<string, { content: string; mode: number }> = {
  '/usr/local/sbin/kprov-vm-seed': { content: SEED_SCRIPT, mode: 0o755 },
  '/etc/systemd/system/kprov-vm-seed.service': {
    mode: 0o644,
    content: [
      '[Unit]',
      'Description=kprov lab VM: identity and network from the seed disk',
      'DefaultDependencies=no',
      'After=local-fs.target systemd-udevd.service',
      'Before=ssh.service network-online.target',
      '',
      '[Service]',
      'Type=oneshot',
      'RemainAfterExit=yes',
      'ExecStart=/usr/local/sbin/kprov-vm-seed',
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n'),
  },
  '/etc/fstab': { mode: 0o644, content: '/dev/vda / ext4 rw,discard 0 1\n' },
};

/** Memory and disk a lab of VMs needs here, against what the machine has: a reason to stop, or undefined. */
export function vmResourceShortfall(
  roles: LabRole[],
  free: { memoryMiB: number; diskGiB: number },
): string | undefined {
  const memory = roles.reduce((sum, r) => sum + VM_MEMORY_MIB[r], 0);
  const disk = roles.length * VM_DISK_NEED_GIB;
  const n = `the lab's ${roles.length} VMs need`;
  if (memory > free.memoryMiB)
    return `${n} ${memory} MiB of memory and this machine has ${free.memoryMiB} MiB available`;
  if (disk > free.diskGiB)
    return `${n} about ${disk} GiB of disk and the VM directory's file system has ${free.diskGiB} GiB free`;
  return undefined;
}

/** A word for a POSIX shell: single-quoted, with single quotes inside closed, escaped and reopened. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}
