import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { loadInventory } from '../config/inventory.js';
import { resolveSettings } from '../config/settings.js';
import { clusterStateDir } from '../actions/init.js';
import {
  labInventory,
  labInventoryPath,
  labUp,
  labIPv6Option,
  labIPv6Subnet,
  labDriverOf,
  planNodes,
  labServiceRangeRules,
  removeLabClusterState,
  type Lab,
} from './lab.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9rZXkgZm9yIHRlc3RzIG9ubHkgMDEyMzQ1Njc4OQ test';

describe('lab down: the cluster state kprov init saved for the lab inventory goes with the lab', () => {
  let home: string;
  const saved = process.env.KPROV_HOME;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'kprov-labstate-'));
    process.env.KPROV_HOME = home;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.KPROV_HOME;
    else process.env.KPROV_HOME = saved;
    rmSync(home, { recursive: true, force: true });
  });

  /** A lab's inventory written where lab up writes it, and the state dir kprov init would use for it. */
  function labWithInitState(name: string, clusterName?: string): string {
    const dir = join(home, 'labs', name);
    mkdirSync(dir, { recursive: true });
    const lab: Lab = {
      name,
      dir,
      inventory: labInventoryPath(name),
      network: `kprov-${name}`,
      privateKey: join(dir, 'id_ed25519'),
      knownHosts: join(dir, 'known_hosts'),
      nodes: [{ name: 'master1', role: 'master', container: `kprov-${name}-master1`, ip: '172.30.0.2' }],
    };
    writeFileSync(`${lab.privateKey}.pub`, `${KEY}\n`);
    const extra = clusterName ? `    cluster_name: ${clusterName}\n` : '';
    writeFileSync(lab.inventory, labInventory(lab).replace('  vars:\n', `  vars:\n${extra}`));
    // The directory kprov init would use for this inventory, computed as init computes it.
    const state = clusterStateDir(resolveSettings(loadInventory(lab.inventory), { offline: true }));
    mkdirSync(join(state, 'pki'), { recursive: true });
    writeFileSync(join(state, 'pki', 'ca.crt'), 'old lab CA\n');
    writeFileSync(join(state, 'admin.conf'), 'old lab admin\n');
    return state;
  }

  it('removes the state dir kprov init uses for the lab inventory, and nothing else', () => {
    const mine = labWithInitState('lab');
    const renamed = labWithInitState('lab', 'other-name');
    const otherLab = labWithInitState('lab2');
    const realCluster = join(home, 'clusters', 'kubernetes-0123abcd');
    mkdirSync(realCluster, { recursive: true });

    expect(removeLabClusterState('lab').sort()).toEqual([mine, renamed].sort());
    expect(existsSync(mine)).toBe(false);
    expect(existsSync(renamed)).toBe(false);
    expect(existsSync(otherLab)).toBe(true);
    expect(existsSync(realCluster)).toBe(true);
    expect(readdirSync(join(home, 'clusters')).sort()).toEqual([otherLab, realCluster].map((d) => basename(d)).sort());
  });

  it('is a no-op without any saved state', () => {
    expect(removeLabClusterState('lab')).toEqual([]);
  });
});

describe('lab nodes: nothing beyond the node answers the Service ranges', () => {
  // Conformance "should serve endpoints on same port and different protocols": once the Service lost its TCP port,
  // the ClusterIP must stop answering on it. Untranslated packets left through the Docker host, whose egress proxy
  // answered "HTTP/1.1 400 Bad Request".
  it('drops packets to the lab cluster Service ranges kube-proxy did not translate, once however often it runs', () => {
    const v4 =
      '{ iptables -t mangle -C POSTROUTING -d 10.96.0.0/12 -j DROP 2>/dev/null || ' +
      'iptables -t mangle -A POSTROUTING -d 10.96.0.0/12 -j DROP; }';
    expect(labServiceRangeRules(false)).toBe(v4);
    expect(labServiceRangeRules(true)).toBe(
      `${v4} && { ip6tables -t mangle -C POSTROUTING -d fd00:10:96::/112 -j DROP 2>/dev/null || ` +
        'ip6tables -t mangle -A POSTROUTING -d fd00:10:96::/112 -j DROP; }',
    );
  });
});

