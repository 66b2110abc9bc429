import { stringify } from 'yaml';
import { componentImage, etcdImage } from './images.js';
import type { ClusterConfig, NodeConfig } from './config.js';
import {
  API_PORT,
  CONTROLLER_MANAGER_PORT,
  ETCD_CLIENT_PORT,
  ETCD_DATA_DIR,
  ETCD_METRICS_PORT,
  PKI_DIR,
  SCHEDULER_PORT,
  KUBERNETES_DIR,
} from './constants.js';
import { minorOf } from './versions.js';
import { peerUrlOf } from './etcd-members.js';

type Args = Record<string, string>;

/** ["binary", "--a=1", "--b=2"]: flags sorted by name; extra args replace defaults of the same name. */
export function command(binary: string, defaults: Args, extra: Args): string[] {
  const merged = { ...defaults, ...extra };
  return [
    binary,
    ...Object.keys(merged)
      .sort()
      .map((k) => `--${k}=${merged[k]}`),
  ];
}

function probe(
  host: string,
  port: number,
  path: string,
  scheme: 'HTTP' | 'HTTPS',
  kind: 'liveness' | 'readiness' | 'startup',
) {
  const timing = {
    liveness: { initialDelaySeconds: 10, timeoutSeconds: 15, failureThreshold: 8, periodSeconds: 10 },
    readiness: { timeoutSeconds: 15, failureThreshold: 3, periodSeconds: 1 },
    startup: { initialDelaySeconds: 10, timeoutSeconds: 15, failureThreshold: 24, periodSeconds: 10 },
  }[kind];
  return {
    failureThreshold: timing.failureThreshold,
    httpGet: { host, path, port, scheme },
    ...('initialDelaySeconds' in timing ? { initialDelaySeconds: timing.initialDelaySeconds } : {}),
    periodSeconds: timing.periodSeconds,
    timeoutSeconds: timing.timeoutSeconds,
  };
}

interface Mount {
  name: string;
  hostPath: string;
  mountPath?: string;
  readOnly: boolean;
  type: 'DirectoryOrCreate' | 'FileOrCreate';
}

const caTrustMounts: Mount[] = [
  { name: 'ca-certs', hostPath: '/etc/ssl/certs', readOnly: true, type: 'DirectoryOrCreate' },
  { name: 'etc-ca-certificates', hostPath: '/etc/ca-certificates', readOnly: true, type: 'DirectoryOrCreate' },
  {
    name: 'usr-local-share-ca-certificates',
    hostPath: '/usr/local/share/ca-certificates',
    readOnly: true,
    type: 'DirectoryOrCreate',
  },
  {
    name: 'usr-share-ca-certificates',
    hostPath: '/usr/share/ca-certificates',
    readOnly: true,
    type: 'DirectoryOrCreate',
  },
];

function staticPod(o: {
  name: string;
  image: string;
  command: string[];
  mounts: Mount[];
  probes: { liveness?: object; readiness?: object; startup?: object };
  requests: Record<string, string>;
  annotations?: Record<string, string>;
}) {
  const mounts = [...o.mounts].sort((a, b) => a.name.localeCompare(b.name));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(o.annotations ? { annotations: o.annotations } : {}),
      labels: { component: o.name, tier: 'control-plane' },
      name: o.name,
      namespace: 'kube-system',
    },
    spec: {
      containers: [
        {
          command: o.command,
          image: o.image,
          imagePullPolicy: 'IfNotPresent',
          ...(o.probes.liveness ? { livenessProbe: o.probes.liveness } : {}),
          name: o.name,
          ...(o.probes.readiness ? { readinessProbe: o.probes.readiness } : {}),
          resources: { requests: o.requests },
          ...(o.probes.startup ? { startupProbe: o.probes.startup } : {}),
          volumeMounts: mounts.map((m) => ({
            mountPath: m.mountPath ?? m.hostPath,
            name: m.name,
            ...(m.readOnly ? { readOnly: true } : {}),
          })),
        },
      ],
      hostNetwork: true,
      priority: 2000001000,
      priorityClassName: 'system-node-critical',
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      volumes: mounts.map((m) => ({ hostPath: { path: m.hostPath, type: m.type }, name: m.name })),
    },
  };
}

