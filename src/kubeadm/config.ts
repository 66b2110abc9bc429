import { CONTAINERD_CRI_SOCKET } from './constants.js';
import type { ClusterSettings, HostSpec } from '../config/settings.js';
import type { KeyAlgorithm } from '../pki/keys.js';
import { parseCidr, nthAddress, type Cidr } from '../net/ipv4.js';
import { API_PORT } from './constants.js';

/** What the pure kubeadm core needs to know about the cluster. */
export interface ClusterConfig {
  clusterName: string;
  kubernetesVersion: string;
  imageRepository: string;
  /** One IPv4 CIDR, or "IPv4,IPv6" for dual-stack, as kubeadm's networking.podSubnet. */
  podSubnet: string;
  /** One IPv4 CIDR, or "IPv4,IPv6" for dual-stack; the first is the primary (kubernetes and kube-dns Services). */
  serviceSubnet: string;
  dnsDomain: string;
  /** host[:port]; empty means the first control-plane node's address. */
  controlPlaneEndpoint?: string;
  encryptionAlgorithm: KeyAlgorithm;
  cni: 'flannel' | 'none';
  apiServerCertSANs: string[];
  apiServerExtraArgs: Record<string, string>;
  controllerManagerExtraArgs: Record<string, string>;
  schedulerExtraArgs: Record<string, string>;
  etcdExtraArgs: Record<string, string>;
  /** Extra KubeletConfiguration fields (from --config or inventory), merged over kubeadm's defaults. */
  kubeletConfiguration: Record<string, unknown>;
  /** Extra KubeProxyConfiguration fields. */
  kubeProxyConfiguration: Record<string, unknown>;
  criSocket: string;
}

/** One machine as the core sees it. */
export interface NodeConfig {
  name: string;
  advertiseAddress: string;
  /** The node's IPv6 address in a dual-stack cluster. */
  address6?: string;
  controlPlane: boolean;
  worker: boolean;
  /** Taints for a control-plane node; undefined means kubeadm's default (NoSchedule unless it is also a worker). */
  taints?: { key: string; value?: string; effect: string }[];
  /** Which CA_TRUST_EXTRA_DIRS the master has, once its facts are known (see manifests.ts). */
  caTrustDirs?: string[];
}

export function clusterConfigFrom(settings: ClusterSettings, extra: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    clusterName: settings.clusterName,
    kubernetesVersion: settings.kubernetesVersion,
    imageRepository: settings.imageRepository,
    podSubnet: settings.podNetworkCidr,
    serviceSubnet: settings.serviceCidr,
    dnsDomain: settings.dnsDomain,
    controlPlaneEndpoint: settings.controlPlaneEndpoint,
    encryptionAlgorithm: 'RSA-2048',
    cni: settings.cni,
    apiServerCertSANs: [],
    apiServerExtraArgs: {},
    controllerManagerExtraArgs: {},
    schedulerExtraArgs: {},
    etcdExtraArgs: {},
    kubeletConfiguration: settings.kubeletConfiguration,
    kubeProxyConfiguration: settings.kubeProxyConfiguration,
    criSocket: CONTAINERD_CRI_SOCKET,
    ...extra,
    // Fields from a --config file come on top of the inventory's.
    ...(extra.kubeletConfiguration
      ? { kubeletConfiguration: { ...settings.kubeletConfiguration, ...extra.kubeletConfiguration } }
      : {}),
    ...(extra.kubeProxyConfiguration
      ? { kubeProxyConfiguration: { ...settings.kubeProxyConfiguration, ...extra.kubeProxyConfiguration } }
      : {}),
  };
}

export function nodeConfigFrom(h: HostSpec): NodeConfig {
  return {
    name: h.nodeName,
    advertiseAddress: h.nodeIp ?? h.address,
    ...(h.nodeIp6 !== undefined ? { address6: h.nodeIp6 } : {}),
    controlPlane: h.controlPlane,
    worker: h.worker,
  };
}

/** Pod and service networks both "IPv4,IPv6" (kprov's validation allows no other list). */
export const isDualStackCluster = (cfg: ClusterConfig) =>
  cfg.podSubnet.includes(',') && cfg.serviceSubnet.includes(',');

/** The IPv4 and (dual-stack) IPv6 halves of a network list "v4[,v6]". */
export function cidrFamilies(cidrs: string): { v4: string; v6?: string } {
  const [v4, v6] = cidrs.split(',');
  return v6 === undefined ? { v4 } : { v4, v6 };
}

/**
 * The primary service CIDR: the first of the list, as kubeadm's GetKubernetesServiceCIDR takes it. The kubernetes
 * Service (and its SAN in the API server certificate) and kube-dns get addresses from it only.
 */
export function serviceCidr(cfg: ClusterConfig): Cidr {
  const c = parseCidr(cidrFamilies(cfg.serviceSubnet).v4);
  if (typeof c === 'string') throw new Error(c);
  return c;
}

/** First IP of the service range: the kubernetes Service (10.96.0.1 by default). */
export const apiServiceIp = (cfg: ClusterConfig) => nthAddress(serviceCidr(cfg), 1);
/** Tenth IP of the service range: cluster DNS (10.96.0.10 by default). */
export const clusterDnsIp = (cfg: ClusterConfig) => nthAddress(serviceCidr(cfg), 10);

/** https URL of the control-plane endpoint; falls back to the first control-plane node. */
export function controlPlaneUrl(cfg: ClusterConfig, firstControlPlane: NodeConfig): string {
  if (cfg.controlPlaneEndpoint) {
    const [host, port] = splitHostPort(cfg.controlPlaneEndpoint);
    return `https://${host}:${port ?? API_PORT}`;
  }
  return `https://${firstControlPlane.advertiseAddress}:${API_PORT}`;
}

export function localApiUrl(node: NodeConfig): string {
  return `https://${node.advertiseAddress}:${API_PORT}`;
}

export function splitHostPort(hostPort: string): [string, number | undefined] {
  const m = /^(.*?)(?::(\d+))?$/.exec(hostPort)!;
  return [m[1], m[2] ? Number(m[2]) : undefined];
}
