import { minorOf } from './versions.js';
import { GROUP_CLUSTER_ADMINS, GROUP_DEFAULT_NODE_TOKEN, GROUP_NODES } from './constants.js';

const rbac = 'rbac.authorization.k8s.io';
const api = `${rbac}/v1`;
type Subject = { kind: 'Group' | 'User'; name: string };
const group = (name: string): Subject => ({ kind: 'Group', name });

function clusterRoleBinding(name: string, role: string, subjects: Subject[]) {
  return {
    apiVersion: api,
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: role },
    subjects: subjects.map((s) => ({ apiGroup: rbac, ...s })),
  };
}

function role(name: string, namespace: string, rules: object[]) {
  return { apiVersion: api, kind: 'Role', metadata: { name, namespace }, rules };
}

function roleBinding(name: string, namespace: string, roleName: string, subjects: Subject[]) {
  return {
    apiVersion: api,
    kind: 'RoleBinding',
    metadata: { name, namespace },
    roleRef: { apiGroup: rbac, kind: 'Role', name: roleName },
    subjects: subjects.map((s) => ({ apiGroup: rbac, ...s })),
  };
}

const user = (name: string): Subject => ({ kind: 'User', name });

/**
 * The RBAC objects kubeadm init creates so nodes can bootstrap (fact sheet section 8); from v1.36 also the API
 * server's kubelet client binding (its certificate no longer carries the cluster-admins group).
 */
export function bootstrapRbac(kubernetesVersion: string) {
  return [
    ...(minorOf(kubernetesVersion) >= 36
      ? [
          clusterRoleBinding('kubeadm:apiserver-kubelet-client', 'system:kubelet-api-admin', [
            user('kube-apiserver-kubelet-client'),
          ]),
        ]
      : []),
    clusterRoleBinding('kubeadm:cluster-admins', 'cluster-admin', [group(GROUP_CLUSTER_ADMINS)]),
    clusterRoleBinding('kubeadm:kubelet-bootstrap', 'system:node-bootstrapper', [group(GROUP_DEFAULT_NODE_TOKEN)]),
    {
      apiVersion: api,
      kind: 'ClusterRole',
      metadata: { name: 'kubeadm:get-nodes' },
      rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }],
    },
    clusterRoleBinding('kubeadm:get-nodes', 'kubeadm:get-nodes', [group(GROUP_DEFAULT_NODE_TOKEN)]),
    clusterRoleBinding(
      'kubeadm:node-autoapprove-bootstrap',
      'system:certificates.k8s.io:certificatesigningrequests:nodeclient',
      [group(GROUP_DEFAULT_NODE_TOKEN)],
    ),
    clusterRoleBinding(
      'kubeadm:node-autoapprove-certificate-rotation',
      'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient',
      [group(GROUP_NODES)],
    ),
    role('kubeadm:nodes-kubeadm-config', 'kube-system', [
      { apiGroups: [''], resourceNames: ['kubeadm-config'], resources: ['configmaps'], verbs: ['get'] },
    ]),
    roleBinding('kubeadm:nodes-kubeadm-config', 'kube-system', 'kubeadm:nodes-kubeadm-config', [
      group(GROUP_DEFAULT_NODE_TOKEN),
      group(GROUP_NODES),
    ]),
    role('kubeadm:kubelet-config', 'kube-system', [
      { apiGroups: [''], resourceNames: ['kubelet-config'], resources: ['configmaps'], verbs: ['get'] },
    ]),
    roleBinding('kubeadm:kubelet-config', 'kube-system', 'kubeadm:kubelet-config', [
      group(GROUP_NODES),
      group(GROUP_DEFAULT_NODE_TOKEN),
    ]),
    role('kubeadm:bootstrap-signer-clusterinfo', 'kube-public', [
      { apiGroups: [''], resourceNames: ['cluster-info'], resources: ['configmaps'], verbs: ['get'] },
    ]),
    roleBinding('kubeadm:bootstrap-signer-clusterinfo', 'kube-public', 'kubeadm:bootstrap-signer-clusterinfo', [
      { kind: 'User', name: 'system:anonymous' },
    ]),
  ];
}

/** Lets a joining control-plane node read the encrypted kubeadm-certs Secret. */
export function uploadCertsRbac() {
  return [
    role('kubeadm:kubeadm-certs', 'kube-system', [
      { apiGroups: [''], resourceNames: ['kubeadm-certs'], resources: ['secrets'], verbs: ['get'] },
    ]),
    roleBinding('kubeadm:kubeadm-certs', 'kube-system', 'kubeadm:kubeadm-certs', [group(GROUP_DEFAULT_NODE_TOKEN)]),
  ];
}
