import { stringify } from 'yaml';
import { componentImage, etcdImage } from './images.js';
import type { ClusterConfig, NodeConfig } from './config.js';
import {
  CA_TRUST_EXTRA_DIRS,
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

/**
 * ["binary", "--a=1", "--b=2", "--x=9"] as kubeadm builds it (KA/util/arguments.go ArgumentsToCommand, since 1.35):
 * the defaults sorted by name, without those the extra args name, then the extra args in the user's order (an
 * object keeps the order its keys were added in, which is the order of the config file).
 */
export function command(binary: string, defaults: Args, extra: Args): string[] {
  const kept = Object.keys(defaults)
    .filter((k) => !Object.hasOwn(extra, k))
    .sort();
  return [binary, ...kept.map((k) => `--${k}=${defaults[k]}`), ...Object.entries(extra).map(([k, v]) => `--${k}=${v}`)];
}

/** The named container port every static pod's probes point at (kubeadm constants.ProbePort, since 1.34). */
export const PROBE_PORT = 'probe-port';

/** Where a component's probes go: host (none: the pod's own address), the probe-port number and the scheme. */
interface ProbeTarget {
  host?: string;
  port: number;
  scheme: 'HTTP' | 'HTTPS';
}

/** KA/util/staticpod/utils.go createHTTPProbe: an httpGet on the named port, with kubeadm's timings per kind. */
function probe(target: ProbeTarget, path: string, kind: 'liveness' | 'readiness' | 'startup') {
  const timing = {
    liveness: { initialDelaySeconds: 10, timeoutSeconds: 15, failureThreshold: 8, periodSeconds: 10 },
    readiness: { timeoutSeconds: 15, failureThreshold: 3, periodSeconds: 1 },
    startup: { initialDelaySeconds: 10, timeoutSeconds: 15, failureThreshold: 24, periodSeconds: 10 },
  }[kind];
  return {
    failureThreshold: timing.failureThreshold,
    httpGet: { ...(target.host ? { host: target.host } : {}), path, port: PROBE_PORT, scheme: target.scheme },
    ...('initialDelaySeconds' in timing ? { initialDelaySeconds: timing.initialDelaySeconds } : {}),
    periodSeconds: timing.periodSeconds,
    timeoutSeconds: timing.timeoutSeconds,
  };
}

/** KA/util/staticpod/utils.go getProbeAddress: a wildcard bind address means "probe the pod's address". */
const probeHost = (bindAddress: string) =>
  bindAddress === '0.0.0.0' || bindAddress === '::' ? undefined : bindAddress;

/**
 * KA/util/staticpod/utils.go GetEtcdProbeEndpoint: etcd is probed on the first of the user's --listen-metrics-urls
 * (host, port, http or https), else on 127.0.0.1:2381 over HTTP.
 */
export function etcdProbeTarget(extra: Args): ProbeTarget {
  const fallback: ProbeTarget = { host: '127.0.0.1', port: ETCD_METRICS_PORT, scheme: 'HTTP' };
  if (!Object.hasOwn(extra, 'listen-metrics-urls')) return fallback;
  const first = extra['listen-metrics-urls'].split(',')[0];
  const m = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?/i.exec(first);
  // Go's url.Parse refuses a port that is not digits: kubeadm then falls back to the default as a whole.
  if (!m || !/^\d*$/.test(m[3] ?? '')) return fallback;
  const port = Number(m[3]);
  return {
    host: m[2].replace(/^\[(.*)\]$/, '$1') || fallback.host,
    // An empty or out-of-range port (kubeadm's ParsePort fails) means the default one.
    port: m[3] && port >= 1 && port <= 65535 ? port : ETCD_METRICS_PORT,
    scheme: m[1].toLowerCase() === 'https' ? 'HTTPS' : 'HTTP',
  };
}

interface Mount {
  name: string;
  hostPath: string;
  mountPath?: string;
  readOnly: boolean;
  type: 'DirectoryOrCreate' | 'FileOrCreate';
}

/** What a Debian or Ubuntu master has: assumed when the host's own are not known (a render without hosts). */
export const DEBIAN_CA_TRUST_DIRS = [
  '/etc/ca-certificates',
  '/usr/share/ca-certificates',
  '/usr/local/share/ca-certificates',
];

function caTrustMounts(present: string[] = DEBIAN_CA_TRUST_DIRS): Mount[] {
  const dir = (hostPath: string, name = hostPath.slice(1).replaceAll('/', '-')): Mount => ({
    name,
    hostPath,
    readOnly: true,
    type: 'DirectoryOrCreate',
  });
  return [
    dir('/etc/ssl/certs', 'ca-certs'),
    ...CA_TRUST_EXTRA_DIRS.filter((d) => present.includes(d)).map((d) => dir(d)),
  ];
}

function staticPod(o: {
  name: string;
  image: string;
  command: string[];
  mounts: Mount[];
  /**
   * Volumes are sorted by name; so are the container's mounts unless given in order (kubeadm lists etcd's mounts
   * by hand, data before certs, and builds the other components' from a map sorted by name).
   */
  mountsInOrder?: boolean;
  /** The container port named probe-port, which every probe uses. */
  probePort: number;
  probes: { liveness?: object; readiness?: object; startup?: object };
  requests: Record<string, string>;
  annotations?: Record<string, string>;
}) {
  // Go's strings.Compare: byte order, not the locale's.
  const mounts = [...o.mounts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const containerMounts = o.mountsInOrder ? o.mounts : mounts;
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
          ports: [{ containerPort: o.probePort, name: PROBE_PORT, protocol: 'TCP' }],
          ...(o.probes.readiness ? { readinessProbe: o.probes.readiness } : {}),
          resources: { requests: o.requests },
          ...(o.probes.startup ? { startupProbe: o.probes.startup } : {}),
          volumeMounts: containerMounts.map((m) => ({
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

/**
 * kube-apiserver's default flags (KA/phases/controlplane/manifests.go getAPIServerCommand). Two come from the user's
 * extra args as in kubeadm: --etcd-servers follows etcd's --advertise-client-urls, and with --authorization-config
 * there is no default --authorization-mode (the API server refuses both together).
 */
export function apiServerArgs(cfg: ClusterConfig, node: NodeConfig): Args {
  const structuredAuthz = Object.hasOwn(cfg.apiServerExtraArgs, 'authorization-config');
  const etcdServers = Object.hasOwn(cfg.etcdExtraArgs, 'advertise-client-urls')
    ? cfg.etcdExtraArgs['advertise-client-urls']
    : `https://127.0.0.1:${ETCD_CLIENT_PORT}`;
  return {
    'advertise-address': node.advertiseAddress,
    'allow-privileged': 'true',
    ...(structuredAuthz ? {} : { 'authorization-mode': 'Node,RBAC' }),
    'client-ca-file': `${PKI_DIR}/ca.crt`,
    'enable-admission-plugins': 'NodeRestriction',
    'enable-bootstrap-token-auth': 'true',
    'etcd-cafile': `${PKI_DIR}/etcd/ca.crt`,
    'etcd-certfile': `${PKI_DIR}/apiserver-etcd-client.crt`,
    'etcd-keyfile': `${PKI_DIR}/apiserver-etcd-client.key`,
    'etcd-servers': etcdServers,
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
  const target: ProbeTarget = { host: probeHost(adv), port: API_PORT, scheme: 'HTTPS' };
  return staticPod({
    name: 'kube-apiserver',
    image: componentImage(cfg, 'kube-apiserver'),
    command: command('kube-apiserver', apiServerArgs(cfg, node), cfg.apiServerExtraArgs),
    mounts: [
      ...caTrustMounts(node.caTrustDirs),
      { name: 'k8s-certs', hostPath: PKI_DIR, readOnly: true, type: 'DirectoryOrCreate' },
    ],
    probePort: API_PORT,
    probes: {
      liveness: probe(target, '/livez', 'liveness'),
      readiness: probe(target, '/readyz', 'readiness'),
      startup: probe(target, '/livez', 'startup'),
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

/**
 * The kcm and scheduler probe host (KA/util/staticpod/utils.go Get{ControllerManager,Scheduler}ProbeAddress): the
 * user's --bind-address, else 127.0.0.1.
 */
const localProbeHost = (extra: Args) =>
  Object.hasOwn(extra, 'bind-address') ? probeHost(extra['bind-address']) : '127.0.0.1';

/** Kubernetes 1.35's kcm still mounts the flex-volume plugin directory (read-write); 1.36 removed flex volumes. */
function flexvolumeMounts(cfg: ClusterConfig): Mount[] {
  if (minorOf(cfg.kubernetesVersion) >= 36) return [];
  const extra = cfg.controllerManagerExtraArgs;
  const dir = Object.hasOwn(extra, 'flex-volume-plugin-dir')
    ? extra['flex-volume-plugin-dir']
    : '/usr/libexec/kubernetes/kubelet-plugins/volume/exec';
  return [{ name: 'flexvolume-dir', hostPath: dir, readOnly: false, type: 'DirectoryOrCreate' }];
}

/** `caTrustDirs`: which of CA_TRUST_EXTRA_DIRS the master has (default: a Debian master's). */
export function kubeControllerManagerManifest(cfg: ClusterConfig, caTrustDirs?: string[]) {
  const target: ProbeTarget = {
    host: localProbeHost(cfg.controllerManagerExtraArgs),
    port: CONTROLLER_MANAGER_PORT,
    scheme: 'HTTPS',
  };
  return staticPod({
    name: 'kube-controller-manager',
    image: componentImage(cfg, 'kube-controller-manager'),
    command: command('kube-controller-manager', controllerManagerArgs(cfg), cfg.controllerManagerExtraArgs),
    mounts: [
      ...caTrustMounts(caTrustDirs),
      { name: 'k8s-certs', hostPath: PKI_DIR, readOnly: true, type: 'DirectoryOrCreate' },
      {
        name: 'kubeconfig',
        hostPath: `${KUBERNETES_DIR}/controller-manager.conf`,
        readOnly: true,
        type: 'FileOrCreate',
      },
      ...flexvolumeMounts(cfg),
    ],
    probePort: CONTROLLER_MANAGER_PORT,
    probes: {
      liveness: probe(target, '/healthz', 'liveness'),
      startup: probe(target, '/healthz', 'startup'),
    },
    requests: { cpu: '200m' },
  });
}

export function kubeSchedulerManifest(cfg: ClusterConfig) {
  const conf = `${KUBERNETES_DIR}/scheduler.conf`;
  const target: ProbeTarget = { host: localProbeHost(cfg.schedulerExtraArgs), port: SCHEDULER_PORT, scheme: 'HTTPS' };
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
    probePort: SCHEDULER_PORT,
    probes: {
      // kubeadm since v1.30: /livez for liveness and startup, and a readiness probe on /readyz.
      liveness: probe(target, '/livez', 'liveness'),
      readiness: probe(target, '/readyz', 'readiness'),
      startup: probe(target, '/livez', 'startup'),
    },
    requests: { cpu: '100m' },
  });
}

/**
 * etcd's static pod (stacked). The first member starts a new cluster; a joining member gets the --initial-cluster
 * its MemberAdd produced (see etcd-members.ts) and --initial-cluster-state=existing. Every supported release runs
 * etcd 3.6 or later, so the flags are the ones etcd 3.6 renamed (--feature-gates=InitialCorruptCheck=true and
 * --watch-progress-notify-interval), as kubeadm 1.36+ always writes and 1.35 writes for its etcd 3.6 image.
 */
export function etcdManifest(cfg: ClusterConfig, node: NodeConfig, join?: { initialCluster: string }) {
  const adv = node.advertiseAddress;
  const etcdPki = `${PKI_DIR}/etcd`;
  const joining = join !== undefined;
  const initialCluster = join?.initialCluster ?? `${node.name}=${peerUrlOf(adv)}`;
  const args: Args = {
    'advertise-client-urls': `https://${adv}:${ETCD_CLIENT_PORT}`,
    'cert-file': `${etcdPki}/server.crt`,
    'client-cert-auth': 'true',
    'data-dir': ETCD_DATA_DIR,
    'feature-gates': 'InitialCorruptCheck=true',
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
    'watch-progress-notify-interval': '5s',
    ...(joining ? { 'initial-cluster-state': 'existing' } : {}),
  };
  const target = etcdProbeTarget(cfg.etcdExtraArgs);
  return staticPod({
    name: 'etcd',
    image: etcdImage(cfg),
    command: command('etcd', args, cfg.etcdExtraArgs),
    mounts: [
      { name: 'etcd-data', hostPath: ETCD_DATA_DIR, readOnly: false, type: 'DirectoryOrCreate' },
      { name: 'etcd-certs', hostPath: etcdPki, readOnly: false, type: 'DirectoryOrCreate' },
    ],
    mountsInOrder: true,
    probePort: target.port,
    probes: {
      liveness: probe(target, '/livez', 'liveness'),
      readiness: probe(target, '/readyz', 'readiness'),
      startup: probe(target, '/readyz', 'startup'),
    },
    requests: { cpu: '100m', memory: '100Mi' },
    annotations: { 'kubeadm.kubernetes.io/etcd.advertise-client-urls': `https://${adv}:${ETCD_CLIENT_PORT}` },
  });
}

export const toYaml = (obj: unknown) => stringify(obj, { lineWidth: 0 });
