import { signConfigMap } from './component-config.js';
import { stringify } from 'yaml';
import { clusterDnsIp, type ClusterConfig, type NodeConfig } from './config.js';
import { KUBELET_HEALTHZ_PORT, MANIFESTS_DIR, PKI_DIR } from './constants.js';

/** KubeletConfiguration as kubeadm writes it, with the user's fields merged over the defaults. */
export function kubeletConfiguration(cfg: ClusterConfig): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    authentication: {
      anonymous: { enabled: false },
      webhook: { cacheTTL: '0s', enabled: true },
      x509: { clientCAFile: `${PKI_DIR}/ca.crt` },
    },
    authorization: { mode: 'Webhook', webhook: { cacheAuthorizedTTL: '0s', cacheUnauthorizedTTL: '0s' } },
    cgroupDriver: 'systemd',
    clusterDNS: [clusterDnsIp(cfg)],
    clusterDomain: cfg.dnsDomain,
    containerRuntimeEndpoint: '',
    healthzBindAddress: '127.0.0.1',
    healthzPort: KUBELET_HEALTHZ_PORT,
    rotateCertificates: true,
    runtimeRequestTimeout: '0s',
    staticPodPath: MANIFESTS_DIR,
    ...cfg.kubeletConfiguration,
  };
}

export const kubeletConfigYaml = (cfg: ClusterConfig) => stringify(kubeletConfiguration(cfg));

/** What a node knows about itself that changes its kubelet's configuration. */
export interface KubeletHost {
  /** The kubelet of v1.35 and later refuses cgroup v1 hosts unless failCgroupV1 is false. */
  cgroupVersion?: 1 | 2;
}

/**
 * /var/lib/kubelet/instance-config.yaml: kubeadm's per-node patch (NodeLocalCRISocket, GA in v1.36): the CRI
 * socket lives here instead of a kubelet flag or a node annotation.
 */
export const instanceConfigYaml = (cfg: ClusterConfig) =>
  `containerRuntimeEndpoint: ${JSON.stringify(cfg.criSocket)}\n`;

/**
 * A node's /var/lib/kubelet/config.yaml: the cluster's kubelet-config with the instance patch applied, as kubeadm
 * writes it; on a cgroup v1 host also failCgroupV1: false, without which the kubelet of v1.35+ will not start
 * (kubeadm asks the operator to put it in the ConfigMap; kprov sets it only where the host needs it).
 */
export function kubeletNodeConfigYaml(cfg: ClusterConfig, host: KubeletHost = {}): string {
  const config: Record<string, unknown> = { ...kubeletConfiguration(cfg), containerRuntimeEndpoint: cfg.criSocket };
  if (host.cgroupVersion === 1 && !('failCgroupV1' in cfg.kubeletConfiguration)) config.failCgroupV1 = false;
  return stringify(config);
}

/** The kube-system/kubelet-config ConfigMap joining nodes read their configuration from. */
export function kubeletConfigMap(cfg: ClusterConfig) {
  return signConfigMap({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kubelet-config', namespace: 'kube-system' },
    data: { kubelet: kubeletConfigYaml(cfg) },
  });
}

/**
 * KUBELET_KUBEADM_ARGS: the node IP (kprov's addition: lab and cloud hosts have several addresses) and a hostname
 * override when the node name is not the host name. Since v1.35 kubeadm passes neither the runtime endpoint (it is
 * in instance-config.yaml) nor the sandbox image (the kubelet lost --pod-infra-container-image; containerd pins it).
 * A dual-stack node gets both its addresses, IPv4 first (--node-ip=v4,v6): kubeadm writes no --node-ip at all and
 * leaves a dual-stack node's to nodeRegistration.kubeletExtraArgs; kprov knows both and sets them.
 */
export function kubeletFlags(_cfg: ClusterConfig, node: NodeConfig, hostname?: string): string {
  const ips = node.address6 === undefined ? node.advertiseAddress : `${node.advertiseAddress},${node.address6}`;
  const flags = [`--node-ip=${ips}`];
  if (hostname !== undefined && hostname.toLowerCase() !== node.name) flags.push(`--hostname-override=${node.name}`);
  return flags.join(' ');
}

/** kubeadm's /var/lib/kubelet/kubeadm-flags.env: one variable, its value quoted so systemd keeps it whole. */
export function kubeletFlagsEnv(cfg: ClusterConfig, node: NodeConfig, hostname?: string): string {
  return `KUBELET_KUBEADM_ARGS=${JSON.stringify(kubeletFlags(cfg, node, hostname))}\n`;
}

/** The systemd drop-in the kubeadm package installs (10-kubeadm.conf). */
export function kubeletDropIn(kubeletPath = '/usr/bin/kubelet'): string {
  return [
    '# Managed by kprov (the same drop-in kubeadm installs).',
    '[Service]',
    'Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf ' +
      '--kubeconfig=/etc/kubernetes/kubelet.conf"',
    'Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"',
    'EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env',
    'EnvironmentFile=-/etc/default/kubelet',
    'ExecStart=',
    `ExecStart=${kubeletPath} $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS`,
    '',
  ].join('\n');
}

/** The kubelet unit from the upstream release packaging. */
export function kubeletUnit(kubeletPath = '/usr/bin/kubelet'): string {
  return [
    '# Managed by kprov: the kubelet unit from the upstream release packaging.',
    '[Unit]',
    'Description=kubelet: The Kubernetes Node Agent',
    'Documentation=https://kubernetes.io/docs/',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    `ExecStart=${kubeletPath}`,
    'Restart=always',
    'StartLimitInterval=0',
    'RestartSec=10',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