describe('kprov lab up --ipv6: a dual-stack lab', () => {
  it('each lab has its own IPv6 /64 (Docker refuses overlapping subnets), the same on every run', () => {
    expect(labIPv6Subnet('lab')).toBe(labIPv6Subnet('lab'));
    expect(labIPv6Subnet('lab')).toMatch(/^fd6b:7072:6f76:[0-9a-f]{1,4}::\/64$/);
    expect(labIPv6Subnet('lab')).not.toBe(labIPv6Subnet('e2e'));
    expect(labIPv6Option('lab', true)).toBe(labIPv6Subnet('lab'));
    expect(labIPv6Option('lab', undefined)).toBeUndefined();
    expect(labIPv6Option('lab', 'fd00:beef::/64')).toBe('fd00:beef::/64');
  });

  it('refuses an --ipv6 subnet that is no IPv6 network, too small, or inside the cluster networks', () => {
    expect(() => labIPv6Option('lab', '172.30.0.0/16')).toThrow('--ipv6: "172.30.0.0" is not an IPv6 address');
    expect(() => labIPv6Option('lab', 'fd00:beef::/124')).toThrow(/too small for a lab network/);
    expect(() => labIPv6Option('lab', 'fd00:10:244:1::/64')).toThrow(
      "--ipv6 fd00:10:244:1::/64 overlaps the lab cluster's IPv6 network fd00:10:244::/56",
    );
  });

  it("writes node_ip6 per host and both families' networks, which resolve as a dual-stack cluster", () => {
    const dir = mkdtempSync(join(tmpdir(), 'kprov-lab6-'));
    const node = (name: string, role: 'master' | 'worker', n: number) => ({
      name,
      role,
      container: `kprov-lab-${name}`,
      ip: `172.30.0.${n}`,
      ip6: `fd6b:7072:6f76:1::${n}`,
    });
    const lab: Lab = {
      name: 'lab',
      dir,
      inventory: join(dir, 'inventory.yaml'),
      privateKey: join(dir, 'id_ed25519'),
      knownHosts: join(dir, 'known_hosts'),
      network: 'kprov-lab',
      ipv6Subnet: 'fd6b:7072:6f76:1::/64',
      nodes: [node('master1', 'master', 2), node('worker1', 'worker', 3)],
    };
    writeFileSync(`${lab.privateKey}.pub`, `${KEY}\n`);
    const text = labInventory(lab);
    expect(text).toContain('    pod_network_cidr: 10.244.0.0/16,fd00:10:244::/56\n');
    expect(text).toContain('    service_cidr: 10.96.0.0/12,fd00:10:96::/112\n');
    expect(text).toContain(
      '        worker1:\n          ansible_host: 172.30.0.3\n          node_ip6: fd6b:7072:6f76:1::3\n',
    );
    writeFileSync(lab.inventory, text);
    const r = resolveSettings(loadInventory(lab.inventory), { offline: true });
    expect(r.cluster.podNetworkCidr).toBe('10.244.0.0/16,fd00:10:244::/56');
    expect(r.hosts.map((h) => [h.name, h.address, h.nodeIp6])).toEqual([
      ['master1', '172.30.0.2', 'fd6b:7072:6f76:1::2'],
      ['worker1', '172.30.0.3', 'fd6b:7072:6f76:1::3'],
    ]);
  });
});

