import { BOOTSTRAP_KUBELET_CONF, KUBELET_CONF, KUBERNETES_DIR, PKI_DIR } from './constants.js';
import type { FileSpec } from './plan.js';

/** The files certs renew replaces: leaf certificates and the kubeconfigs with client certificates kprov made. */
export function renewedFiles(files: FileSpec[]): FileSpec[] {
  const kept = [`${KUBERNETES_DIR}/${KUBELET_CONF}`, `${KUBERNETES_DIR}/${BOOTSTRAP_KUBELET_CONF}`];
  return files.filter(
    (f) =>
      (f.path.startsWith(`${PKI_DIR}/`) && f.path.endsWith('.crt')) ||
      (/^\/etc\/kubernetes\/[^/]+\.conf$/.test(f.path) && !kept.includes(f.path)),
  );
}