export function apiServerArgs(cfg: ClusterConfig, node: NodeConfig): Args {
  return {
    'advertise-address': node.advertiseAddress,
    'allow-privileged': 'true',
    'authorization-mode': 'Node,RBAC',
    'client-ca-file': `${PKI_DIR}/ca.crt`,
    'enable-admission-plugins': 'NodeRestriction',
    'enable-bootstrap-token-auth': 'true',
    'etcd-cafile': `${PKI_DIR}/etcd/ca.crt`,
    'etcd-certfile': `${PKI_DIR}/apiserver-etcd-client.crt`,
    'etcd-keyfile': `${PKI_DIR}/apiserver-etcd-client.key`,
    'etcd-servers': `https://127.0.0.1:${ETCD_CLIENT_PORT}`,
    'kubelet-client-certificate': `${PKI_DIR}/apiserver-kubelet-client.crt`,
    'kubelet-client-key': `${PKI_DIR}/apiserver-kubelet-client.key`,
    'kubelet-preferred-address-types': 'InternalIP,ExternalIP,Hostname',
    'proxy-client-cert-file': `${PKI_DIR}/front-proxy-client.crt`,
    'proxy-client-key-file': `${PKI_DIR}/front-proxy-client.key`,
    'requestheader-allowed-names': 'front-proxy-client',
    'requestheader-client-ca-file': `${PKI_DIR}/front-proxy-ca.crt`,
    'requestheader-extra-headers-prefix': 'X-Remote-Extra-',
    'requestheader-group-headers': 'X-Remote-Group',
    'requestheader-username-headers': 'X-Remote-User',
    'secure-port': String(API_PORT),
    'service-account-issuer': `https://kubernetes.default.svc.${cfg.dnsDomain}`,
    'service-account-key-file': `${PKI_DIR}/sa.pub`,
    'service-account-signing-key-file': `${PKI_DIR}/sa.key`,
    'service-cluster-ip-range': cfg.serviceSubnet,
    'tls-cert-file': `${PKI_DIR}/apiserver.crt`,
    'tls-private-key-file': `${PKI_DIR}/apiserver.key`,
  };
}

export function kubeApiServerManifest(cfg: ClusterConfig, node: NodeConfig) {
  const adv = node.advertiseAddress;
  return staticPod({
    name: 'kube-apiserver',
    image: componentImage(cfg, 'kube-apiserver'),
    command: command('kube-apiserver', apiServerArgs(cfg, node), cfg.apiServerExtraArgs),
    mounts: [...caTrustMounts, { name: 'k8s-certs', hostPath: PKI_DIR, readOnly: true, type: 'DirectoryOrCreate' }],
    probes: {
      liveness: probe(adv, API_PORT, '/livez', 'HTTPS', 'liveness'),
      readiness: probe(adv, API_PORT, '/readyz', 'HTTPS', 'readiness'),
      startup: probe(adv, API_PORT, '/livez', 'HTTPS', 'startup'),
    },
    requests: { cpu: '250m' },
    annotations: { 'kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint': `${adv}:${API_PORT}` },
  });
}

export function controllerManagerArgs(cfg: ClusterConfig): Args {
  const conf = `${KUBERNETES_DIR}/controller-manager.conf`;
  return {
    'authentication-kubeconfig': conf,
    'authorization-kubeconfig': conf,
    'bind-address': '127.0.0.1',
    'client-ca-file': `${PKI_DIR}/ca.crt`,
    'cluster-name': cfg.clusterName,
    'cluster-signing-cert-file': `${PKI_DIR}/ca.crt`,
    'cluster-signing-key-file': `${PKI_DIR}/ca.key`,
    controllers: '*,bootstrapsigner,tokencleaner',
    kubeconfig: conf,
    'leader-elect': 'true',
    'requestheader-client-ca-file': `${PKI_DIR}/front-proxy-ca.crt`,
    'root-ca-file': `${PKI_DIR}/ca.crt`,
    'service-account-private-key-file': `${PKI_DIR}/sa.key`,
    'use-service-account-credentials': 'true',
    ...(cfg.podSubnet
      ? { 'allocate-node-cidrs': 'true', 'cluster-cidr': cfg.podSubnet, 'service-cluster-ip-range': cfg.serviceSubnet }
      : {}),
  };
}

export function kubeControllerManagerManifest(cfg: ClusterConfig) {
  return staticPod({
    name: 'kube-controller-manager',
    image: componentImage(cfg, 'kube-controller-manager'),
    command: command('kube-controller-manager', controllerManagerArgs(cfg), cfg.controllerManagerExtraArgs),
    mounts: [
      ...caTrustMounts,
      { name: 'k8s-certs', hostPath: PKI_DIR, readOnly: true, type: 'DirectoryOrCreate' },
      {
        name: 'kubeconfig',
        hostPath: `${KUBERNETES_DIR}/controller-manager.conf`,
        readOnly: true,
        type: 'FileOrCreate',
      },
      {
        name: 'flexvolume-dir',
        hostPath: '/usr/libexec/kubernetes/kubelet-plugins/volume/exec',
        readOnly: false,
        type: 'DirectoryOrCreate',
      },
    ],
    probes: {
      liveness: probe('127.0.0.1', CONTROLLER_MANAGER_PORT, '/healthz', 'HTTPS', 'liveness'),
      startup: probe('127.0.0.1', CONTROLLER_MANAGER_PORT, '/healthz', 'HTTPS', 'startup'),
    },
    requests: { cpu: '200m' },
  });
}

