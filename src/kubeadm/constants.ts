/** Paths, names, ports and timeouts kubeadm uses (cmd/kubeadm/app/constants), in one side-effect-free module. */
export const KUBERNETES_DIR = '/etc/kubernetes';
export const PKI_DIR = '/etc/kubernetes/pki';
export const MANIFESTS_DIR = '/etc/kubernetes/manifests';
export const ETCD_MANIFEST = `${MANIFESTS_DIR}/etcd.yaml`;
export const API_SERVER_MANIFEST = `${MANIFESTS_DIR}/kube-apiserver.yaml`;
export const CONTROLLER_MANAGER_MANIFEST = `${MANIFESTS_DIR}/kube-controller-manager.yaml`;

/**
 * Directories /etc/ssl/certs may be, or link into, depending on the distribution: kubeadm mounts each one that
 * exists on the master into the API server and the controller-manager (RHEL's bundle lives in /etc/pki/ca-trust).
 */
export const CA_TRUST_EXTRA_DIRS = [
  '/etc/pki/ca-trust',
  '/etc/pki/tls/certs',
  '/etc/ca-certificates',
  '/usr/share/ca-certificates',
  '/usr/local/share/ca-certificates',
];
export const KUBELET_DIR = '/var/lib/kubelet';
export const KUBELET_CONFIG = '/var/lib/kubelet/config.yaml';
export const KUBELET_FLAGS_ENV = '/var/lib/kubelet/kubeadm-flags.env';
export const KUBELET_INSTANCE_CONFIG = '/var/lib/kubelet/instance-config.yaml';
export const KUBELET_DROPIN = '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf';
export const KUBELET_CLIENT_CURRENT = '/var/lib/kubelet/pki/kubelet-client-current.pem';
export const ETCD_DATA_DIR = '/var/lib/etcd';

export const ADMIN_CONF = 'admin.conf';
export const SUPER_ADMIN_CONF = 'super-admin.conf';
export const KUBELET_CONF = 'kubelet.conf';
export const BOOTSTRAP_KUBELET_CONF = 'bootstrap-kubelet.conf';
export const CONTROLLER_MANAGER_CONF = 'controller-manager.conf';
export const SCHEDULER_CONF = 'scheduler.conf';

export const API_PORT = 6443;
export const SCHEDULER_PORT = 10259;
export const CONTROLLER_MANAGER_PORT = 10257;
export const KUBELET_PORT = 10250;
export const KUBELET_HEALTHZ_PORT = 10248;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const ETCD_METRICS_PORT = 2381;

export const CERT_BACKDATE_MS = 5 * 60_000;
export const LEAF_VALIDITY_MS = 8760 * 3600_000;
export const CA_VALIDITY_MS = 87600 * 3600_000;
/** Leaves closer than this to expiry are renewed on the next run. */
export const RENEW_BEFORE_MS = 30 * 24 * 3600_000;

export const LABEL_CONTROL_PLANE = 'node-role.kubernetes.io/control-plane';
export const LABEL_EXCLUDE_LB = 'node.kubernetes.io/exclude-from-external-load-balancers';
/** containerd's CRI socket, the kubelet's --container-runtime-endpoint and crictl's endpoint. */
export const CONTAINERD_CRI_SOCKET = 'unix:///run/containerd/containerd.sock';

export const ANNOTATION_CRI_SOCKET = 'kubeadm.alpha.kubernetes.io/cri-socket';

export const GROUP_CLUSTER_ADMINS = 'kubeadm:cluster-admins';
export const GROUP_MASTERS = 'system:masters';
export const GROUP_NODES = 'system:nodes';
export const GROUP_BOOTSTRAPPERS = 'system:bootstrappers';
export const GROUP_DEFAULT_NODE_TOKEN = 'system:bootstrappers:kubeadm:default-node-token';

export const TOKEN_DEFAULT_TTL_MS = 24 * 3600_000;
export const UPLOAD_CERTS_TTL_MS = 2 * 3600_000;
