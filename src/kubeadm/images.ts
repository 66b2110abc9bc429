import type { ClusterSettings } from '../config/settings.js';
import { releaseOf } from './versions.js';

type Repo = Pick<ClusterSettings, 'imageRepository' | 'kubernetesVersion'>;

export const pauseImage = (c: Repo) => `${c.imageRepository}/pause:${releaseOf(c.kubernetesVersion).pause}`;
export const etcdImage = (c: Repo) => `${c.imageRepository}/etcd:${releaseOf(c.kubernetesVersion).etcd}`;
export const corednsImage = (c: Repo) =>
  `${c.imageRepository}/coredns/coredns:${releaseOf(c.kubernetesVersion).coredns}`;
export const componentImage = (c: Repo, component: string) =>
  `${c.imageRepository}/${component}:${c.kubernetesVersion}`;

export const FLANNEL_VERSION = 'v0.28.9';
export const FLANNEL_CNI_PLUGIN_VERSION = 'v1.9.1-flannel3';
export const flannelImage = () => `ghcr.io/flannel-io/flannel:${FLANNEL_VERSION}`;
export const flannelCniPluginImage = () => `ghcr.io/flannel-io/flannel-cni-plugin:${FLANNEL_CNI_PLUGIN_VERSION}`;
