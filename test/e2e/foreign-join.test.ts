import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { kprov } from '../helpers/cli.js';
import type { Node } from '../../src/kube/types.js';
import { DEFAULT_KUBERNETES_VERSION } from '../../src/kubeadm/versions.js';
import {
  dockerCp,
  dockerShell,
  artifactBundle,
  docker,
  eventually,
  isReady,
  KUBEADM_DROPIN,
  KUBELET_SERVICE,
  kubeadmTools,
  kubectlWith,
  startLab,
  statuses,
  type E2eLab,
  type PodJson,
} from './support.js';

// kprov adds a worker to a cluster it did not create: upstream `kubeadm init` makes the cluster on master1 (a host
// kprov only prepared), and `kprov join` gets nothing but the endpoint, a bootstrap token and the CA cert hash
// that `kubeadm token create --print-join-command` prints. Timings are printed, never asserted.
const LAB = 'e2e-foreign';
const VERSION = DEFAULT_KUBERNETES_VERSION;
let e2e: E2eLab;
let env: Record<string, string>;
let home: string;
let bundle: string;
let tools: string;
let kubeconfig: string;
let printed: { endpoint: string; token: string; hash: string };
const { kubectl, kjson, kubectlWait } = kubectlWith(() => kubeconfig);
const container = (host: string) => `kprov-${LAB}-${host}`;
const ipOf = (host: string) => e2e.lab.nodes.find((n) => n.name === host)!.ip;

/** A shell script in a lab host, its exit code and output (stdout then stderr). */
const onHost = (host: string, script: string, timeout?: number) => dockerShell(container(host), script, timeout);

/** Whether kprov's host preparation has run on a lab host (its sysctl file is there). */
const prepared = async (host: string) =>
  (await onHost(host, 'test -e /etc/sysctl.d/99-kubernetes-cri.conf')).code === 0;

/** Copy a local file into a lab host (a path off the host's tmpfs mounts: docker cp cannot write under /tmp). */
const copyTo = (host: string, file: string, path: string) => dockerCp(file, `${container(host)}:${path}`);

/** Time a step and print how long it took. */
async function timed<T>(what: string, step: () => T | Promise<T>): Promise<T> {
  const t = Date.now();
  const result = await step();
  console.log(`${what}: ${Date.now() - t} ms`);
  return result;
}

beforeAll(async () => {
  bundle = await artifactBundle(VERSION);
  tools = await kubeadmTools(VERSION);
  e2e = await startLab(LAB, 1, 1, bundle);
  ({ home, env } = e2e);
});

afterAll(async () => {
  await e2e?.down();
});

