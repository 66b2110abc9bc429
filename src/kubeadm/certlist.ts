import { isIPv4 } from '../net/ipv4.js';
import type { ExtKeyUsage } from '../pki/x509.js';
import { minorOf } from './versions.js';
import { apiServiceIp, splitHostPort, type ClusterConfig, type NodeConfig } from './config.js';

/** A certificate kubeadm makes, as data (cmd/kubeadm/app/phases/certs/certlist.go). */
export interface CertSpec {
  /** File base name under /etc/kubernetes/pki, e.g. "etcd/server". */
  baseName: string;
  /** baseName of the signing CA; undefined for a CA. */
  caName?: string;
  commonName: (node: NodeConfig) => string;
  organizations: string[];
  /** Organizations that depend on the Kubernetes version (replaces organizations when set). */
  organizationsFor?: (cfg: ClusterConfig) => string[];
  /** Older subjects still accepted in an existing certificate (a renewal keeps the subject it was issued with). */
  acceptedOrganizations?: string[][];
  usages: ExtKeyUsage[];
  sans?: (cfg: ClusterConfig, node: NodeConfig) => { dnsNames: string[]; ipAddresses: string[] };
}

export const CA_SPECS: CertSpec[] = [
  {
    baseName: 'ca',
    commonName: () => 'kubernetes',
    organizations: [],
    usages: [],
    sans: () => ({ dnsNames: ['kubernetes'], ipAddresses: [] }),
  },
  {
    baseName: 'front-proxy-ca',
    commonName: () => 'front-proxy-ca',
    organizations: [],
    usages: [],
    sans: () => ({ dnsNames: ['front-proxy-ca'], ipAddresses: [] }),
  },
  {
    baseName: 'etcd/ca',
    commonName: () => 'etcd-ca',
    organizations: [],
    usages: [],
    sans: () => ({ dnsNames: ['etcd-ca'], ipAddresses: [] }),
  },
];

/** DNS names sorted and unique; IPs unique in the order given (kubeadm's pkiutil behaviour). */
function altNames(dns: string[], ips: string[]): { dnsNames: string[]; ipAddresses: string[] } {
  return { dnsNames: [...new Set(dns)].sort(), ipAddresses: [...new Set(ips)] };
}

export function apiServerSans(cfg: ClusterConfig, node: NodeConfig) {
  const dns = [
    node.name,
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    `kubernetes.default.svc.${cfg.dnsDomain}`,
  ];
  const ips = [apiServiceIp(cfg), node.advertiseAddress];
  const extra = cfg.controlPlaneEndpoint ? [splitHostPort(cfg.controlPlaneEndpoint)[0]] : [];
  for (const name of [...extra, ...cfg.apiServerCertSANs]) (isIPv4(name) || name.includes(':') ? ips : dns).push(name);
  return altNames(dns, ips);
}

const etcdSans = (_cfg: ClusterConfig, node: NodeConfig) =>
  altNames([node.name, 'localhost'], [node.advertiseAddress, '127.0.0.1', '::1']);

/** Leaf certificates every control-plane node has, each signed by one of the CAs. */
export const LEAF_SPECS: CertSpec[] = [
  {
    baseName: 'apiserver',
    caName: 'ca',
    commonName: () => 'kube-apiserver',
    organizations: [],
    usages: ['serverAuth'],
    sans: apiServerSans,
  },
  {
    baseName: 'apiserver-kubelet-client',
    caName: 'ca',
    commonName: () => 'kube-apiserver-kubelet-client',
    // v1.36 gave the API server's kubelet client its own binding (system:kubelet-api-admin) instead of cluster-admin.
    organizations: [],
    organizationsFor: (cfg) => (minorOf(cfg.kubernetesVersion) >= 36 ? [] : ['kubeadm:cluster-admins']),
    acceptedOrganizations: [['kubeadm:cluster-admins']],
    usages: ['clientAuth'],
  },
  {
    baseName: 'front-proxy-client',
    caName: 'front-proxy-ca',
    commonName: () => 'front-proxy-client',
    organizations: [],
    usages: ['clientAuth'],
  },
  {
    baseName: 'etcd/server',
    caName: 'etcd/ca',
    commonName: (n) => n.name,
    organizations: [],
    usages: ['serverAuth', 'clientAuth'],
    sans: etcdSans,
  },
  {
    baseName: 'etcd/peer',
    caName: 'etcd/ca',
    commonName: (n) => n.name,
    organizations: [],
    usages: ['serverAuth', 'clientAuth'],
    sans: etcdSans,
  },
  {
    baseName: 'etcd/healthcheck-client',
    caName: 'etcd/ca',
    commonName: () => 'kube-etcd-healthcheck-client',
    organizations: [],
    usages: ['clientAuth'],
  },
  {
    baseName: 'apiserver-etcd-client',
    caName: 'etcd/ca',
    commonName: () => 'kube-apiserver-etcd-client',
    organizations: [],
    usages: ['clientAuth'],
  },
];

export const ALL_CERT_SPECS: CertSpec[] = [...CA_SPECS, ...LEAF_SPECS];
