import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kprov } from '../helpers/cli.js';
import { DEFAULT_KUBERNETES_VERSION, RELEASES, minorOf } from '../../src/kubeadm/versions.js';
import { artifactBundle, eventually, kubectlWith, startLab, statuses, type E2eLab, type PodJson } from './support.js';

// kprov upgrade on a real cluster: 1 master + 2 workers made at the previous minor, upgraded to the default one
// while a client pod requests a Service every 200 ms; kprov is killed half way and run again to finish.
// Timings and failed requests are printed for the issue notes, never asserted against a clock.
const TARGET = DEFAULT_KUBERNETES_VERSION;
const FROM = RELEASES[minorOf(TARGET) - 1].tested;
let e2e: E2eLab;
let inventory: string;
let kubeconfig: string;
let target: string;
const { kubectl, kjson, kubectlWait } = kubectlWith(() => kubeconfig);

beforeAll(async () => {
  const from = await artifactBundle(FROM);
  target = await artifactBundle(TARGET);
  e2e = await startLab('upg', 1, 2, from);
  inventory = e2e.inventory(['master1', 'worker1', 'worker2'], { kubernetes_version: FROM });
  const t = Date.now();
  const init = await kprov(['init', inventory], e2e.env);
  expect(init.code, init.stdout + init.stderr).toBe(0);
  console.log(`kprov init at ${FROM}: ${Date.now() - t} ms`);
  kubeconfig = /admin kubeconfig: (\S+)/.exec(init.stdout)![1];
});

afterAll(async () => {
  await e2e?.down();
});

const upgrade = (...args: string[]) => kprov(['upgrade', inventory, '--artifacts-dir', target, ...args], e2e.env);

/** A web Deployment behind a Service, a PodDisruptionBudget, and a client on the master counting answers. */
async function startTraffic() {
  kubectl('create', 'deployment', 'web', '--image=kprov.local/nginx:1', '--replicas=2', '--port=80');
  // Usual production hygiene, without which any rolling change drops requests: a readiness probe and a preStop pause
  // so endpoints are withdrawn before nginx stops.
  kubectl(
    'patch',
    'deployment',
    'web',
    '--type=strategic',
    '-p',
    JSON.stringify({
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'nginx',
                readinessProbe: { httpGet: { path: '/', port: 80 }, periodSeconds: 1 },
                lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
              },
            ],
          },
        },
      },
    }),
  );
  kubectl('create', 'poddisruptionbudget', 'web', '--selector=app=web', '--min-available=1');
  kubectl('expose', 'deployment', 'web', '--port=80', '--name=web');
  await kubectlWait('rollout', 'status', 'deployment/web', '--timeout=180s');
  // A DaemonSet pod stays through drains (as kubectl drain leaves DaemonSets); pinned to the master.
  const client = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'client' },
    spec: {
      selector: { matchLabels: { app: 'client' } },
      template: {
        metadata: { labels: { app: 'client' } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': 'master1' },
          tolerations: [{ operator: 'Exists' }],
          containers: [
            {
              name: 'client',
              image: 'kprov.local/toolbox:1',
              command: [
                'sh',
                '-c',
                // A failure says whether the name did not resolve or the Service did not answer.
                'while true; do ip=$(timeout 2 getent hosts web.default.svc.cluster.local | cut -d" " -f1); ' +
                  'if [ -z "$ip" ]; then echo "FAIL $(date +%T) dns"; ' +
                  'elif curl -sf -m 2 -o /dev/null "http://$ip/"; then echo ok; ' +
                  'else echo "FAIL $(date +%T) http"; fi; sleep 0.2; done',
              ],
            },
          ],
        },
      },
    },
  };
  const file = join(e2e.home, 'client.json');
  writeFileSync(file, JSON.stringify(client));
  kubectl('apply', '-f', file);
}

function requestCounts() {
  const pod = (kjson('get', 'pods', '-l', 'app=client').items as PodJson[])[0];
  const logs = (previous: boolean) => {
    try {
      return kubectl('logs', pod.metadata.name, ...(previous ? ['--previous'] : []));
    } catch {
      return '';
    }
  };
  const lines = (logs(true) + logs(false)).split('\n').filter(Boolean);
  return { ok: lines.filter((l) => l === 'ok').length, failed: lines.filter((l) => l.startsWith('FAIL')) };
}

