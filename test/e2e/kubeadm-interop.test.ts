import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { kprov } from '../helpers/cli.js';
import type { Node } from '../../src/kube/types.js';
import { DEFAULT_KUBERNETES_VERSION } from '../../src/kubeadm/versions.js';
import { decryptKubeadmCerts } from '../../src/kubeadm/upload-certs.js';
import {
  dockerCp,
  dockerShell,
  artifactBundle,
  eventually,
  isReady,
  KUBEADM_DROPIN,
  KUBELET_SERVICE,
  kubeadmTools,
  kubectlWith,
  runE2eKubeadm,
  startLab,
  type E2eLab,
  type PodJson,
} from './support.js';

// kprov's cluster checked with upstream's own tools, built from the same Kubernetes release as the cluster: kubeadm's
// e2e suite against the API, `kubeadm certs check-expiration`, `upgrade plan` and `upgrade diff` on the master, and
// upstream `kubeadm join` of a host that kprov only prepared. Timings are printed, never asserted.
const LAB = 'e2e-kubeadm';
const VERSION = DEFAULT_KUBERNETES_VERSION;
let e2e: E2eLab;
let env: Record<string, string>;
let home: string;
let bundle: string;
let tools: string;
let inventory: string;
let kubeconfig: string;
const { kubectl, kjson, kubectlWait } = kubectlWith(() => kubeconfig);
const container = (host: string) => `kprov-${LAB}-${host}`;

/** A shell script in a lab host, its exit code and output (stdout then stderr). */
const onHost = (host: string, script: string, timeout?: number) => dockerShell(container(host), script, timeout);

/** Copy a local file into a lab host (a path off the host's tmpfs mounts: docker cp cannot write under /tmp). */
const copyTo = (host: string, file: string, path: string) => dockerCp(file, `${container(host)}:${path}`);

beforeAll(async () => {
  bundle = await artifactBundle(VERSION);
  tools = await kubeadmTools(VERSION);
  e2e = await startLab(LAB, 1, 2, bundle);
  ({ home, env } = e2e);
  // worker2 stays out of the cluster kprov builds: upstream kubeadm joins it below.
  inventory = e2e.inventory(['master1', 'worker1']);
});

afterAll(async () => {
  await e2e?.down();
});