export function kubeSchedulerManifest(cfg: ClusterConfig) {
  const conf = `${KUBERNETES_DIR}/scheduler.conf`;
  return staticPod({
    name: 'kube-scheduler',
    image: componentImage(cfg, 'kube-scheduler'),
    command: command(
      'kube-scheduler',
      {
        'authentication-kubeconfig': conf,
        'authorization-kubeconfig': conf,
        'bind-address': '127.0.0.1',
        kubeconfig: conf,
        'leader-elect': 'true',
      },
      cfg.schedulerExtraArgs,
    ),
    mounts: [{ name: 'kubeconfig', hostPath: conf, readOnly: true, type: 'FileOrCreate' }],
    probes: {
      // kubeadm since v1.30: /livez for liveness and startup, and a readiness probe on /readyz.
      liveness: probe('127.0.0.1', SCHEDULER_PORT, '/livez', 'HTTPS', 'liveness'),
      readiness: probe('127.0.0.1', SCHEDULER_PORT, '/readyz', 'HTTPS', 'readiness'),
      startup: probe('127.0.0.1', SCHEDULER_PORT, '/livez', 'HTTPS', 'startup'),
    },
    requests: { cpu: '100m' },
  });
}

/**
 * etcd for one control-plane node (stacked). The first member starts a new cluster; later members list
 * every existing member plus themselves and join with --initial-cluster-state=existing.
 */
/**
 * etcd's static pod. The first member starts a new cluster; a joining member gets the --initial-cluster
 * its MemberAdd produced (see etcd-members.ts) and --initial-cluster-state=existing.
 */
export function etcdManifest(cfg: ClusterConfig, node: NodeConfig, join?: { initialCluster: string }) {
  const adv = node.advertiseAddress;
  const etcdPki = `${PKI_DIR}/etcd`;
  const joining = join !== undefined;
  const initialCluster = join?.initialCluster ?? `${node.name}=${peerUrlOf(adv)}`;
  // etcd 3.6 (Kubernetes 1.34) renamed the experimental flags.
  const v36 = minorOf(cfg.kubernetesVersion) >= 34;
  const args: Args = {
    'advertise-client-urls': `https://${adv}:${ETCD_CLIENT_PORT}`,
    'cert-file': `${etcdPki}/server.crt`,
    'client-cert-auth': 'true',
    'data-dir': ETCD_DATA_DIR,
    [v36 ? 'feature-gates' : 'experimental-initial-corrupt-check']: v36 ? 'InitialCorruptCheck=true' : 'true',
    [v36 ? 'watch-progress-notify-interval' : 'experimental-watch-progress-notify-interval']: '5s',
    'initial-advertise-peer-urls': peerUrlOf(adv),
    'initial-cluster': initialCluster,
    'key-file': `${etcdPki}/server.key`,
    'listen-client-urls': `https://127.0.0.1:${ETCD_CLIENT_PORT},https://${adv}:${ETCD_CLIENT_PORT}`,
    'listen-metrics-urls': `http://127.0.0.1:${ETCD_METRICS_PORT}`,
    'listen-peer-urls': peerUrlOf(adv),
    name: node.name,
    'peer-cert-file': `${etcdPki}/peer.crt`,
    'peer-client-cert-auth': 'true',
    'peer-key-file': `${etcdPki}/peer.key`,
    'peer-trusted-ca-file': `${etcdPki}/ca.crt`,
    'snapshot-count': '10000',
    'trusted-ca-file': `${etcdPki}/ca.crt`,
    ...(joining ? { 'initial-cluster-state': 'existing' } : {}),
  };
  return staticPod({
    name: 'etcd',
    image: etcdImage(cfg),
    command: command('etcd', args, cfg.etcdExtraArgs),
    mounts: [
      { name: 'etcd-data', hostPath: ETCD_DATA_DIR, readOnly: false, type: 'DirectoryOrCreate' },
      { name: 'etcd-certs', hostPath: etcdPki, readOnly: false, type: 'DirectoryOrCreate' },
    ],
    probes: {
      liveness: probe('127.0.0.1', ETCD_METRICS_PORT, '/livez', 'HTTP', 'liveness'),
      readiness: probe('127.0.0.1', ETCD_METRICS_PORT, '/readyz', 'HTTP', 'readiness'),
      startup: probe('127.0.0.1', ETCD_METRICS_PORT, '/readyz', 'HTTP', 'startup'),
    },
    requests: { cpu: '100m', memory: '100Mi' },
    annotations: { 'kubeadm.kubernetes.io/etcd.advertise-client-urls': `https://${adv}:${ETCD_CLIENT_PORT}` },
  });
}

export const toYaml = (obj: unknown) => stringify(obj, { lineWidth: 0 });
