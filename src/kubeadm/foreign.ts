/**
 * A worker joining a cluster kprov did not create (upstream `kubeadm init`): what kubeadm join's kubelet-start
 * phase writes, computed from what the cluster publishes (cluster-info, kubeadm-config, kubelet-config) instead of
 * from kprov's own plan. Pure: the discovery and the hosts are handled in phases.
 */
import { parse, stringify } from 'yaml';
import type { ClusterConfig, NodeConfig } from './config.js';
import type { FileSpec } from './plan.js';
import { buildKubeconfig } from './kubeconfig.js';
import { caCertHash } from './discovery.js';
import { instanceConfigYaml, kubeletDropIn, kubeletFlagsEnv } from './kubelet.js';
import {
  BOOTSTRAP_KUBELET_CONF,
  KUBELET_CONFIG,
  KUBELET_DROPIN,
  KUBELET_FLAGS_ENV,
  KUBELET_INSTANCE_CONFIG,
  KUBERNETES_DIR,
  PKI_DIR,
} from './constants.js';
import { minorOf, SUPPORTED_MINORS, supportedList } from './versions.js';

/** What a joining worker takes from the cluster's ClusterConfiguration (kube-system/kubeadm-config). */
export interface ForeignClusterConfiguration {
  kubernetesVersion: string;
  imageRepository: string;
  clusterName: string;
  dnsDomain: string;
  serviceSubnet: string;
  podSubnet?: string;
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The ClusterConfiguration kubeadm uploads (kubeadm.k8s.io/v1beta3 or v1beta4; the fields read here are the same in
 * both), with kubeadm's defaults for what it leaves out. Throws an Error naming what is wrong.
 */
export function parseClusterConfiguration(data: Record<string, string> | undefined): ForeignClusterConfiguration {
  const text = data?.ClusterConfiguration;
  if (!text) throw new Error('kube-system/kubeadm-config has no ClusterConfiguration: is this a kubeadm cluster?');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`kube-system/kubeadm-config: ClusterConfiguration is not YAML: ${(err as Error).message}`);
  }
  if (!isMap(doc) || doc.kind !== 'ClusterConfiguration' || !/^kubeadm\.k8s\.io\//.test(String(doc.apiVersion))) {
    throw new Error('kube-system/kubeadm-config: ClusterConfiguration is not a kubeadm.k8s.io ClusterConfiguration');
  }
  const networking = isMap(doc.networking) ? doc.networking : {};
  const str = (v: unknown, fallback: string) => (typeof v === 'string' && v !== '' ? v : fallback);
  const version = str(doc.kubernetesVersion, '');
  if (!version) throw new Error('kube-system/kubeadm-config: ClusterConfiguration has no kubernetesVersion');
  return {
    kubernetesVersion: version.startsWith('v') ? version : `v${version}`,
    imageRepository: str(doc.imageRepository, 'registry.k8s.io'),
    clusterName: str(doc.clusterName, 'kubernetes'),
    dnsDomain: str(networking.dnsDomain, 'cluster.local'),
    serviceSubnet: str(networking.serviceSubnet, '10.96.0.0/12'),
    ...(typeof networking.podSubnet === 'string' && networking.podSubnet ? { podSubnet: networking.podSubnet } : {}),
  };
}

/**
 * The version a joining kubelet runs: the cluster's. An inventory that names another is refused rather than
 * followed (a kubelet newer than its API server is outside the skew policy, an older one is not what was asked
 * for); a cluster at a minor kprov does not install is refused too.
 */
export function workerVersionFor(clusterVersion: string, pinned?: string): { version: string } | { problem: string } {
  if (!/^v\d+\.\d+\.\d+$/.test(clusterVersion)) {
    return {
      problem: `the cluster runs Kubernetes "${clusterVersion}", which is not a release version kprov installs`,
    };
  }
  if (pinned !== undefined && pinned !== clusterVersion) {
    return {
      problem:
        `the cluster runs ${clusterVersion} but kubernetes_version is ${pinned}: a joining kubelet runs the ` +
        `cluster's version; set kubernetes_version: ${clusterVersion}, or leave it out to take the cluster's`,
    };
  }
  const [major] = clusterVersion.slice(1).split('.').map(Number);
  if (major !== 1 || !SUPPORTED_MINORS.includes(minorOf(clusterVersion))) {
    return {
      problem:
        `the cluster runs ${clusterVersion}, which kprov does not install (kprov supports ${supportedList()}): ` +
        'join it with kubeadm, or upgrade the cluster first',
    };
  }
  return { version: clusterVersion };
}

/** `kubelet --version` output ("Kubernetes v1.37.2") against the version the node must run; undefined when it does. */
export function kubeletVersionProblem(output: string, want: string): string | undefined {
  const have = /Kubernetes (v\S+)/.exec(output)?.[1];
  if (have === want) return undefined;
  return (
    `the kubelet installed here is ${have ?? `unknown (${JSON.stringify(output.trim().slice(0, 80))})`} but the ` +
    `cluster runs ${want}: use an artifacts bundle of ${want} (or none: kprov then downloads ${want})`
  );
}

/** JSON merge patch (RFC 7386): mappings merge key by key, null removes a key, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return patch;
  const out: Record<string, unknown> = isMap(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** What a node knows about itself that changes its kubelet configuration. */
