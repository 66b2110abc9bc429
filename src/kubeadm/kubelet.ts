import { signConfigMap } from './component-config.js';
import { stringify } from 'yaml';
import { pauseImage } from './images.js';
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
 * KUBELET_KUBEADM_ARGS: the runtime endpoint, the sandbox image, the node IP, a hostname override when the
 * node name is not the host name, and (for a worker joining) its taints.
 */
export function kubeletFlags(cfg: ClusterConfig, node: NodeConfig, hostname?: string): string {
  const flags = [
    `--container-runtime-endpoint=${cfg.criSocket}`,
    `--pod-infra-container-image=${pauseImage(cfg)}`,
    `--node-ip=${node.advertiseAddress}`,
  ];
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
