import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  ipv4Range,
  LXD_IMAGE_PACKAGES,
  LXD_TEMPLATES,
  lxdAddressPlan,
  lxdBridgeConfig,
  lxdBridgeName,
  lxdDockerUserRules,
  lxdImageMetadata,
  lxdInstanceName,
  lxdNodeAddress,
  lxdPreseed,
  lxdProfile,
  pickLxdSubnet,
} from './lxd-config.js';
import { planNodes } from './lab.js';

describe('LXD lab: names', () => {
  it('bridge names fit a Linux interface name (15 characters) and differ per lab', () => {
    expect(lxdBridgeName('lxd1')).toBe('kprov-lxd1');
    const long = lxdBridgeName('a-very-long-lab-name');
    expect(long).toMatch(/^kprov-[0-9a-f]{9}$/);
    expect(long.length).toBeLessThanOrEqual(15);
    expect(long).not.toBe(lxdBridgeName('a-very-long-lab-name2'));
    expect(lxdBridgeName('a'.repeat(31)).length).toBeLessThanOrEqual(15);
  });

  it('instance names carry the lab, so labs never collide', () => {
    expect(lxdInstanceName('lxd1', 'master1')).toBe('kprov-lxd1-master1');
  });
});

describe('LXD lab: address plan', () => {
  it('ipv4Range reads CIDRs and bare addresses', () => {
    expect(ipv4Range('10.0.0.0/8')).toEqual([0x0a000000, 0x0affffff]);
    expect(ipv4Range('10.210.3.7/24')).toEqual([0x0ad20300, 0x0ad203ff]);
    expect(ipv4Range('192.168.1.1')).toEqual([0xc0a80101, 0xc0a80101]);
    expect(ipv4Range('fd00::/64')).toBeUndefined();
    expect(ipv4Range('10.0.0.300/24')).toBeUndefined();
  });

  it('picks the same /24 for a lab name every time, and another one when that is taken', () => {
    const first = pickLxdSubnet('lxd1', []);
    expect(first).toMatch(/^10\.210\.\d{1,3}\.0\/24$/);
    expect(pickLxdSubnet('lxd1', ['172.17.0.0/16', '0.0.0.0/0'])).toBe(first);
    const gateway = first.replace('.0/24', '.1/24');
    const second = pickLxdSubnet('lxd1', [gateway]);
    expect(second).not.toBe(first);
    expect(pickLxdSubnet('lxd1', [first, second])).not.toBe(second);
  });

  it('refuses when the whole range is in use', () => {
    expect(() => pickLxdSubnet('lxd1', ['10.210.0.0/16'])).toThrow(/no free \/24 left/);
  });

  it('gives nodes fixed addresses from .10 in plan order, the load balancer last', () => {
    expect(lxdAddressPlan('10.210.5.0/24', planNodes({ masters: 3, workers: 2 }))).toEqual({
      master1: '10.210.5.10',
      master2: '10.210.5.11',
      master3: '10.210.5.12',
      worker1: '10.210.5.13',
      worker2: '10.210.5.14',
      lb: '10.210.5.15',
    });
    expect(() => lxdNodeAddress('10.210.5.0/24', 245)).toThrow(/at most 245 nodes/);
  });

  it('the bridge has its own gateway address, NAT and no IPv6', () => {
    expect(lxdBridgeConfig('10.210.5.0/24')).toEqual({
      'ipv4.address': '10.210.5.1/24',
      'ipv4.nat': 'true',
      'ipv6.address': 'none',
    });
  });

  it('DOCKER-USER rules accept the bridge both ways, marked with the lab for lab down', () => {
    expect(lxdDockerUserRules('lxd1', 'kprov-lxd1')).toEqual([
      ['-i', 'kprov-lxd1', '-m', 'comment', '--comment', 'kprov-lab-lxd1', '-j', 'ACCEPT'],
      ['-o', 'kprov-lxd1', '-m', 'comment', '--comment', 'kprov-lab-lxd1', '-j', 'ACCEPT'],
    ]);
  });
});

describe('LXD lab: documents given to LXD', () => {
  it('the preseed makes a dir pool and a default profile on it, and no network', () => {
    const doc = parse(lxdPreseed());
    expect(doc.storage_pools).toEqual([{ name: 'default', driver: 'dir', config: {} }]);
    expect(doc.networks).toEqual([]);
    expect(doc.profiles[0].devices.root).toEqual({ path: '/', pool: 'default', type: 'disk' });
  });

  it("the profile is the tutorial's privileged one, without linux.kernel_modules, with cgroup:rw:force", () => {
    const doc = parse(lxdProfile({ pool: 'default', bridge: 'kprov-lxd1' }));
    expect(doc.config['security.privileged']).toBe('true');
    expect(doc.config['security.nesting']).toBe('true');
    expect(doc.config['linux.kernel_modules']).toBeUndefined();
    expect(doc.config['raw.lxc'].split('\n')).toEqual([
      'lxc.apparmor.profile=unconfined',
      'lxc.cap.drop=',
      'lxc.cgroup.devices.allow=a',
      'lxc.mount.auto=proc:rw sys:rw cgroup:rw:force',
    ]);
    expect(doc.devices).toEqual({
      root: { path: '/', pool: 'default', type: 'disk' },
      eth0: { name: 'eth0', network: 'kprov-lxd1', type: 'nic' },
      kmsg: { path: '/dev/kmsg', source: '/dev/kmsg', type: 'unix-char' },
    });
  });

  it('the unprivileged profile keeps nesting and the cgroup mounts, and lifts no capabilities or devices', () => {
    const doc = parse(lxdProfile({ pool: 'default', bridge: 'kprov-lxd1', unprivileged: true }));
    expect(doc.config['security.privileged']).toBe('false');
    expect(doc.config['security.nesting']).toBe('true');
    expect(doc.config['raw.lxc'].split('\n')).toEqual([
      'lxc.apparmor.profile=unconfined',
      'lxc.mount.auto=proc:rw sys:rw cgroup:rw:force',
    ]);
    expect(doc.description).toMatch(/unprivileged/);
  });

  it("metadata.yaml renders /etc/hostname and /etc/hosts from the node's name at create", () => {
    const doc = parse(lxdImageMetadata(1_700_000_000));
    expect(doc.architecture).toBe('x86_64');
    expect(doc.creation_date).toBe(1_700_000_000);
    expect(doc.templates['/etc/hostname']).toEqual({
      when: ['create', 'copy'],
      create_only: false,
      template: 'hostname.tpl',
    });
    expect(Object.keys(LXD_TEMPLATES).sort()).toEqual(
      Object.values(doc.templates as Record<string, { template: string }>)
        .map((t) => t.template)
        .sort(),
    );
    expect(LXD_TEMPLATES['hostname.tpl']).toBe('{{ config_get("user.kprov.node", container.name) }}\n');
  });

  it('the image has a DHCP client with ifupdown (networkd waits for udev under sys:rw)', () => {
    expect(LXD_IMAGE_PACKAGES).toEqual(expect.arrayContaining(['ifupdown', 'isc-dhcp-client', 'openssh-server']));
    expect(LXD_IMAGE_PACKAGES).not.toContain('systemd-resolved');
  });
});