export interface ForeignKubeletHost {
  criSocket: string;
  cgroupVersion?: 1 | 2;
}

/**
 * A joining node's /var/lib/kubelet/config.yaml, as kubeadm join writes it: the cluster's kube-system/kubelet-config
 * with this node's patch applied (kprov's kubelet_configuration var plays the part of a kubeadm `--patches`
 * kubeletconfiguration file, merged as JSON merge patch), plus what kprov's own hosts always need: the CRI socket
 * (kubeadm's instance configuration), the systemd cgroup driver kprov's containerd uses, and on a cgroup v1 host
 * failCgroupV1: false unless the patch says otherwise. notes says what differs from the cluster's ConfigMap.
 */
export function foreignKubeletConfig(
  clusterKubelet: string | undefined,
  patch: Record<string, unknown>,
  host: ForeignKubeletHost,
): { config: Record<string, unknown>; notes: string[] } {
  if (!clusterKubelet) throw new Error('kube-system/kubelet-config has no "kubelet" key: is this a kubeadm cluster?');
  let doc: unknown;
  try {
    doc = parse(clusterKubelet);
  } catch (err) {
    throw new Error(`kube-system/kubelet-config is not YAML: ${(err as Error).message}`);
  }
  if (!isMap(doc) || doc.kind !== 'KubeletConfiguration') {
    throw new Error('kube-system/kubelet-config does not hold a KubeletConfiguration');
  }
  const notes: string[] = [];
  const config = mergePatch(doc, patch) as Record<string, unknown>;
  if (Object.keys(patch).length > 0) notes.push(`kubelet_configuration applied over the cluster's kubelet-config`);
  config.containerRuntimeEndpoint = host.criSocket;
  if (!('cgroupDriver' in patch) && config.cgroupDriver !== 'systemd') {
    notes.push(
      `cgroupDriver: the cluster's kubelet-config says ${JSON.stringify(config.cgroupDriver ?? '(unset)')}; ` +
        "this node's containerd uses the systemd driver, so its kubelet does too",
    );
    config.cgroupDriver = 'systemd';
  }
  if (host.cgroupVersion === 1 && !('failCgroupV1' in patch) && config.failCgroupV1 !== false) {
    config.failCgroupV1 = false;
    notes.push('failCgroupV1: false (a cgroup v1 host; the kubelet would not start otherwise)');
  }
  return { config, notes };
}

/** What kprov writes on a joining worker: the files that need the token, and the kubelet's own files. */
export interface ForeignWorkerFiles {
  /** The cluster CA and bootstrap-kubelet.conf (with the token): only for a host that has not joined yet. */
  bootstrap: FileSpec[];
  /** config.yaml, instance-config.yaml, kubeadm-flags.env and the drop-in: kept in step on every run. */
  kubelet: FileSpec[];
}

export interface ForeignWorkerInput {
  /** The cluster as kprov sees it (the cluster's version and networks, the inventory's CRI socket). */
  cfg: ClusterConfig;
  node: NodeConfig;
  /** The host's own name, when known: a node named otherwise gets --hostname-override. */
  hostname?: string;
  /** From the verified cluster-info: the API server the kubelet bootstraps against and the cluster CA. */
  server: string;
  caPem: string;
  token: string;
  kubeletConfig: Record<string, unknown>;
}

export function foreignWorkerFiles(i: ForeignWorkerInput): ForeignWorkerFiles {
  return {
    bootstrap: [
      { path: `${PKI_DIR}/ca.crt`, content: i.caPem, mode: 0o644, dirMode: 0o755 },
      {
        path: `${KUBERNETES_DIR}/${BOOTSTRAP_KUBELET_CONF}`,
        // kubeadm's discovery.For: the cluster is always named "kubernetes" and the user tls-bootstrap-token-user.
        content: buildKubeconfig({
          clusterName: 'kubernetes',
          server: i.server,
          caPem: i.caPem,
          userName: 'tls-bootstrap-token-user',
          token: i.token,
        }),
        mode: 0o600,
      },
    ],
    kubelet: [
      { path: KUBELET_CONFIG, content: stringify(i.kubeletConfig), mode: 0o644 },
      { path: KUBELET_INSTANCE_CONFIG, content: instanceConfigYaml(i.cfg), mode: 0o644 },
      { path: KUBELET_FLAGS_ENV, content: kubeletFlagsEnv(i.cfg, i.node, i.hostname), mode: 0o644 },
      { path: KUBELET_DROPIN, content: kubeletDropIn(), mode: 0o644 },
    ],
  };
}

/**
 * A host that already trusts a cluster CA (/etc/kubernetes/pki/ca.crt) must trust this one: joining it would
 * overwrite another cluster's trust. undefined when it has none or the same.
 */
export function hostCaProblem(existingPem: string | undefined, clusterCaPem: string): string | undefined {
  if (!existingPem?.trim()) return undefined;
  let existing: string;
  try {
    existing = caCertHash(existingPem);
  } catch {
    return `${PKI_DIR}/ca.crt is not a certificate: remove it (kprov reset or kubeadm reset) before joining`;
  }
  const wanted = caCertHash(clusterCaPem);
  if (existing === wanted) return undefined;
  return (
    `this host already trusts another cluster's CA (${existing}, the cluster's is ${wanted}): ` +
    'reset it first (kprov reset, or kubeadm reset on the host), then join'
  );
}