describe('a cluster made by upstream kubeadm init', () => {
  it('kprov prepares master1 only (sudo user, prerequisites, containerd)', async () => {
    const inventory = e2e.inventory(['master1', 'worker1']);
    const r = await timed('kprov prepare master1', () => kprov(['prepare', inventory, '--hosts', 'master1'], env));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect([await prepared('master1'), await prepared('worker1')]).toEqual([true, false]);
  });

  it('kubeadm init brings up the control plane on master1', async () => {
    // What the kubelet and kubeadm packages install, and the images a registry would have served.
    const files = join(home, 'kubeadm-init');
    mkdirSync(files, { recursive: true });
    writeFileSync(join(files, 'kubelet.service'), KUBELET_SERVICE);
    writeFileSync(join(files, '10-kubeadm.conf'), KUBEADM_DROPIN);
    for (const b of ['kubelet', 'kubectl']) await copyTo('master1', join(bundle, 'bin', b), `/usr/bin/${b}`);
    await copyTo('master1', join(tools, 'kubeadm'), '/usr/bin/kubeadm');
    await copyTo('master1', join(files, 'kubelet.service'), '/lib/systemd/system/kubelet.service');
    expect(
      (await onHost('master1', 'mkdir -p /etc/systemd/system/kubelet.service.d /root/images /root/kubeadm')).code,
    ).toBe(0);
    await copyTo('master1', join(files, '10-kubeadm.conf'), '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf');
    await timed('images imported on master1', async () => {
      for (const tar of readdirSync(join(bundle, 'images')))
        await copyTo('master1', join(bundle, 'images', tar), `/root/images/${tar}`);
      const r = await onHost(
        'master1',
        'set -e; for f in /root/images/*.tar; do ctr -n k8s.io images import "$f" >/dev/null 2>&1; done; ' +
          'rm -rf /root/images; systemctl daemon-reload; systemctl enable kubelet',
      );
      expect(r.code, r.out).toBe(0);
    });

    // The lab's settings for kubelets and kube-proxy in containers go into the cluster's own configuration, as a
    // kubeadm user would put them: kprov's join must find them in the cluster's kubelet-config.
    const labVars = parse(readFileSync(e2e.lab.inventory, 'utf8').replace(/^#.*\n/, '')).all.vars;
    const cgroupV1 = (await onHost('master1', 'stat -fc %T /sys/fs/cgroup')).out.trim() !== 'cgroup2fs';
    const config = [
      {
        apiVersion: 'kubeadm.k8s.io/v1beta4',
        kind: 'InitConfiguration',
        localAPIEndpoint: { advertiseAddress: ipOf('master1'), bindPort: 6443 },
        nodeRegistration: {
          criSocket: 'unix:///run/containerd/containerd.sock',
          kubeletExtraArgs: [{ name: 'node-ip', value: ipOf('master1') }],
        },
        // On a cgroup v1 host, upstream's way: failCgroupV1: false as a patch for this node only (not in the
        // cluster's kubelet-config, so kprov has to set it for its worker itself).
        ...(cgroupV1 ? { patches: { directory: '/root/kubeadm/patches' } } : {}),
        timeouts: { controlPlaneComponentHealthCheck: '10m0s' },
      },
      {
        apiVersion: 'kubeadm.k8s.io/v1beta4',
        kind: 'ClusterConfiguration',
        kubernetesVersion: VERSION,
        // flannel's network, as kprov sets it up for its own clusters.
        networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12' },
      },
      {
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        cgroupDriver: 'systemd',
        ...labVars.kubelet_configuration,
      },
      {
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        ...labVars.kube_proxy_configuration,
      },
    ];
    writeFileSync(join(files, 'kubeadm.yaml'), config.map((d) => stringify(d)).join('---\n'));
    await copyTo('master1', join(files, 'kubeadm.yaml'), '/root/kubeadm/kubeadm.yaml');
    if (cgroupV1) {
      const patch =
        'mkdir -p /root/kubeadm/patches && ' +
        'echo "failCgroupV1: false" > /root/kubeadm/patches/kubeletconfiguration.yaml';
      expect((await onHost('master1', patch)).code).toBe(0);
    }
    // Containers see the engine host's CPUs and memory (a small CI machine may be under kubeadm's minimums);
    // SystemVerification is kubeadm's cgroup v1 refusal, skipped explicitly as upstream documents.
    const ignore = ['NumCPU', 'Mem', ...(cgroupV1 ? ['SystemVerification'] : [])].join(',');
    const init = await timed('kubeadm init', () =>
      onHost(
        'master1',
        `kubeadm init --config /root/kubeadm/kubeadm.yaml --ignore-preflight-errors=${ignore}`,
        900_000,
      ),
    );
    console.log(
      init.out
        .split('\n')
        .filter((l) => !/^\S*(CONFIG|CGROUPS)_/.test(l))
        .join('\n'),
    );
    expect(init.code, init.out).toBe(0);
    expect(init.out).toContain('Your Kubernetes control-plane has initialized successfully!');

    kubeconfig = join(home, 'admin.conf');
    docker('cp', `${container('master1')}:/etc/kubernetes/admin.conf`, kubeconfig);
    expect(kjson('get', 'nodes').items.map((n: Node) => n.metadata.name)).toEqual(['master1']);
  });

  it("runs flannel from kprov's rendering of its manifests, and master1 goes Ready", async () => {
    // kprov renders the flannel objects it applies to its own clusters (images from the bundle).
    const out = mkdtempSync(join(home, 'render-'));
    const render = await kprov(['init', e2e.inventory(['master1']), '--dry-run', '--out', out], env);
    expect(render.code, render.stdout + render.stderr).toBe(0);
    kubectl('apply', '-f', join(out, 'cluster', '07-flannel.yaml'));
    await timed('master1 Ready with flannel', () =>
      eventually('master1 Ready', () => expect(isReady(kjson('get', 'node', 'master1') as Node)).toBe(true), 300_000),
    );
  });

  it('prints a join command with a new token', async () => {
    const r = await onHost('master1', 'kubeadm token create --ttl 1h --print-join-command');
    expect(r.code, r.out).toBe(0);
    const m = /kubeadm join (\S+) --token (\S+) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    printed = { endpoint: m![1], token: m![2], hash: m![3] };
  });
});

describe('kprov join of worker1 to that cluster', () => {
  // Only the worker: the masters group stays empty. The lab's kubelet and kube-proxy settings are left out of the
  // inventory: the worker must get them from the cluster's kubelet-config and kube-proxy ConfigMap.
  const workerInventory = () =>
    e2e.inventory(['worker1'], { kubelet_configuration: null, kube_proxy_configuration: null });
  const flags = (hash = printed.hash) => [
    `--token=${printed.token}`,
    `--discovery-token-ca-cert-hash=${hash}`,
    `--endpoint=${printed.endpoint}`,
  ];

  it('refuses a CA pin that is not the cluster’s, changing nothing', async () => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    const r = await kprov(['join', workerInventory(), ...flags(wrong)], env);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('cluster CA does not match the pinned hash');
    expect(r.stdout + r.stderr).not.toContain(printed.token.split('.')[1]);
    expect(await prepared('worker1')).toBe(false);
  });

  it('dry run: discovery is checked, every change is listed, none is made', async () => {
    const r = await timed('kprov join --dry-run', () =>
      kprov(['join', workerInventory(), ...flags(), '--dry-run'], env),
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('create /etc/kubernetes/bootstrap-kubelet.conf');
    expect(r.stdout).toMatch(/TLS bootstrap with token [a-z0-9]{6} against https:\/\//);
    expect(kjson('get', 'nodes').items).toHaveLength(1);
  });

  it('joins worker1 with the endpoint, the token and the CA cert hash only', async () => {
    const r = await timed('kprov join', () => kprov(['join', workerInventory(), ...flags()], env));
    console.log(r.stdout.split('\n').slice(-4).join('\n'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`joined worker1 to the cluster at ${printed.endpoint}`);

    const node = kjson('get', 'node', 'worker1') as Node;
    expect(isReady(node)).toBe(true);
    expect(node.status?.nodeInfo?.kubeletVersion).toBe(VERSION);
    // The cluster's kubelet-config (the lab's settings kubeadm init was given), with what this node needs.
    const config = parse((await onHost('worker1', 'cat /var/lib/kubelet/config.yaml')).out);
    expect(config).toMatchObject({
      cgroupRoot: '/kubelet',
      containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
      clusterDNS: ['10.96.0.10'],
    });
    if ((await onHost('worker1', 'stat -fc %T /sys/fs/cgroup')).out.trim() !== 'cgroup2fs') {
      expect(config.failCgroupV1).toBe(false);
    }
    // The bootstrap kubeconfig (and its token) is gone; the kubelet holds its own certificate.
    const files =
      'test ! -e /etc/kubernetes/bootstrap-kubelet.conf && test -f /etc/kubernetes/kubelet.conf && ' +
      'test -s /var/lib/kubelet/pki/kubelet-client-current.pem';
    expect((await onHost('worker1', files)).code).toBe(0);
    // kprov kept no state for a cluster it did not create, and logged no token secret.
    expect(readdirSync(home)).not.toContain('clusters');
    const secret = printed.token.split('.')[1];
    for (const log of readdirSync(join(home, 'logs'))) {
      expect(readFileSync(join(home, 'logs', log), 'utf8'), log).not.toContain(secret);
    }
  });

  it('runs kube-proxy and flannel on worker1, and schedules a pod there that reaches cluster DNS', async () => {
    await timed('kube-proxy and flannel running on worker1', () =>
      eventually('kube-proxy and flannel on worker1', () => {
        const pods = (kjson('get', 'pods', '-A', '--field-selector', 'spec.nodeName=worker1').items as PodJson[])
          .filter((p) => p.status.phase === 'Running' && p.status.containerStatuses?.every((c) => c.ready))
          .map((p) => p.metadata.name.replace(/-[a-z0-9]+$/, ''));
        expect(pods.sort()).toEqual(['kube-flannel-ds', 'kube-proxy']);
      }),
    );
    // master1 keeps kubeadm's control-plane taint: the scheduler has worker1 only.
    kubectl('run', 'probe', '--image=kprov.local/toolbox:1', '--command', '--', 'sleep', 'infinity');
    await timed('pod Running on worker1', () =>
      kubectlWait('wait', '--for=condition=Ready', 'pod/probe', '--timeout=180s'),
    );
    const pod = kjson('get', 'pod', 'probe') as PodJson;
    expect([pod.spec.nodeName, pod.status.phase]).toEqual(['worker1', 'Running']);
    const dns = await eventually('cluster DNS from worker1', () =>
      kubectl('exec', 'probe', '--', 'getent', 'hosts', 'kubernetes.default.svc.cluster.local'),
    );
    expect(dns).toMatch(/^10\.96\.0\.1\s/);
  });

  it('a second run changes nothing', async () => {
    const r = await timed('kprov join again', () => kprov(['join', workerInventory(), ...flags()], env));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(statuses(r.stdout)).toEqual({ worker1: 'unchanged' });
  });
});
