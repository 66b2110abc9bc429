import { stringify } from 'yaml';
import type { ClusterConfig, NodeConfig } from './config.js';
import { controlPlaneUrl, splitHostPort } from './config.js';
import { LABEL_CONTROL_PLANE, LABEL_EXCLUDE_LB, PKI_DIR, ETCD_DATA_DIR } from './constants.js';

/** ClusterConfiguration (kubeadm.k8s.io/v1beta4) stored in kube-system/kubeadm-config, as kubeadm uploads it. */
export function clusterConfiguration(cfg: ClusterConfig, first: NodeConfig) {
  const endpoint = new URL(controlPlaneUrl(cfg, first));
  const extra = (args: Record<string, string>) => Object.entries(args).map(([name, value]) => ({ name, value }));
  return {
    apiVersion: 'kubeadm.k8s.io/v1beta4',
    kind: 'ClusterConfiguration',
    apiServer: {
      ...(cfg.apiServerCertSANs.length ? { certSANs: cfg.apiServerCertSANs } : {}),
      ...(Object.keys(cfg.apiServerExtraArgs).length ? { extraArgs: extra(cfg.apiServerExtraArgs) } : {}),
    },
    caCertificateValidityPeriod: '87600h0m0s',
    certificateValidityPeriod: '8760h0m0s',
    certificatesDir: PKI_DIR,
    clusterName: cfg.clusterName,
    // Only a configured endpoint is recorded, as kubeadm does: a single master's own address is no stable endpoint,
    // and upstream `kubeadm join --control-plane` must refuse such a cluster.
    ...(cfg.controlPlaneEndpoint
      ? { controlPlaneEndpoint: `${splitHostPort(cfg.controlPlaneEndpoint)[0]}:${endpoint.port}` }
      : {}),
    controllerManager: {},
    dns: {},
    encryptionAlgorithm: cfg.encryptionAlgorithm,
    etcd: { local: { dataDir: ETCD_DATA_DIR } },
    imageRepository: cfg.imageRepository,
    kubernetesVersion: cfg.kubernetesVersion,
    networking: { dnsDomain: cfg.dnsDomain, podSubnet: cfg.podSubnet, serviceSubnet: cfg.serviceSubnet },
    proxy: {},
    scheduler: {},
  };
}

export function kubeadmConfigMap(cfg: ClusterConfig, first: NodeConfig) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kubeadm-config', namespace: 'kube-system' },
    data: { ClusterConfiguration: stringify(clusterConfiguration(cfg, first)) },
  };
}

export const DEFAULT_CONTROL_PLANE_TAINT = { key: LABEL_CONTROL_PLANE, effect: 'NoSchedule' };

/**
 * mark-control-plane: labels, and taints. A control-plane node that is also a worker gets no taint;
 * explicit taints (even []) replace the default. (kubeadm stopped writing the kubeadm.alpha.kubernetes.io/cri-socket
 * annotation in v1.35: the socket is in each node's instance-config.yaml.)
 */
export function controlPlaneNodePatch(node: NodeConfig) {
  const taints = node.taints ?? (node.worker ? [] : [DEFAULT_CONTROL_PLANE_TAINT]);
  return {
    metadata: { labels: { [LABEL_CONTROL_PLANE]: '', [LABEL_EXCLUDE_LB]: '' } },
    spec: { taints },
  };
}