describe(`kprov upgrade ${FROM} -> ${TARGET} on 1 master + 2 workers`, () => {
  it('--dry-run prints the plan per component and node, and changes nothing', async () => {
    const r = await upgrade('--to', TARGET, '--dry-run');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`kube-apiserver +master1 +${FROM} +${TARGET}`));
    expect(r.stdout).toMatch(new RegExp(`kubelet +worker2 +${FROM} +${TARGET}`));
    expect(r.stdout).toMatch(/etcd +master1 +\S+ +\S+/);
    const versions = (kjson('get', 'nodes').items as { status: { nodeInfo: { kubeletVersion: string } } }[]).map(
      (n) => n.status.nodeInfo.kubeletVersion,
    );
    expect(versions).toEqual([FROM, FROM, FROM]);
  });

  it('refuses a downgrade with exit 2 and a clear reason', async () => {
    const older = `v1.${minorOf(FROM) - 1}.0`;
    const r = await kprov(['upgrade', inventory, '--to', older], e2e.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/would be a downgrade|is not supported/);
  });

  it('keeps a Service answering; killed half way, a re-run finishes; a third run changes nothing', async () => {
    await startTraffic();
    await eventually('client requests', () => expect(requestCounts().ok).toBeGreaterThan(5), 120_000);
    const t = Date.now();
    // Kill kprov (SIGKILL: no cleanup) once it is replacing the control plane.
    const child = spawn('node', ['bin/kprov.js', 'upgrade', inventory, '--to', TARGET, '--artifacts-dir', target], {
      env: { ...process.env, ...e2e.env },
    });
    let out = '';
    const killed = new Promise<void>((resolve) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (/Upgrade control plane/.test(out) && !child.killed) setTimeout(() => child.kill('SIGKILL'), 20_000);
      });
      child.on('exit', () => resolve());
    });
    await killed;
    console.log(`first upgrade run killed after ${Date.now() - t} ms`);
    const rerun = await upgrade('--to', TARGET);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    console.log(`kprov upgrade (interrupted + re-run): ${Date.now() - t} ms`);
    console.log(
      rerun.stdout
        .split('\n')
        .filter((l) => /finished in/.test(l))
        .join('\n'),
    );

    const nodes = kjson('get', 'nodes').items as { status: { nodeInfo: { kubeletVersion: string } } }[];
    expect(nodes.map((n) => n.status.nodeInfo.kubeletVersion)).toEqual([TARGET, TARGET, TARGET]);
    const pods = kjson('get', 'pods', '-n', 'kube-system').items as {
      metadata: { name: string };
      spec: { containers: { image: string }[] };
    }[];
    const image = (prefix: string) => pods.find((p) => p.metadata.name.startsWith(prefix))!.spec.containers[0].image;
    for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy']) {
      expect(image(c)).toBe(`registry.k8s.io/${c}:${TARGET}`);
    }
    expect(image('etcd')).toBe(`registry.k8s.io/etcd:${RELEASES[minorOf(TARGET)].etcd}`);
    expect(image('coredns')).toBe(`registry.k8s.io/coredns/coredns:${RELEASES[minorOf(TARGET)].coredns}`);
    const config = kjson('get', 'configmap', '-n', 'kube-system', 'kubeadm-config');
    expect(parse(config.data.ClusterConfiguration).kubernetesVersion).toBe(TARGET);
    expect(kjson('get', 'nodes').items.some((n: { spec: { unschedulable?: boolean } }) => n.spec.unschedulable)).toBe(
      false,
    );

    const { ok, failed } = requestCounts();
    console.log(`requests during the upgrade: ${ok} answered, ${failed.length} failed ${failed.join(', ')}`);
    expect(ok).toBeGreaterThan(100);
    const total = ok + failed.length;
    const unanswered = failed.filter((f) => f.endsWith('http'));
    const unresolved = failed.filter((f) => f.endsWith('dns'));
    // The goal is zero for both (the note reports the figures). More than 1% of requests to the Service lost would
    // mean a broken rollout.
    expect(unanswered.length).toBeLessThanOrEqual(Math.ceil(total / 100));
    // Known gap, not yet closed: while kubelets restart and drains move CoreDNS, a lookup can go unanswered for the
    // client's 2 s (a resolver's own retry after 5 s would get an answer). Measured 0.3-1.1% of lookups; bounded here
    // so a regression shows, reported in the note until it is zero.
    expect(unresolved.length).toBeLessThanOrEqual(Math.ceil((3 * total) / 100));

    const again = await upgrade('--to', TARGET);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/Nothing to upgrade/);
    expect(Object.values(statuses(again.stdout)).every((s) => s === 'unchanged')).toBe(true);
  });
});
