import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MemoryStore } from '../pki/store.js';
import { ensurePki } from './pki.js';
import { caCertHash } from './discovery.js';
import { testConfig } from './fixtures.testing.js';
import {
  foreignKubeletConfig,
  foreignWorkerFiles,
  hostCaProblem,
  kubeletVersionProblem,
  mergePatch,
  parseClusterConfiguration,
  workerVersionFor,
} from './foreign.js';
import { UPSTREAM_CLUSTER_CONFIGURATION, UPSTREAM_KUBELET_CONFIG } from './foreign.testing.js';

const SOCKET = 'unix:///run/containerd/containerd.sock';
const caOf = async (address: string) =>
  (
    await ensurePki(new MemoryStore(), testConfig({ encryptionAlgorithm: 'ECDSA-P256' }), [
      { name: 'm1', advertiseAddress: address, controlPlane: true, worker: false },
    ])
  ).pki.cas.ca.certPem;

describe('the ClusterConfiguration of a kubeadm cluster', () => {
  it('gives the version, image repository and networks a worker needs', () => {
    expect(parseClusterConfiguration({ ClusterConfiguration: UPSTREAM_CLUSTER_CONFIGURATION })).toEqual({
      kubernetesVersion: 'v1.37.2',
      imageRepository: 'registry.k8s.io',
      clusterName: 'kubernetes',
      dnsDomain: 'cluster.local',
      serviceSubnet: '10.96.0.0/12',
      podSubnet: '10.244.0.0/16',
    });
  });

  it("fills in kubeadm's defaults for what an older kubeadm left out (v1beta3, no networking)", () => {
    const text = 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: 1.36.3\n';
    expect(parseClusterConfiguration({ ClusterConfiguration: text })).toEqual({
      kubernetesVersion: 'v1.36.3',
      imageRepository: 'registry.k8s.io',
      clusterName: 'kubernetes',
      dnsDomain: 'cluster.local',
      serviceSubnet: '10.96.0.0/12',
    });
  });

  it('says what is wrong with a ConfigMap that is not one', () => {
    expect(() => parseClusterConfiguration({})).toThrow(/has no ClusterConfiguration: is this a kubeadm cluster/);
    expect(() => parseClusterConfiguration({ ClusterConfiguration: 'kind: InitConfiguration\n' })).toThrow(
      /is not a kubeadm.k8s.io ClusterConfiguration/,
    );
    expect(() =>
      parseClusterConfiguration({
        ClusterConfiguration: 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n',
      }),
    ).toThrow(/has no kubernetesVersion/);
  });
});

describe("the joining kubelet's version", () => {
  it("is the cluster's, whether the inventory names it or not", () => {
    expect(workerVersionFor('v1.37.2')).toEqual({ version: 'v1.37.2' });
    expect(workerVersionFor('v1.36.1', 'v1.36.1')).toEqual({ version: 'v1.36.1' });
  });

  it('refuses an inventory that asks for another version, and a cluster kprov does not install', () => {
    expect(workerVersionFor('v1.37.2', 'v1.36.3')).toEqual({
      problem:
        'the cluster runs v1.37.2 but kubernetes_version is v1.36.3: a joining kubelet runs the ' +
        "cluster's version; set kubernetes_version: v1.37.2, or leave it out to take the cluster's",
    });
    expect(workerVersionFor('v1.37.2', 'v1.37.1')).toHaveProperty('problem');
    expect(workerVersionFor('v1.31.4')).toEqual({
      problem:
        'the cluster runs v1.31.4, which kprov does not install (kprov supports v1.35, v1.36 and v1.37): ' +
        'join it with kubeadm, or upgrade the cluster first',
    });
    expect(workerVersionFor('v1.37.0-rc.1')).toHaveProperty('problem', expect.stringMatching(/not a release/));
  });

  it('is checked on the installed kubelet', () => {
    expect(kubeletVersionProblem('Kubernetes v1.37.2\n', 'v1.37.2')).toBeUndefined();
    expect(kubeletVersionProblem('Kubernetes v1.36.3\n', 'v1.37.2')).toBe(
      'the kubelet installed here is v1.36.3 but the cluster runs v1.37.2: use an artifacts bundle of v1.37.2 ' +
        '(or none: kprov then downloads v1.37.2)',
    );
    expect(kubeletVersionProblem('', 'v1.37.2')).toMatch(/^the kubelet installed here is unknown \(""\)/);
  });
});

