import { createHash } from 'node:crypto';

export const ANNOTATION_COMPONENT_CONFIG_HASH = 'kubeadm.kubernetes.io/component-config.hash';

interface ConfigMapLike {
  metadata: { annotations?: Record<string, string>; [field: string]: unknown };
  data?: Record<string, string>;
}

/**
 * kubeadm's ChecksumForConfigMap: sha256 over the data values in sorted key order. With it on a component
 * config ConfigMap, `kubeadm upgrade` knows the config is kubeadm-defaulted rather than supplied by the user.
 */
export function configMapChecksum(cm: ConfigMapLike): string {
  const hash = createHash('sha256');
  const data = cm.data ?? {};
  for (const key of Object.keys(data).sort()) hash.update(data[key]);
  return `sha256:${hash.digest('hex')}`;
}

/** The ConfigMap with kubeadm's component-config hash annotation. */
export function signConfigMap<T extends ConfigMapLike>(
  cm: T,
): T & { metadata: { annotations: Record<string, string> } } {
  return {
    ...cm,
    metadata: {
      ...cm.metadata,
      annotations: { ...cm.metadata.annotations, [ANNOTATION_COMPONENT_CONFIG_HASH]: configMapChecksum(cm) },
    },
  };
}
