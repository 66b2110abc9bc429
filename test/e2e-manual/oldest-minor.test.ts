import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RELEASES, SUPPORTED_MINORS } from '../../src/kubeadm/versions.js';
import { kprov } from '../helpers/cli.js';
import {
  artifactBundle,
  eventually,
  isReady,
  kubectlWith,
  startLab,
  type E2eLab,
  type PodJson,
} from '../e2e/support.js';
import type { Node } from '../../src/kube/types.js';

// Run by hand (npm run test:e2e:manual): a cluster at the oldest supported minor, 1 master + 1 worker, serving a
// workload through a Service. CI builds only the versions its suites use (the default and the previous minor).
const OLDEST = RELEASES[SUPPORTED_MINORS[0]].tested;
let e2e: E2eLab;
let kubeconfig: string;
const { kubectl, kjson, kubectlWait } = kubectlWith(() => kubeconfig);

beforeAll(async () => {
  e2e = await startLab('oldest', 1, 1, await artifactBundle(OLDEST));
});

afterAll(async () => {
  await e2e?.down();
});

describe(`kprov init at the oldest supported release (${OLDEST})`, () => {
  it('brings up 1 master + 1 worker Ready at that version, with CoreDNS and a Service answering', async () => {
    const inventory = e2e.inventory(['master1', 'worker1'], { kubernetes_version: OLDEST });
    const r = await kprov(['init', inventory], e2e.env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    console.log(`kprov init at ${OLDEST}: ${r.ms} ms`);
    kubeconfig = /admin kubeconfig: (\S+)/.exec(r.stdout)![1];
    const nodes = kjson('get', 'nodes').items as (Node & { status: { nodeInfo: { kubeletVersion: string } } })[];
    expect(nodes.map((n) => n.status.nodeInfo.kubeletVersion)).toEqual([OLDEST, OLDEST]);
    for (const n of nodes) expect(isReady(n), n.metadata.name).toBe(true);
    kubectl('create', 'deployment', 'web', '--image=kprov.local/nginx:1', '--port=80');
    kubectl('expose', 'deployment', 'web', '--port=80');
    await kubectlWait('rollout', 'status', 'deployment/web', '--timeout=180s');
    kubectl('run', 'probe', '--image=kprov.local/toolbox:1', '--command', '--', 'sleep', 'infinity');
    await kubectlWait('wait', '--for=condition=Ready', 'pod/probe', '--timeout=120s');
    const answer = await eventually(
      'the Service by its DNS name',
      () => kubectl('exec', 'probe', '--', 'curl', '-sf', '-m', '5', 'http://web.default.svc.cluster.local/'),
      120_000,
    );
    expect(answer).toContain('nginx');
    const system = kjson('get', 'pods', '-n', 'kube-system').items as PodJson[];
    for (const p of system) expect(p.status.phase, p.metadata.name).toBe('Running');
  });
});