describe('JSON merge patch (RFC 7386)', () => {
  it('merges mappings, replaces lists and scalars, and removes what is null', () => {
    const target = { a: 1, nested: { x: 1, y: 2 }, list: [1, 2], gone: true };
    expect(mergePatch(target, { nested: { y: 3, z: 4 }, list: [9], gone: null, b: 'new' })).toEqual({
      a: 1,
      nested: { x: 1, y: 3, z: 4 },
      list: [9],
      b: 'new',
    });
    expect(target.nested).toEqual({ x: 1, y: 2 });
  });
});

describe("a joining worker's kubelet configuration", () => {
  it("is the cluster's kubelet-config with the CRI socket, as kubeadm join writes it", () => {
    const { config, notes } = foreignKubeletConfig(UPSTREAM_KUBELET_CONFIG, {}, { criSocket: SOCKET });
    expect(config).toEqual({ ...parse(UPSTREAM_KUBELET_CONFIG), containerRuntimeEndpoint: SOCKET });
    expect(notes).toEqual([]);
  });

  it("takes the inventory's kubelet_configuration as a patch over the cluster's (the lab's kind-like settings)", () => {
    const eviction = 'evictionHard:\n  memory.available: 100Mi\n  nodefs.available: 10%\n';
    const withEviction = `${UPSTREAM_KUBELET_CONFIG}${eviction}`;
    const { config, notes } = foreignKubeletConfig(
      withEviction,
      {
        cgroupRoot: '/kubelet',
        failSwapOn: false,
        evictionHard: { 'nodefs.available': '0%' },
        rotateCertificates: null,
      },
      { criSocket: SOCKET },
    );
    expect(config).toMatchObject({
      cgroupRoot: '/kubelet',
      failSwapOn: false,
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '0%' },
      clusterDNS: ['10.96.0.10'],
      staticPodPath: '/etc/kubernetes/manifests',
    });
    expect(config).not.toHaveProperty('rotateCertificates');
    expect(notes).toEqual(["kubelet_configuration applied over the cluster's kubelet-config"]);
  });

  it('lets a cgroup v1 host start (failCgroupV1: false) unless the patch decides, and uses the systemd driver', () => {
    const cgroupfs = UPSTREAM_KUBELET_CONFIG.replace('cgroupDriver: systemd', 'cgroupDriver: cgroupfs');
    const v1 = foreignKubeletConfig(cgroupfs, {}, { criSocket: SOCKET, cgroupVersion: 1 });
    expect(v1.config).toMatchObject({ failCgroupV1: false, cgroupDriver: 'systemd' });
    expect(v1.notes).toEqual([
      `cgroupDriver: the cluster's kubelet-config says "cgroupfs"; this node's containerd uses the systemd driver, ` +
        'so its kubelet does too',
      'failCgroupV1: false (a cgroup v1 host; the kubelet would not start otherwise)',
    ]);
    expect(
      foreignKubeletConfig(UPSTREAM_KUBELET_CONFIG, {}, { criSocket: SOCKET, cgroupVersion: 2 }).config,
    ).not.toHaveProperty('failCgroupV1');
    const chosen = foreignKubeletConfig(
      UPSTREAM_KUBELET_CONFIG,
      { failCgroupV1: true },
      { criSocket: SOCKET, cgroupVersion: 1 },
    );
    expect(chosen.config.failCgroupV1).toBe(true);
  });

  it('refuses a kubelet-config that is not one', () => {
    expect(() => foreignKubeletConfig(undefined, {}, { criSocket: SOCKET })).toThrow(/has no "kubelet" key/);
    expect(() => foreignKubeletConfig('kind: KubeProxyConfiguration\n', {}, { criSocket: SOCKET })).toThrow(
      /does not hold a KubeletConfiguration/,
    );
  });
});