describe('lab drivers', () => {
  it('plans masters, workers and, with several masters, the load balancer, in that order', () => {
    expect(planNodes({ masters: 1, workers: 2 })).toEqual([
      { name: 'master1', role: 'master' },
      { name: 'worker1', role: 'worker' },
      { name: 'worker2', role: 'worker' },
    ]);
    expect(planNodes({ masters: 3, workers: 0 }).map((n) => `${n.name}:${n.role}`)).toEqual([
      'master1:master',
      'master2:master',
      'master3:master',
      'lb:lb',
    ]);
  });

  it('a lab saved without a driver (before drivers existed) is a Docker lab', () => {
    expect(labDriverOf({})).toBe('docker');
    expect(labDriverOf({ driver: 'lxd' })).toBe('lxd');
  });

  it("names the driver in the inventory's header; a Docker lab's inventory is what it was", () => {
    const lab: Lab = {
      name: 'lab',
      dir: '/x',
      inventory: '/x/inventory.yaml',
      privateKey: '/x/id_ed25519',
      knownHosts: '/x/known_hosts',
      network: 'kprov-lab',
      nodes: [{ name: 'master1', role: 'master', container: 'kprov-lab-master1', ip: '172.30.0.2' }],
    };
    expect(labInventory(lab)).toMatch(/^# kprov lab "lab": containers on the local Docker engine\.\n/);
    expect(labInventory({ ...lab, driver: 'lxd' })).toMatch(/^# kprov lab "lab": LXD system containers\.\n/);
  });

  it('refuses options the driver cannot honour before it touches anything', async () => {
    await expect(labUp({ name: 'x', masters: 1, workers: 0, unprivileged: true })).rejects.toThrow(
      '--unprivileged is supported by the lxd lab driver only, not --driver docker',
    );
    await expect(labUp({ name: 'x', masters: 1, workers: 0, driver: 'vm', ipv6: true })).rejects.toThrow(
      '--ipv6 is supported by the docker lab driver only, not --driver vm',
    );
  });

  it("gives unprivileged LXD nodes the kubelet's KubeletInUserNamespace gate, and says so", () => {
    const lab: Lab = {
      name: 'lab',
      driver: 'lxd',
      unprivileged: true,
      dir: '/x',
      inventory: '/x/inventory.yaml',
      privateKey: '/x/id_ed25519',
      knownHosts: '/x/known_hosts',
      network: 'kprov-lab',
      nodes: [{ name: 'master1', role: 'master', container: 'kprov-lab-master1', ip: '10.210.1.10' }],
    };
    const text = labInventory(lab);
    expect(text).toMatch(/^# kprov lab "lab": unprivileged LXD system containers\.\n/);
    expect(parse(text).all.vars.kubelet_configuration.featureGates).toEqual({ KubeletInUserNamespace: true });
    const privileged = parse(labInventory({ ...lab, unprivileged: undefined })).all.vars;
    expect(privileged.kubelet_configuration.featureGates).toBeUndefined();
  });

  it("gives container nodes kind's kubelet settings, and VM nodes (real machines) none", () => {
    const lab: Lab = {
      name: 'lab',
      dir: '/x',
      inventory: '/x/inventory.yaml',
      privateKey: '/x/id_ed25519',
      knownHosts: '/x/known_hosts',
      network: 'kpvb-0',
      nodes: [{ name: 'master1', role: 'master', container: 'kprov-lab-master1', ip: '10.211.1.10' }],
    };
    for (const driver of ['docker', 'lxd'] as const) {
      const vars = parse(labInventory({ ...lab, driver })).all.vars;
      expect(vars.kubelet_configuration.cgroupRoot, driver).toBe('/kubelet');
      expect(vars.kube_proxy_configuration.conntrack.maxPerCore, driver).toBe(0);
    }
    const vm = labInventory({ ...lab, driver: 'vm' });
    expect(vm).toMatch(/^# kprov lab "lab": QEMU virtual machines with their own kernel\.\n/);
    const vars = parse(vm).all.vars;
    expect(vars.kubelet_configuration).toBeUndefined();
    expect(vars.kube_proxy_configuration).toBeUndefined();
    expect(vars.ansible_ssh_private_key_file).toBe('/x/id_ed25519');
  });
});