describe('kprov init on 1 master + 1 worker', () => {
  it('brings up the cluster', async () => {
    const r = await kprov(['init', inventory, '--ready-timeout', '600'], env);
    console.log(`kprov init: ${r.ms} ms`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    kubeconfig = /admin kubeconfig: (\S+)/.exec(r.stdout)![1];
    const nodes = kjson('get', 'nodes').items as Node[];
    expect(nodes.map((n) => [n.metadata.name, isReady(n)])).toEqual([
      ['master1', true],
      ['worker1', true],
    ]);
    await copyTo('master1', join(tools, 'kubeadm'), '/usr/local/bin/kubeadm');
    expect((await onHost('master1', 'kubeadm version -o short')).out.trim()).toBe(VERSION);
  });
});

describe("upstream's kubeadm e2e suite (test/e2e_kubeadm)", () => {
  it('passes against the kprov cluster', async () => {
    // kubeadm-certs [copy-certs] checks the Secret `kubeadm init --upload-certs` leaves for joining control planes
    // (and its Role): kprov uploads it only for an inventory with more than one master, as the suite's own jobs
    // skip it (SKIP=copy-certs) for a cluster without.
    const { status, cases, count, log } = await runE2eKubeadm(tools, kubeconfig, home, 'copy-certs');
    expect(cases.filter((c) => !['passed', 'skipped'].includes(c.status))).toEqual([]);
    expect(status, `see ${log}`).toBe(0);
    expect(count('passed')).toBeGreaterThanOrEqual(30);
    // Only what was asked to be skipped, and what a single-stack cluster has no use for.
    for (const c of cases.filter((c) => c.status === 'skipped')) expect(c.name).toMatch(/copy-certs|dual-stack/);
  });
});

describe('kprov certs upload (kubeadm init phase upload-certs --upload-certs)', () => {
  it("uploads what e2e_kubeadm's copy-certs specs ask for, decryptable with the key it prints", async () => {
    const r = await kprov(['certs', 'upload', inventory], env);
    console.log(`kprov certs upload: ${r.ms} ms`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const key = r.stdout.trim();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const secret = kjson('-n', 'kube-system', 'get', 'secret', 'kubeadm-certs');
    const plain = decryptKubeadmCerts(secret.data, key);
    expect(plain['ca.crt']).toBe((await onHost('master1', 'cat /etc/kubernetes/pki/ca.crt')).out);
    expect(plain['etcd-ca.key']).toBe((await onHost('master1', 'cat /etc/kubernetes/pki/etcd/ca.key')).out);
    const owner = kjson('-n', 'kube-system', 'get', 'secret', secret.metadata.ownerReferences[0].name);
    const expires = Date.parse(Buffer.from(owner.data.expiration, 'base64').toString());
    expect(expires - Date.now()).toBeGreaterThan(3600_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(2 * 3600_000);
    const { status, cases, count, log } = await runE2eKubeadm(
      tools,
      kubeconfig,
      join(home, 'copy-certs'),
      '',
      'copy-certs',
    );
    expect(cases.filter((c) => c.status === 'failed')).toEqual([]);
    expect(status, `see ${log}`).toBe(0);
    expect(count('passed')).toBe(3);
  });
});

describe('upstream kubeadm on the kprov master', () => {
  it('certs check-expiration reads every certificate and kubeconfig kubeadm would have written', async () => {
    const r = await onHost('master1', 'kubeadm certs check-expiration');
    console.log(r.out);
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toMatch(/MISSING|invalid|error/i);
    const date = /[A-Z][a-z]{2} \d{2}, \d{4} \d{2}:\d{2} UTC/.source;
    const leaves = Object.fromEntries(
      [...r.out.matchAll(new RegExp(`^(\\S+) +${date} +(\\d+d) +(\\S+) +no\\s*$`, 'gm'))].map((m) => [m[1], m]),
    );
    expect(Object.keys(leaves).sort()).toEqual([
      'admin.conf',
      'apiserver',
      'apiserver-etcd-client',
      'apiserver-kubelet-client',
      'controller-manager.conf',
      'etcd-healthcheck-client',
      'etcd-peer',
      'etcd-server',
      'front-proxy-client',
      'scheduler.conf',
      'super-admin.conf',
    ]);
    for (const [name, m] of Object.entries(leaves)) {
      expect(m[2], name).toMatch(/^36[45]d$/);
      expect(m[3], name).toBe(
        name.startsWith('etcd-') || name === 'apiserver-etcd-client'
          ? 'etcd-ca'
          : name === 'front-proxy-client'
            ? 'front-proxy-ca'
            : 'ca',
      );
    }
    const cas = [...r.out.matchAll(new RegExp(`^(\\S+) +${date} +(\\d+y) +no\\s*$`, 'gm'))].map((m) => [m[1], m[2]]);
    expect(cas).toEqual([
      ['ca', '9y'],
      ['etcd-ca', '9y'],
      ['front-proxy-ca', '9y'],
    ]);
  });

  it('upgrade plan: the cluster passes its health checks and is at the target version', async () => {
    // With the version given, kubeadm does not look up the latest release online (there is no network).
    const r = await onHost('master1', `kubeadm upgrade plan ${VERSION}`, 300_000);
    console.log(r.out);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('[upgrade] Running cluster health checks');
    // CreateJob (a Job running the pause image with -v), control-plane static pods and nodes all passed.
    expect(r.out).not.toMatch(/\[(ERROR|WARNING) /);
    expect(r.out).toContain(`[upgrade/versions] Cluster version: ${VERSION.slice(1)}`);
    expect(r.out).toContain(`[upgrade/versions] kubeadm version: ${VERSION}`);
  });

  it('upgrade diff: the static pod manifests are the ones upstream kubeadm generates (YAML layout aside)', async () => {
    const r = await onHost('master1', `kubeadm upgrade diff ${VERSION}`, 300_000);
    expect(r.code, r.out).toBe(0);
    const diffs = parseDiff(r.out);
    // kubeadm prints a diff for each control-plane component (etcd is not compared); an identical file has none.
    for (const [path, hunks] of Object.entries(diffs)) {
      const current = (await onHost('master1', `cat ${path}`)).out;
      const upstream = parse(applyHunks(current, hunks));
      if (JSON.stringify(upstream.status) === '{}') delete upstream.status;
      expect(parse(current), path).toEqual(upstream);
    }
  });
});

describe('upstream kubeadm join', () => {
  it('a host kprov prepared joins the kprov cluster with upstream kubeadm and the packaged kubelet units', async () => {
    const all = e2e.inventory(['master1', 'worker1', 'worker2']);
    const prep = await kprov(['prepare', all, '--hosts', 'worker2'], env);
    expect(prep.code, prep.stdout + prep.stderr).toBe(0);
    const token = await kprov(['token', 'create', all, '--ttl', '1h', '--print-join-command'], env);
    expect(token.code, token.stderr).toBe(0);
    const joinLine = token.stdout.trim().split('\n').pop()!;
    expect(joinLine).toMatch(/^kubeadm join \S+ --token \S+ --discovery-token-ca-cert-hash sha256:[0-9a-f]{64}$/);

    // What the kubelet and kubeadm packages install, and the images a registry would have served.
    const files = join(home, 'kubeadm-join');
    mkdirSync(files, { recursive: true });
    writeFileSync(join(files, 'kubelet.service'), KUBELET_SERVICE);
    writeFileSync(join(files, '10-kubeadm.conf'), KUBEADM_DROPIN);
    await copyTo('worker2', join(bundle, 'bin', 'kubelet'), '/usr/bin/kubelet');
    await copyTo('worker2', join(tools, 'kubeadm'), '/usr/bin/kubeadm');
    await copyTo('worker2', join(files, 'kubelet.service'), '/lib/systemd/system/kubelet.service');
    expect((await onHost('worker2', 'mkdir -p /etc/systemd/system/kubelet.service.d /root/images')).code).toBe(0);
    await copyTo('worker2', join(files, '10-kubeadm.conf'), '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf');
    const images = readdirSync(join(bundle, 'images')).filter((f) => /pause|debian-based/.test(f));
    for (const tar of images) await copyTo('worker2', join(bundle, 'images', tar), `/root/images/${tar}`);
    const setup = await onHost(
      'worker2',
      'set -e; for f in /root/images/*.tar; do ctr -n k8s.io images import "$f" >/dev/null 2>&1; done; ' +
        'rm -rf /root/images; systemctl daemon-reload; systemctl enable kubelet',
    );
    expect(setup.code, setup.out).toBe(0);

    // On a cgroup v1 host, upstream's way: the kubelet gets failCgroupV1: false (a kubeadm patch for this node) and
    // the SystemVerification preflight error is skipped explicitly.
    const cgroupV1 = (await onHost('worker2', 'stat -fc %T /sys/fs/cgroup')).out.trim() !== 'cgroup2fs';
    const extra = cgroupV1 ? ' --patches /root/kubeadm-patches --ignore-preflight-errors=SystemVerification' : '';
    if (cgroupV1) {
      const patch =
        'mkdir -p /root/kubeadm-patches && ' +
        'echo "failCgroupV1: false" > /root/kubeadm-patches/kubeletconfiguration.yaml';
      expect((await onHost('worker2', patch)).code).toBe(0);
    }
    const t = Date.now();
    const joined = await onHost('worker2', `${joinLine}${extra}`, 420_000);
    console.log(
      `upstream kubeadm join: ${Date.now() - t} ms\n${joined.out
        .split('\n')
        .filter((l) => !/^\S*(CONFIG|CGROUPS)_/.test(l))
        .join('\n')}`,
    );
    expect(joined.code, joined.out).toBe(0);
    expect(joined.out).toContain('This node has joined the cluster');

    await eventually(
      'worker2 Ready with kube-proxy and flannel running',
      () => {
        const node = kjson('get', 'node', 'worker2') as Node;
        expect(isReady(node)).toBe(true);
        const pods = (kjson('get', 'pods', '-A', '--field-selector', 'spec.nodeName=worker2').items as PodJson[])
          .filter((p) => p.status.phase === 'Running' && p.status.containerStatuses?.every((c) => c.ready))
          .map((p) => p.metadata.name.replace(/-[a-z0-9]+$/, ''));
        expect(pods.sort()).toEqual(['kube-flannel-ds', 'kube-proxy']);
      },
      300_000,
    );
    console.log(`worker2 Ready ${Date.now() - t} ms after kubeadm join started`);

    // Its pods reach Services and cluster DNS.
    kubectl(
      'run',
      'toolbox2',
      '--image=kprov.local/toolbox:1',
      '--overrides',
      JSON.stringify({ spec: { nodeName: 'worker2' } }),
      '--command',
      '--',
      'sleep',
      'infinity',
    );
    await kubectlWait('wait', '--for=condition=Ready', 'pod/toolbox2', '--timeout=120s');
    const exec = (...cmd: string[]) => kubectl('exec', 'toolbox2', '--', ...cmd);
    expect(exec('getent', 'hosts', 'kubernetes.default.svc.cluster.local')).toMatch(/^10\.96\.0\.1\s/);
    expect(
      await eventually('the API through its ClusterIP', () =>
        exec('curl', '-sk', '-m', '10', 'https://kubernetes.default.svc/livez'),
      ),
    ).toBe('ok');

    // kprov sees the node upstream kubeadm joined as one of its cluster's.
    const status = await kprov(['status', all, '--json'], env);
    expect(status.code, status.stdout).toBe(0);
    const nodes = (JSON.parse(status.stdout) as { api?: { nodes: { name: string; ready: boolean }[] } }).api?.nodes;
    expect(nodes?.map((n) => [n.name, n.ready])).toEqual([
      ['master1', true],
      ['worker1', true],
      ['worker2', true],
    ]);
  });
});

interface Hunk {
  /** 1-based first line of the hunk in the current file. */
  start: number;
  lines: string[];
}

/** `kubeadm upgrade diff` output: per manifest path, the unified-diff hunks from the current file to kubeadm's. */
function parseDiff(out: string): Record<string, Hunk[]> {
  const files: Record<string, Hunk[]> = {};
  let hunks: Hunk[] | undefined;
  for (const line of out.split('\n')) {
    const file = /^--- (\/etc\/kubernetes\/manifests\/\S+\.yaml)$/.exec(line);
    if (file) {
      hunks = files[file[1]] = [];
      continue;
    }
    if (!hunks || line.startsWith('+++ ')) continue;
    const head = /^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@/.exec(line);
    if (head) hunks.push({ start: Number(head[1]), lines: [] });
    else if (hunks.length > 0 && /^[ +-]/.test(line)) hunks[hunks.length - 1].lines.push(line);
  }
  return files;
}

/** The file the hunks turn `text` into. */
function applyHunks(text: string, hunks: Hunk[]): string {
  const old = text.split('\n');
  const result: string[] = [];
  let at = 0; // next line of `old` to copy, 0-based
  for (const h of hunks) {
    while (at < h.start - 1) result.push(old[at++]);
    for (const line of h.lines) {
      if (line[0] === '+') result.push(line.slice(1));
      else {
        expect(old[at], `diff context at line ${at + 1}`).toBe(line.slice(1));
        if (line[0] === ' ') result.push(old[at]);
        at++;
      }
    }
  }
  while (at < old.length) result.push(old[at++]);
  return result.join('\n');
}
