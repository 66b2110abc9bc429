import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import type { Condition, Node } from '../../src/kube/types.js';
import { kprov, SYNC_TIMEOUT_MS } from '../helpers/cli.js';
import { lxdBridgeName, lxdRuleComment } from '../../src/lab/lxd-config.js';
import { artifactBundle, eventually, kubectlWith, startLab, type E2eLab, type PodJson } from './support.js';

// The cluster on an LXD lab (kprov lab up --driver lxd: privileged LXD system containers, as the classic tutorial
// runs its nodes). Part of npm run test:e2e (needs LXD: apt-get install lxd lxd-client dnsmasq-base, as .ci/run
// does); npm run test:e2e:lxd runs it alone.
// Timings are printed for the issue notes, never asserted.
// KPROV_E2E_LXD_UNPRIVILEGED=1 runs the same suite on unprivileged nodes (lab up --unprivileged).
const UNPRIVILEGED = process.env.KPROV_E2E_LXD_UNPRIVILEGED === '1';
const LAB = UNPRIVILEGED ? 'lxde2eu' : 'lxde2e';
let e2e: E2eLab;
let env: Record<string, string>;
let inventory: string;
let kubeconfig: string;
const { kubectl, kjson, kubectlWait } = kubectlWith(() => kubeconfig);
const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: SYNC_TIMEOUT_MS });

describe(`kprov init on an ${UNPRIVILEGED ? 'unprivileged ' : ''}LXD lab: 1 master + 2 workers`, () => {
  beforeAll(async () => {
    const bundle = await artifactBundle();
    e2e = await startLab(LAB, 1, 2, bundle, ['--driver', 'lxd', ...(UNPRIVILEGED ? ['--unprivileged'] : [])]);
    ({ env } = e2e);
    expect(e2e.lab.driver).toBe('lxd');
    inventory = e2e.inventory(['master1', 'worker1', 'worker2']);
  });

  afterAll(async () => {
    await e2e?.down();
  });

  it('brings up the cluster with every node Ready', async () => {
    const r = await kprov(['init', inventory, '--ready-timeout', '600'], env);
    console.log(`kprov init on LXD (1+2): ${r.ms} ms`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    kubeconfig = /admin kubeconfig: (\S+)/.exec(r.stdout)![1];
    const nodes = kjson('get', 'nodes').items as Node[];
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual(['master1', 'worker1', 'worker2']);
    for (const n of nodes)
      expect(n.status?.conditions?.find((c: Condition) => c.type === 'Ready')?.status, n.metadata.name).toBe('True');
  });

  it('runs workloads on the workers, with traffic across nodes, Services and cluster DNS', async () => {
    kubectl('create', 'deployment', 'web', '--image=kprov.local/nginx:1', '--replicas=2', '--port=80');
    await kubectlWait('rollout', 'status', 'deployment/web', '--timeout=180s');
    const pods = kjson('get', 'pods', '-l', 'app=web').items as PodJson[];
    for (const p of pods) expect(['worker1', 'worker2']).toContain(p.spec.nodeName);
    const toolbox = JSON.stringify({ spec: { nodeName: 'worker1' } });
    kubectl(
      'run',
      'toolbox',
      '--image=kprov.local/toolbox:1',
      '--overrides',
      toolbox,
      '--command',
      '--',
      'sleep',
      'infinity',
    );
    await kubectlWait('wait', '--for=condition=Ready', 'pod/toolbox', '--timeout=120s');
    kubectl('expose', 'deployment', 'web', '--port=80', '--name=web');
    const exec = (...cmd: string[]) => kubectl('exec', 'toolbox', '--', ...cmd);
    const remote = pods.find((p) => p.spec.nodeName === 'worker2') ?? pods[0];
    expect(exec('curl', '-sf', '-m', '10', `http://${remote.status.podIP}/`)).toContain('nginx');
    const viaService = () => exec('curl', '-sf', '-m', '10', 'http://web.default.svc.cluster.local/');
    expect(await eventually('ClusterIP service', viaService, 120_000)).toContain('nginx');
  });

  it('reaches the nodes through the driver: a stopped kubelet is reported, and restarted', async () => {
    await e2e.nodes.exec('worker2', 'systemctl stop kubelet');
    try {
      const r = await kprov(['status', inventory], env);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toContain('worker2: kubelet is inactive');
    } finally {
      await e2e.nodes.exec('worker2', 'systemctl start kubelet');
    }
  });

  it('kprov reset removes a worker, and kprov join brings it back Ready', async () => {
    const reset = await kprov(['reset', inventory, '--hosts', 'worker2'], env);
    expect(reset.code, reset.stdout + reset.stderr).toBe(0);
    expect((kjson('get', 'nodes').items as Node[]).map((n) => n.metadata.name)).not.toContain('worker2');
    expect(
      await e2e.nodes.exec(
        'worker2',
        'find /etc/kubernetes /etc/cni/net.d -mindepth 1 | wc -l; systemctl is-active kubelet || true',
      ),
    ).toBe('0\ninactive\n');
    const join = await kprov(['join', inventory, '--hosts', 'worker2'], env);
    console.log(`kprov join worker2 on LXD: ${join.ms} ms`);
    expect(join.code, join.stdout + join.stderr).toBe(0);
    await eventually('worker2 Ready again', () =>
      expect(kjson('get', 'node', 'worker2').status.conditions.find((c: Condition) => c.type === 'Ready').status).toBe(
        'True',
      ),
    );
  });

  it('lab down leaves no instance, bridge, profile or DOCKER-USER rule behind', async () => {
    const r = await kprov(['lab', 'down', '--name', LAB], env);
    expect(r.code, r.stderr).toBe(0);
    expect(sh('lxc list --format csv -c n')).not.toContain(`kprov-${LAB}-`);
    expect(sh(`lxc network list --format csv | cut -d, -f1`).split('\n')).not.toContain(lxdBridgeName(LAB));
    expect(sh('lxc profile list --format csv | cut -d, -f1').split('\n')).not.toContain(`kprov-${LAB}`);
    expect(sh('iptables -w -S DOCKER-USER 2>/dev/null || true')).not.toContain(lxdRuleComment(LAB));
    expect(sh('ip -o link show')).not.toContain(`${lxdBridgeName(LAB)}:`);
  });
});
