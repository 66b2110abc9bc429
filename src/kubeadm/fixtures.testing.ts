import type { ClusterConfig } from './config.js';

/** A ClusterConfig with kubeadm's defaults, for tests. */
export function testConfig(over: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    clusterName: 'kubernetes',
    kubernetesVersion: 'v1.37.2',
    imageRepository: 'registry.k8s.io',
    podSubnet: '10.244.0.0/16',
    serviceSubnet: '10.96.0.0/12',
    dnsDomain: 'cluster.local',
    encryptionAlgorithm: 'RSA-2048',
    cni: 'flannel',
    apiServerCertSANs: [],
    apiServerExtraArgs: {},
    controllerManagerExtraArgs: {},
    schedulerExtraArgs: {},
    etcdExtraArgs: {},
    kubeletConfiguration: {},
    kubeProxyConfiguration: {},
    criSocket: 'unix:///run/containerd/containerd.sock',
    ...over,
  };
}
