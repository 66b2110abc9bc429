import type { ClusterSettings } from '../config/settings.js';

/** Image versions kubeadm pins per Kubernetes minor release (cmd/kubeadm/app/constants). */
const PINNED: Record<number, { pause: string; etcd: string; coredns: string }> = {
  30: { pause: '3.9', etcd: '3.5.15-0', coredns: 'v1.11.3' },
  31: { pause: '3.10', etcd: '3.5.15-0', coredns: 'v1.11.3' },
  32: { pause: '3.10', etcd: '3.5.16-0', coredns: 'v1.11.3' },
  33: { pause: '3.10', etcd: '3.5.21-0', coredns: 'v1.12.0' },
  34: { pause: '3.10.1', etcd: '3.6.4-0', coredns: 'v1.12.1' },
};

export function minorOf(version: string): number {
  return Number(version.replace(/^v/, '').split('.')[1]);
}

function pinned(version: string) {
  const minor = minorOf(version);
  return PINNED[minor] ?? PINNED[Math.max(...Object.keys(PINNED).map(Number))];
}

type Repo = Pick<ClusterSettings, 'imageRepository' | 'kubernetesVersion'>;

export const pauseImage = (c: Repo) => `${c.imageRepository}/pause:${pinned(c.kubernetesVersion).pause}`;
export const etcdImage = (c: Repo) => `${c.imageRepository}/etcd:${pinned(c.kubernetesVersion).etcd}`;
export const corednsImage = (c: Repo) => `${c.imageRepository}/coredns/coredns:${pinned(c.kubernetesVersion).coredns}`;
export const componentImage = (c: Repo, component: string) =>
  `${c.imageRepository}/${component}:${c.kubernetesVersion}`;

export const FLANNEL_VERSION = 'v0.28.9';
export const FLANNEL_CNI_PLUGIN_VERSION = 'v1.9.1-flannel3';
export const flannelImage = () => `ghcr.io/flannel-io/flannel:${FLANNEL_VERSION}`;
export const flannelCniPluginImage = () => `ghcr.io/flannel-io/flannel-cni-plugin:${FLANNEL_CNI_PLUGIN_VERSION}`;
