import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import {
  VM_MEMORY_MIB,
  qemuArgs,
  shellQuote,
  vmBridgeName,
  vmHostRules,
  vmKernelCmdline,
  vmMac,
  vmNodeAddress,
  vmResourceShortfall,
  vmSeedFiles,
  vmTapName,
} from './vm-config.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOdB1pKxPq0oVZ6s0lqJc4Dkqf7mY3o2s8Qf5m0QfXk7 kprov-lab-x';

describe('VM lab names and addresses', () => {
  it('names bridges and taps within Linux interface names (15 characters), one per lab and node', () => {
    const long = 'a-very-long-lab-name-of-thirty1';
    for (const name of [vmBridgeName(long), vmTapName(long, 0), vmTapName(long, 99)])
      expect(name.length, name).toBeLessThanOrEqual(15);
    expect(vmBridgeName('a')).not.toBe(vmBridgeName('b'));
    expect(vmTapName('a', 1)).not.toBe(vmTapName('a', 2));
    expect(() => vmTapName('a', 100)).toThrow(/at most 100 nodes/);
  });

  it('gives nodes fixed addresses from .10 and stable, distinct MAC addresses', () => {
    expect(vmNodeAddress('10.211.7.0/24', 0)).toBe('10.211.7.10');
    expect(vmNodeAddress('10.211.7.0/24', 3)).toBe('10.211.7.13');
    expect(() => vmNodeAddress('10.211.7.0/24', 245)).toThrow(/at most 245 nodes/);
    expect(vmMac('lab', 0)).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(vmMac('lab', 0)).toBe(vmMac('lab', 0));
    expect(vmMac('lab', 0)).not.toBe(vmMac('lab', 1));
  });

  it("lets the bridge's traffic past Docker's FORWARD policy when Docker is there, and masquerades it", () => {
    const withDocker = vmHostRules('x', 'kpvb-1', '10.211.7.0/24', true);
    expect(withDocker.map((r) => r.slice(0, 2))).toEqual([
      ['filter', 'DOCKER-USER'],
      ['filter', 'DOCKER-USER'],
      ['nat', 'POSTROUTING'],
    ]);
    expect(withDocker[2]).toEqual(expect.arrayContaining(['-s', '10.211.7.0/24', '!', '-o', 'kpvb-1', 'MASQUERADE']));
    for (const rule of withDocker) expect(rule.join(' ')).toContain('--comment kprov-vmlab-x');
    expect(vmHostRules('x', 'kpvb-1', '10.211.7.0/24', false)[0][1]).toBe('FORWARD');
  });
});

describe('QEMU command line', () => {
  const input = {
    node: 'master1',
    role: 'master' as const,
    accel: 'tcg' as const,
    uuid: '3daf4672-0349-421a-b555-172f1baa4171',
    kernel: '/img/vmlinuz',
    initrd: '/img/initrd.img',
    disk: '/vms/n/disk.qcow2',
    seed: '/vms/n/seed.img',
    tap: 'kpvt12345678-0',
    mac: '52:54:00:01:02:03',
    pidFile: '/vms/n/qemu.pid',
    console: '/vms/n/console.log',
    monitor: '/vms/n/monitor.sock',
  };
  const value = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

  it('boots the kernel directly with cgroup v2 only, the node as hostname, and daemonizes', () => {
    const args = qemuArgs(input);
    expect(value(args, '-append')).toBe(vmKernelCmdline('master1'));
    expect(vmKernelCmdline('master1')).toContain('systemd.unified_cgroup_hierarchy=1');
    expect(vmKernelCmdline('master1')).toContain('systemd.hostname=master1');
    expect(value(args, '-m')).toBe(String(VM_MEMORY_MIB.master));
    expect(value(args, '-uuid')).toBe(input.uuid);
    expect(value(args, '-pidfile')).toBe('/vms/n/qemu.pid');
    expect(args).toContain('-daemonize');
    expect(args.filter((a) => a === '-drive')).toHaveLength(2);
    expect(value(args, '-netdev')).toBe('tap,id=net0,ifname=kpvt12345678-0,script=no,downscript=no');
  });

  it('uses KVM with the host CPU when told, software emulation with the richest CPU model otherwise', () => {
    expect(value(qemuArgs(input), '-accel')).toBe('tcg,tb-size=256');
    expect(value(qemuArgs(input), '-cpu')).toBe('max');
    const kvm = qemuArgs({ ...input, accel: 'kvm' });
    expect(value(kvm, '-accel')).toBe('kvm');
    expect(value(kvm, '-cpu')).toBe('host');
  });
});

describe('VM seed disk', () => {
  const seed = {
    node: 'worker1',
    address: '10.211.7.11',
    gateway: '10.211.7.1',
    nameservers: ['192.0.2.53'],
    authorizedKey: `${KEY}\n`,
    hostKey: { private: 'PRIVATE', public: 'ssh-ed25519 AAAA root@worker1\n' },
  };

  it("holds the node's address, name, resolvers, the lab's key and the node's host key", () => {
    const files = vmSeedFiles(seed);
    expect(files['network.env']).toBe('ADDRESS=10.211.7.11\nPREFIX=24\nGATEWAY=10.211.7.1\n');
    expect(files.hostname).toBe('worker1\n');
    expect(files.hosts).toContain('127.0.1.1 worker1\n');
    expect(files['resolv.conf']).toBe('nameserver 192.0.2.53\n');
    expect(files.authorized_keys).toBe(`${KEY}\n`);
    expect(files.ssh_host_ed25519_key).toBe('PRIVATE');
    // Without upstream resolvers the gateway is asked.
    expect(vmSeedFiles({ ...seed, nameservers: [] })['resolv.conf']).toBe('nameserver 10.211.7.1\n');
  });

  it('refuses values that the guest script would run as shell code', () => {
    expect(() => vmSeedFiles({ ...seed, node: 'w1\nrm -rf /' })).toThrow(/node/);
    expect(() => vmSeedFiles({ ...seed, address: '10.0.0.1; reboot' })).toThrow(/address/);
    expect(() => vmSeedFiles({ ...seed, gateway: '$(id)' })).toThrow(/gateway/);
  });
});

describe('shellQuote', () => {
  it('passes any script through a remote shell unchanged', () => {
    for (const s of ["echo 'a b'", 'printf "%s\\n" $HOME', "it's; `id` $(id)\nline2"]) {
      const out = execFileSync('sh', ['-c', `printf %s ${shellQuote(s)}`], { encoding: 'utf8', timeout: 10_000 });
      expect(out).toBe(s);
    }
  });
});

describe('VM resources', () => {
  it('stops a lab that needs more memory or disk than the machine has', () => {
    expect(vmResourceShortfall(['master'], { memoryMiB: 8000, diskGiB: 50 })).toBeUndefined();
    expect(vmResourceShortfall(['master', 'worker', 'worker'], { memoryMiB: 4000, diskGiB: 50 })).toMatch(
      /3 VMs need 5632 MiB of memory and this machine has 4000 MiB available/,
    );
    expect(vmResourceShortfall(['master'], { memoryMiB: 8000, diskGiB: 2 })).toMatch(/about 4 GiB of disk/);
  });
});
