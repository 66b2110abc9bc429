import type { AccessCredentials, ClusterAccess } from '../../kube/cluster-access.js';
import { parseKubeconfig } from '../../kubeadm/kubeconfig.js';
import {
  API_SERVER_MANIFEST,
  CONTROLLER_MANAGER_MANIFEST,
  KUBELET_CONFIG,
  KUBELET_FLAGS_ENV,
  PKI_DIR,
} from '../../kubeadm/constants.js';
import type { ClusterConfig, NodeConfig } from '../../kubeadm/config.js';
import { manifest, type ClusterPlan, type FileSpec } from '../../kubeadm/plan.js';
import { kubeApiServerManifest, kubeControllerManagerManifest } from '../../kubeadm/manifests.js';
import { kubeletFlagsEnv, kubeletNodeConfigYaml } from '../../kubeadm/kubelet.js';
import type { Host } from '../../host/host.js';
import type { RunContext } from '../phase.js';

export interface ClusterRun {
  cfg: ClusterConfig;
  plan: ClusterPlan;
  nodes: Record<string, NodeConfig>;
  first: string;
  /** The cluster's API and etcd, through the first master, or through another one when it is down. */
  access: ClusterAccess;
  /** Hosts joined in this run (for the summary and waiting). */
  joined: string[];
  /** Whether this run starts the cluster: the first master had no etcd (set by the init phase). */
  newCluster?: boolean;
}

/**
 * The plan is made before any host is reached; once facts are in, the kubelet's flags learn the real host
 * name, so a node named differently in the inventory gets --hostname-override (as kubeadm does).
 */
export function filesFor(run: ClusterRun, host: Host): FileSpec[] {
  const node = run.nodes[host.spec.nodeName];
  // The control plane mounts the CA-trust directories this master has (RHEL's differ from Debian's).
  const caTrustDirs = host.facts?.caTrustDirs;
  return run.plan.files[node.name].map((f) => {
    if (f.path === KUBELET_FLAGS_ENV) return { ...f, content: kubeletFlagsEnv(run.cfg, node, host.facts?.hostname) };
    if (f.path === KUBELET_CONFIG) return { ...f, content: kubeletNodeConfigYaml(run.cfg, host.facts) };
    if (caTrustDirs && f.path === API_SERVER_MANIFEST)
      return manifest('kube-apiserver', kubeApiServerManifest(run.cfg, { ...node, caTrustDirs }));
    if (caTrustDirs && f.path === CONTROLLER_MANAGER_MANIFEST)
      return manifest('kube-controller-manager', kubeControllerManagerManifest(run.cfg, caTrustDirs));
    return f;
  });
}

export const firstMaster = (run: ClusterRun) => (ctx: RunContext) =>
  ctx.hosts.filter((h) => h.spec.nodeName === run.first && !h.failed);
/** The master that carries API traffic, while it has not failed. */
export const viaMaster = (run: ClusterRun) => () => (run.access.via ? [run.access.via] : []);
/** The address of a host's API server and etcd. */
export const addressOf = (run: ClusterRun, host: Host) => run.nodes[host.spec.nodeName].advertiseAddress;

/** What kprov uses to reach a cluster it creates: the super-admin kubeconfig and the API server's etcd client. */
export function planCredentials(plan: ClusterPlan, first: string): AccessCredentials {
  const file = (path: string) => plan.files[first].find((f) => f.path === path)!.content;
  const k = parseKubeconfig(plan.files[first].find((f) => f.path.endsWith('/super-admin.conf'))!.content);
  return {
    api: { caPem: k.caPem, certPem: k.clientCertPem!, keyPem: k.clientKeyPem! },
    etcd: {
      caPem: file(`${PKI_DIR}/etcd/ca.crt`),
      certPem: file(`${PKI_DIR}/apiserver-etcd-client.crt`),
      keyPem: file(`${PKI_DIR}/apiserver-etcd-client.key`),
    },
  };
}
