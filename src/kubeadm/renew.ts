import { UserError } from '../errors/index.js';
import {
  ADMIN_CONF,
  BOOTSTRAP_KUBELET_CONF,
  CONTROLLER_MANAGER_CONF,
  KUBELET_CONF,
  KUBERNETES_DIR,
  PKI_DIR,
  SCHEDULER_CONF,
  SUPER_ADMIN_CONF,
} from './constants.js';
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

export type ControlPlaneComponent = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';

/** The order certs renew restarts components in: etcd before the API server that needs it. */
const RESTART_ORDER: ControlPlaneComponent[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

const crt = (baseName: string) => `${PKI_DIR}/${baseName}.crt`;
const conf = (file: string) => `${KUBERNETES_DIR}/${file}`;

/**
 * kubeadm certs renew's names: the file each replaces (a certificate keeps its key) and the static pods that
 * read it, so must restart to use the new one.
 */
const RENEWABLE: Record<string, { file: string; restart: ControlPlaneComponent[] }> = {
  'admin.conf': { file: conf(ADMIN_CONF), restart: [] },
  apiserver: { file: crt('apiserver'), restart: ['kube-apiserver'] },
  'apiserver-etcd-client': { file: crt('apiserver-etcd-client'), restart: ['kube-apiserver'] },
  'apiserver-kubelet-client': { file: crt('apiserver-kubelet-client'), restart: ['kube-apiserver'] },
  'controller-manager.conf': { file: conf(CONTROLLER_MANAGER_CONF), restart: ['kube-controller-manager'] },
  // No static pod reads it (etcd's probes use its metrics port): it is for checking etcd by hand with etcdctl.
  'etcd-healthcheck-client': { file: crt('etcd/healthcheck-client'), restart: [] },
  'etcd-peer': { file: crt('etcd/peer'), restart: ['etcd'] },
  'etcd-server': { file: crt('etcd/server'), restart: ['etcd'] },
  'front-proxy-client': { file: crt('front-proxy-client'), restart: ['kube-apiserver'] },
  'scheduler.conf': { file: conf(SCHEDULER_CONF), restart: ['kube-scheduler'] },
  'super-admin.conf': { file: conf(SUPER_ADMIN_CONF), restart: [] },
};

export const RENEWABLE_NAMES = Object.keys(RENEWABLE);

export interface Renewal {
  /** `all`: every leaf and kubeconfig, exactly as before names could be given. */
  all: boolean;
  /** The files renewed, as paths on a master (super-admin.conf is on the first master only). */
  files: string[];
  /** Static pods to restart on each master whose files changed, in this order. */
  restart: ControlPlaneComponent[];
}

/** What `certs renew all` or `certs renew NAME...` renews; a name kubeadm does not know is a UserError. */
export function renewalFor(args: string[]): Renewal {
  const names = [...new Set(args.length === 0 ? ['all'] : args)];
  const unknown = names.filter((n) => n !== 'all' && !RENEWABLE_NAMES.includes(n));
  if (unknown.length > 0) {
    const quoted = unknown.map((n) => JSON.stringify(n)).join(', ');
    throw new UserError(`certs renew: unknown certificate ${quoted}; valid names: all, ${RENEWABLE_NAMES.join(', ')}`);
  }
  if (names.includes('all') && names.length > 1)
    throw new UserError('certs renew: "all" renews every certificate; give either all or certificate names');
  const all = names[0] === 'all';
  const chosen = (all ? RENEWABLE_NAMES : names).map((n) => RENEWABLE[n]);
  return {
    all,
    files: chosen.map((c) => c.file),
    restart: RESTART_ORDER.filter((component) => chosen.some((c) => c.restart.includes(component))),
  };
}
