import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kprov } from '../helpers/cli.js';
import type { Node } from '../../src/kube/types.js';
import {
  artifactBundle,
  eventually,
  isReady,
  kubeadmTools,
  kubectlWith,
  runE2eKubeadm,
  startLab,
  type E2eLab,
} from './support.js';

// A dual-stack cluster (IPv4 primary, IPv6 second) on a lab whose Docker network carries both families: what
// kubeadm's own suite checks for dual-stack, and IPv6 traffic between pods on different nodes and to a Service.
const LAB = 'e2e-dual';
let e2e: E2eLab;
let inventory: string;
let kubeconfig: string;
const { kubectl, kjson, kubectlWait } = kubectlWith(() => kubeconfig);

beforeAll(async () => {
  const bundle = await artifactBundle();
  e2e = await startLab(LAB, 1, 2, bundle, ['--ipv6']);
  inventory = e2e.inventory(['master1', 'worker1', 'worker2']);
});

afterAll(async () => {
  await e2e?.down();
});

describe('kprov init with IPv4,IPv6 pod and service networks', () => {
  it('gives every node an address and a pod CIDR of each family', async () => {
    const r = await kprov(['init', inventory], e2e.env);
    console.log(`kprov init (dual-stack): ${r.ms} ms`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    kubeconfig = /admin kubeconfig: (\S+)/.exec(r.stdout)![1];
    type NodeJson = Node & {
      spec: { podCIDRs?: string[] };
      status: { addresses?: { type: string; address: string }[] };
    };
    const nodes = kjson('get', 'nodes').items as NodeJson[];
    expect(nodes.map(isReady)).toEqual([true, true, true]);
    for (const n of nodes) {
      expect(
        n.spec.podCIDRs?.map((c) => c.includes(':')),
        n.metadata.name,
      ).toEqual([false, true]);
      const internal = (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address);
      expect(
        internal.map((a) => a.includes(':')),
        n.metadata.name,
      ).toEqual([false, true]);
    }
  });

  it('passes e2e_kubeadm, its dual-stack spec included (copy-certs: one master uploads none)', async () => {
    const { status, cases, log } = await runE2eKubeadm(await kubeadmTools(), kubeconfig, e2e.home, 'copy-certs');
    expect(cases.filter((c) => !['passed', 'skipped'].includes(c.status))).toEqual([]);
    expect(status, `see ${log}`).toBe(0);
    expect(cases.find((c) => /dual-stack/.test(c.name))?.status).toBe('passed');
  });

  it('carries IPv6 from a pod on one worker to a pod on the other, and through an IPv6 Service', async () => {
    kubectl('run', 'web6', '--image=kprov.local/nginx:1', '--overrides={"spec":{"nodeName":"worker1"}}');
    kubectl(
      'run',
      'client6',
      '--image=kprov.local/toolbox:1',
      '--overrides={"spec":{"nodeName":"worker2"}}',
      '--command',
      '--',
      'sleep',
      '3600',
    );
    await kubectlWait('wait', '--for=condition=Ready', 'pod/web6', 'pod/client6', '--timeout=180s');
    const ips = (kjson('get', 'pod', 'web6').status.podIPs as { ip: string }[]).map((p) => p.ip);
    expect(ips.map((ip) => ip.includes(':'))).toEqual([false, true]);
    const curl = (host: string) =>
      kubectl(
        'exec',
        'client6',
        '--',
        'curl',
        '-s',
        '-m',
        '10',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        `http://[${host}]/`,
      );
    await eventually('pod to pod over IPv6 across nodes', () => expect(curl(ips[1])).toBe('200'), 60_000);
    kubectl(
      'expose',
      'pod',
      'web6',
      '--port=80',
      '--name=web6',
      '--overrides={"spec":{"ipFamilies":["IPv6"],"ipFamilyPolicy":"SingleStack"}}',
    );
    const clusterIp = kjson('get', 'service', 'web6').spec.clusterIP as string;
    expect(clusterIp).toContain(':');
    await eventually('the IPv6 ClusterIP through kube-proxy', () => expect(curl(clusterIp)).toBe('200'), 60_000);
  });
});
