import { describe, expect, it } from 'vitest';
import { messages, settings } from './settings.testing.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podCidrProblem, serviceCidrProblem } from './validate.js';
import { parseKubeadmConfig } from '../kubeadm/kubeadm-config.js';
import { runCli } from '../cli/run.testing.js';

/** A dual-stack inventory (lines 1-6), with cluster vars given after line 6. */
const dual = (
  vars: string,
  hosts = ['m1 ansible_host=10.0.0.1 node_ip6=fd00:1::1', 'w1 ansible_host=10.0.0.2 node_ip6=fd00:1::2'],
) => ['[masters]', hosts[0], '[workers]', hosts[1], '', '[all:vars]', ...vars.split('\n')].join('\n');
const DUAL_VARS = 'pod_network_cidr=10.244.0.0/16,fd00:10:244::/56\nservice_cidr=10.96.0.0/12,fd00:10:96::/112';

describe('dual-stack settings (issue 12)', () => {
  it('accepts IPv4,IPv6 pod and service networks with node_ip6 on every host, in RFC 5952 form', () => {
    const r = settings(
      dual(DUAL_VARS, [
        'm1 ansible_host=10.0.0.1 node_ip6=FD00:1:0:0::0001',
        'w1 ansible_host=10.0.0.2 node_ip6=fd00:1::2',
      ]),
    );
    expect(r.cluster.podNetworkCidr).toBe('10.244.0.0/16,fd00:10:244::/56');
    expect(r.cluster.serviceCidr).toBe('10.96.0.0/12,fd00:10:96::/112');
    expect(r.hosts.map((h) => [h.name, h.nodeIp, h.nodeIp6])).toEqual([
      ['m1', '10.0.0.1', 'fd00:1::1'],
      ['w1', '10.0.0.2', 'fd00:1::2'],
    ]);
  });

  it('an IPv4 inventory has no node_ip6 at all', () => {
    const r = settings('[masters]\nm1 ansible_host=10.0.0.1\n');
    expect(r.hosts[0]).not.toHaveProperty('nodeIp6');
  });

  it('follows kubeadm: at most two CIDRs, one per family, each valid; kprov wants IPv4 first', () => {
    const pod = (v: string) => podCidrProblem(v, 'pod_network_cidr');
    const svc = (v: string) => serviceCidrProblem(v, 'service_cidr');
    expect(pod('10.244.0.0/16,fd00:10:244::/56')).toBeUndefined();
    expect(svc('10.96.0.0/12,fd00:10:96::/112')).toBeUndefined();
    const oneOfEach = /expected one IPv4 CIDR, or an IPv4 and an IPv6 CIDR for dual-stack/;
    expect(pod('10.244.0.0/16,fd00:10:244::/56,fd00:20::/56')).toMatch(oneOfEach);
    expect(pod('10.244.0.0/16,10.245.0.0/16')).toMatch(oneOfEach);
    expect(svc('fd00:10:96::/112,fd00:20:96::/112')).toMatch(oneOfEach);
    expect(pod('fd00:10:244::/56,10.244.0.0/16')).toMatch(/list the IPv4 CIDR first/);
    expect(svc('fd00:10:96::/112,10.96.0.0/12')).toMatch(/list the IPv4 CIDR first/);
    expect(pod('fd00:10:244::/56')).toMatch(/is IPv6: kprov builds IPv4 or dual-stack clusters/);
    expect(pod('10.244.0.0/16,fd00:10:244::1/56')).toBe(
      'pod_network_cidr: "fd00:10:244::1/56" has host bits set (network address is fd00:10:244::/56)',
    );
    expect(pod('10.244.0.0/16,10.0.0.1')).toMatch(oneOfEach);
    expect(pod('10.244.0.0/25,fd00:10:244::/56')).toBe(
      'pod_network_cidr 10.244.0.0/25 is too small: each node gets a /24 from it',
    );
  });

  it("checks the IPv6 pod network against the nodes' /64, the IPv6 service network as the API server does", () => {
    const pod = (v6: string) => podCidrProblem(`10.244.0.0/16,${v6}`, 'pod_network_cidr');
    const svc = (v6: string) => serviceCidrProblem(`10.96.0.0/12,${v6}`, 'service_cidr');
    expect(pod('fd00:10:244::/64')).toBeUndefined();
    expect(pod('fd00:10::/48')).toBeUndefined();
    expect(pod('fd00:10:244::/72')).toBe(
      'pod_network_cidr fd00:10:244::/72 is too small: each node gets a /64 from it',
    );
    expect(pod('fd00:10::/40')).toMatch(/fd00:10::\/40 is too large: the nodes' \/64 may be at most 16 bits longer/);
    expect(svc('fd00:10:96::/108')).toBeUndefined();
    expect(svc('fd00:10:96::/124')).toBeUndefined();
    expect(svc('fd00:10::/96')).toBe(
      'service_cidr fd00:10::/96 is too large: for IPv6 the API server allows at most a /108',
    );
    expect(svc('fd00:10:96::/125')).toBe(
      'service_cidr fd00:10:96::/125 is too small: a service network needs at least 10 addresses',
    );
  });

  it('reports every dual-stack mistake at once, each with file and line', () => {
    const errs = messages(() =>
      settings(
        dual('pod_network_cidr=10.244.0.0/16,fd00:10:244::/56\nservice_cidr=10.96.0.0/12,fd00:10:244:ff::/112', [
          'm1 ansible_host=10.0.0.1 node_ip6=fe80::1',
          'w1 ansible_host=10.0.0.2',
        ]),
      ),
    );
    expect(errs).toEqual([
      'hosts:2: host "m1": node_ip6 fe80::1 is link-local (the kubelet and flannel need a global or ' +
        'unique-local address)',
      'hosts:7: pod_network_cidr fd00:10:244::/56 overlaps service_cidr fd00:10:244:ff::/112',
      'hosts:4: host "w1": node_ip6 is required: pod_network_cidr and service_cidr are dual-stack, so every node ' +
        'needs its IPv6 address (the kubelet registers both with --node-ip)',
    ]);
  });

  it('wants both networks dual-stack or neither, and each node_ip6 on one host only', () => {
    expect(messages(() => settings(dual('pod_network_cidr=10.244.0.0/16,fd00:10:244::/56')))).toEqual([
      'hosts:7: pod_network_cidr 10.244.0.0/16,fd00:10:244::/56 and service_cidr 10.96.0.0/12 must both be ' +
        'dual-stack (IPv4,IPv6) or both IPv4: a dual-stack cluster has IPv4 and IPv6 pod addresses and Services',
    ]);
    expect(
      messages(() =>
        settings(
          dual(DUAL_VARS, [
            'm1 ansible_host=10.0.0.1 node_ip6=fd00:1::1',
            'w1 ansible_host=10.0.0.2 node_ip6=fd00:1:0::1',
          ]),
        ),
      ),
    ).toEqual(['hosts:4: hosts "m1" and "w1" have the same node_ip6 fd00:1::1']);
    expect(
      messages(() =>
        settings(dual(DUAL_VARS, ['m1 node_ip6=not-an-ip', 'w1 ansible_host=10.0.0.2 node_ip6=fd00:1::2'])),
      ),
    ).toContain('hosts:2: host "m1": node_ip6 "not-an-ip" is not an IPv6 address');
  });

  it('kprov inventory exits 2 with file:line, as for any inventory mistake', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kprov-dual-'));
    const file = join(dir, 'hosts');
    writeFileSync(file, dual(DUAL_VARS, ['m1 ansible_host=10.0.0.1', 'w1 ansible_host=10.0.0.2 node_ip6=fd00:1::2']));
    const r = await runCli('inventory', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file}:2: host "m1": node_ip6 is required`);
  });

  it('a --config ClusterConfiguration may carry the dual-stack networks, checked by the same rules', () => {
    const doc = (pod: string, svc: string) =>
      [
        'apiVersion: kubeadm.k8s.io/v1beta4',
        'kind: ClusterConfiguration',
        'networking:',
        `  podSubnet: ${pod}`,
        `  serviceSubnet: ${svc}`,
      ].join('\n');
    expect(
      parseKubeadmConfig(doc('10.244.0.0/16,fd00:10:244::/56', '10.96.0.0/12,fd00:10:96::/112'), 'k.yaml'),
    ).toEqual({
      cluster: { podSubnet: '10.244.0.0/16,fd00:10:244::/56', serviceSubnet: '10.96.0.0/12,fd00:10:96::/112' },
    });
    expect(
      messages(() =>
        parseKubeadmConfig(doc('10.244.0.0/16,fd00:10:96::/56', '10.96.0.0/12,fd00:10:96::/112'), 'k.yaml'),
      ),
    ).toEqual([
      'k.yaml:4: ClusterConfiguration: networking.podSubnet fd00:10:96::/56 overlaps ' +
        'networking.serviceSubnet fd00:10:96::/112',
    ]);
    expect(
      messages(() => parseKubeadmConfig(doc('fd00:10:244::/56,10.244.0.0/16', '10.96.0.0/12'), 'k.yaml'))[0],
    ).toMatch(
      /^k\.yaml:4: ClusterConfiguration: networking\.podSubnet "fd00:10:244::\/56,10\.244\.0\.0\/16": list the IPv4/,
    );
  });
});