describe("a joining worker's files", async () => {
  const caPem = await caOf('10.0.0.10');
  const files = foreignWorkerFiles({
    cfg: testConfig(),
    node: { name: 'worker-a', advertiseAddress: '10.0.0.21', controlPlane: false, worker: true },
    hostname: 'w1',
    server: 'https://10.0.0.10:6443',
    caPem,
    token: 'abcdef.0123456789abcdef',
    kubeletConfig: { kind: 'KubeletConfiguration', containerRuntimeEndpoint: SOCKET },
  });

  it("are kubeadm join's: the CA and bootstrap kubeconfig from cluster-info, then the kubelet's own files", () => {
    expect(files.bootstrap.map((f) => [f.path, f.mode])).toEqual([
      ['/etc/kubernetes/pki/ca.crt', 0o644],
      ['/etc/kubernetes/bootstrap-kubelet.conf', 0o600],
    ]);
    expect(files.kubelet.map((f) => [f.path, f.mode])).toEqual([
      ['/var/lib/kubelet/config.yaml', 0o644],
      ['/var/lib/kubelet/instance-config.yaml', 0o644],
      ['/var/lib/kubelet/kubeadm-flags.env', 0o644],
      ['/etc/systemd/system/kubelet.service.d/10-kubeadm.conf', 0o644],
    ]);
    expect(files.bootstrap[0].content).toBe(caPem);
    const kubeconfig = parse(files.bootstrap[1].content);
    expect(kubeconfig.clusters).toEqual([
      {
        name: 'kubernetes',
        cluster: {
          server: 'https://10.0.0.10:6443',
          'certificate-authority-data': Buffer.from(caPem).toString('base64'),
        },
      },
    ]);
    expect(kubeconfig.users).toEqual([
      { name: 'tls-bootstrap-token-user', user: { token: 'abcdef.0123456789abcdef' } },
    ]);
  });

  it('give the kubelet its node name and address, and the CRI socket', () => {
    const text = (path: string) => files.kubelet.find((f) => f.path === path)!.content;
    expect(text('/var/lib/kubelet/kubeadm-flags.env')).toBe(
      'KUBELET_KUBEADM_ARGS="--node-ip=10.0.0.21 --hostname-override=worker-a"\n',
    );
    expect(text('/var/lib/kubelet/instance-config.yaml')).toBe(`containerRuntimeEndpoint: "${SOCKET}"\n`);
    expect(parse(text('/var/lib/kubelet/config.yaml'))).toEqual({
      kind: 'KubeletConfiguration',
      containerRuntimeEndpoint: SOCKET,
    });
    expect(text('/etc/systemd/system/kubelet.service.d/10-kubeadm.conf')).toContain(
      '--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf',
    );
  });
});

describe("a host's existing cluster CA", async () => {
  const ours = await caOf('10.0.0.10');
  const theirs = await caOf('10.9.9.9');

  it('may be absent or the same; another cluster is refused', () => {
    expect(hostCaProblem(undefined, ours)).toBeUndefined();
    expect(hostCaProblem('\n', ours)).toBeUndefined();
    expect(hostCaProblem(ours, ours)).toBeUndefined();
    expect(hostCaProblem(theirs, ours)).toBe(
      `this host already trusts another cluster's CA (${caCertHash(theirs)}, the cluster's is ${caCertHash(ours)}): ` +
        'reset it first (kprov reset, or kubeadm reset on the host), then join',
    );
    expect(hostCaProblem('garbage', ours)).toMatch(/is not a certificate/);
  });
});
