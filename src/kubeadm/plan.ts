import { stringify } from 'yaml';
import type { PkiStore } from '../pki/store.js';
import { caCertHash, clusterInfoConfigMap } from './discovery.js';
import { controlPlaneUrl, splitHostPort, type ClusterConfig, type NodeConfig } from './config.js';
import { ensurePki, type PkiEvent } from './pki.js';
import { ensureKubeconfigs, bootstrapKubeconfig } from './kubeconfig.js';
import { initialClusterFor, peerUrlOf, type EtcdMember } from './etcd-members.js';
import {
  etcdManifest,
  kubeApiServerManifest,
  kubeControllerManagerManifest,
  kubeSchedulerManifest,
  toYaml,
} from './manifests.js';
import {
  instanceConfigYaml,
  kubeletConfigMap,
  kubeletDropIn,
  kubeletFlagsEnv,
  kubeletNodeConfigYaml,
} from './kubelet.js';
import { bootstrapRbac, uploadCertsRbac } from './rbac.js';
import { kubeadmConfigMap, controlPlaneNodePatch } from './cluster-objects.js';
import { corednsObjects, flannelObjects, kubeProxyObjects } from './addons.js';
import { formatToken, generateToken, parseToken, tokenSecret, type BootstrapToken } from './token.js';
import {
  certsProxyTokenSecret,
  generateCertificateKey,
  kubeadmCertsSecret,
  sharedSecrets,
  type SecretOwner,
} from './upload-certs.js';
import {
  BOOTSTRAP_KUBELET_CONF,
  KUBELET_CONFIG,
  KUBELET_DROPIN,
  KUBELET_FLAGS_ENV,
  KUBELET_INSTANCE_CONFIG,
  KUBERNETES_DIR,
  MANIFESTS_DIR,
  PKI_DIR,
  TOKEN_DEFAULT_TTL_MS,
} from './constants.js';

/** A file for one host: absolute path, content and mode (the shape the SSH layer installs). */
export interface FileSpec {
  path: string;
  content: string;
  mode: number;
  dirMode?: number;
}

export interface ClusterPlan {
  /** Files per node name. */
  files: Record<string, FileSpec[]>;
  /** Kubernetes objects to apply, grouped in ordered files (name -> objects). */
  objects: Record<string, unknown[]>;
  /**
   * Groups of objects created once and never applied again: re-applying would push the token's expiry forward,
   * and re-encrypt the uploaded certificates (a fresh nonce each time) on every run.
   */
  createOnce: string[];
  /**
   * kubeadm init --upload-certs (HA only): the 2 h proxy token Secret and the encrypted certificates it will own,
   * uploaded by their own phase once the token's uid is known.
   */
  uploadCerts?: {
    tokenSecret: ReturnType<typeof certsProxyTokenSecret>;
    certificateKey: string;
    secret: (owner: SecretOwner) => ReturnType<typeof kubeadmCertsSecret>;
  };
  /** Node patches for mark-control-plane. */
  nodePatches: Record<string, unknown>;
  token: BootstrapToken;
  tokenTtlMs: number;
  caCertHash: string;
  endpoint: string;
  certificateKey?: string;
  joinCommand: string;
  events: PkiEvent[];
  problems: string[];
}

/** A static pod manifest, as the kubelet reads it from its manifest folder. */
export const manifest = (name: string, obj: unknown): FileSpec => ({
  path: `${MANIFESTS_DIR}/${name}.yaml`,
  content: toYaml(obj),
  mode: 0o600,
  dirMode: 0o700,
});

const pkiFile = (name: string, content: string, mode: number): FileSpec => ({
  path: `${PKI_DIR}/${name}`,
  content,
  mode,
  dirMode: 0o755,
});

/** Reuse the stored bootstrap token while it has at least an hour left; otherwise make a new one. */
function ensureToken(store: PkiStore, given: string | undefined, ttlMs: number, now: Date): BootstrapToken {
  if (given) return parseToken(given);
  const saved = store.read('bootstrap-token');
  if (saved) {
    const [text, expires] = saved.trim().split(' ');
    if (expires && new Date(expires).getTime() - now.getTime() > 3600_000) return parseToken(text);
  }
  const token = generateToken();
  store.write('bootstrap-token', `${formatToken(token)} ${new Date(now.getTime() + ttlMs).toISOString()}\n`, 0o600);
  return token;
}

const inventoryOrderMembers = (nodes: NodeConfig[]): EtcdMember[] =>
  nodes.map((n, i) => ({ ID: String(i + 1), name: n.name, peerURLs: [peerUrlOf(n.advertiseAddress)] }));

/**
 * Everything kubeadm init + join would produce for these nodes: per-node files, cluster objects,
 * and the join command. Pure apart from the store, which keeps generated secrets between runs.
 */
export async function planCluster(
  store: PkiStore,
  cfg: ClusterConfig,
  nodes: NodeConfig[],
  opts: {
    token?: string;
    tokenTtlMs?: number;
    tokenDescription?: string;
    now?: Date;
    /** Certificates and kubeconfigs renewed whatever their expiry, by path on the master (certs renew). */
    renew?: (hostPath: string) => boolean;
  } = {},
): Promise<ClusterPlan> {
  const now = opts.now ?? new Date();
  const controlPlane = nodes.filter((n) => n.controlPlane);
  if (controlPlane.length === 0) throw new Error('no control-plane node');
  const first = controlPlane[0];
  const endpoint = controlPlaneUrl(cfg, first);

  const pkiResult = await ensurePki(store, cfg, controlPlane, now, opts.renew);
  const { pki } = pkiResult;
  const kc = await ensureKubeconfigs(store, cfg, pki, controlPlane, now, opts.renew);
  const tokenTtlMs = opts.tokenTtlMs ?? TOKEN_DEFAULT_TTL_MS;
  const token = ensureToken(store, opts.token, tokenTtlMs, now);
  const hash = caCertHash(pki.cas.ca.certPem);
  const certificateKey =
    controlPlane.length > 1
      ? (store.read('certificate-key')?.trim() ??
        (() => {
          const k = generateCertificateKey();
          store.write('certificate-key', k + '\n', 0o600);
          return k;
        })())
      : undefined;

  const kubeletFiles = (node: NodeConfig): FileSpec[] => [
    { path: KUBELET_CONFIG, content: kubeletNodeConfigYaml(cfg), mode: 0o644 },
    { path: KUBELET_INSTANCE_CONFIG, content: instanceConfigYaml(cfg), mode: 0o644 },
    { path: KUBELET_FLAGS_ENV, content: kubeletFlagsEnv(cfg, node), mode: 0o644 },
    { path: KUBELET_DROPIN, content: kubeletDropIn(), mode: 0o644 },
  ];
  const bootstrap = (): FileSpec => ({
    path: `${KUBERNETES_DIR}/${BOOTSTRAP_KUBELET_CONF}`,
    content: bootstrapKubeconfig(cfg, endpoint, pki.cas.ca.certPem, formatToken(token)),
    mode: 0o600,
  });

  const files: Record<string, FileSpec[]> = {};
  const nodePatches: Record<string, unknown> = {};
  controlPlane.forEach((node, index) => {
    const list: FileSpec[] = [];
    for (const [base, ck] of Object.entries(pki.cas)) {
      list.push(pkiFile(`${base}.crt`, ck.certPem, 0o644), pkiFile(`${base}.key`, ck.keyPem, 0o600));
    }
    list.push(pkiFile('sa.key', pki.sa.keyPem, 0o600), pkiFile('sa.pub', pki.sa.pubPem, 0o600));
    for (const [base, ck] of Object.entries(pki.leaves[node.name])) {
      list.push(pkiFile(`${base}.crt`, ck.certPem, 0o644), pkiFile(`${base}.key`, ck.keyPem, 0o600));
    }
    for (const [file, text] of Object.entries(kc.files[node.name]))
      list.push({ path: `${KUBERNETES_DIR}/${file}`, content: text, mode: 0o600 });
    list.push(
      // Joining members: what MemberAdd would answer if they joined in inventory order. At run time kprov
      // renders this from the real member list instead (see control-plane-join.ts).
      manifest(
        'etcd',
        etcdManifest(
          cfg,
          node,
          index > 0
            ? {
                initialCluster: initialClusterFor(inventoryOrderMembers(controlPlane.slice(0, index)), {
                  name: node.name,
                  peerUrl: peerUrlOf(node.advertiseAddress),
                }),
              }
            : undefined,
        ),
      ),
      manifest('kube-apiserver', kubeApiServerManifest(cfg, node)),
      manifest('kube-controller-manager', kubeControllerManagerManifest(cfg, node.caTrustDirs)),
      manifest('kube-scheduler', kubeSchedulerManifest(cfg)),
    );
    // The first node's kubelet uses kubelet.conf made here; later control-plane kubelets bootstrap with the token.
    if (index > 0) list.push(bootstrap());
    list.push(...kubeletFiles(node));
    files[node.name] = list;
    nodePatches[node.name] = controlPlaneNodePatch(node);
  });
  for (const node of nodes.filter((n) => !n.controlPlane)) {
    files[node.name] = [pkiFile('ca.crt', pki.cas.ca.certPem, 0o644), bootstrap(), ...kubeletFiles(node)];
  }

  const objects: Record<string, unknown[]> = {
    '00-rbac': [...bootstrapRbac(cfg.kubernetesVersion), ...(certificateKey ? uploadCertsRbac() : [])],
    '01-bootstrap-token': [
      tokenSecret(token, { ttlMs: tokenTtlMs, description: opts.tokenDescription ?? 'kprov bootstrap token', now }),
    ],
    '02-cluster-info': [clusterInfoConfigMap(endpoint, pki.cas.ca.certPem)],
    '03-kubeadm-config': [kubeadmConfigMap(cfg, first)],
    '04-kubelet-config': [kubeletConfigMap(cfg)],
    '05-coredns': corednsObjects(cfg),
    '06-kube-proxy': kubeProxyObjects(cfg, endpoint),
  };
  if (cfg.cni === 'flannel') objects['07-flannel'] = flannelObjects(cfg);
  const proxyToken = generateToken();
  const uploadCerts = certificateKey
    ? {
        tokenSecret: certsProxyTokenSecret(proxyToken, now),
        certificateKey,
        secret: (owner: SecretOwner) => kubeadmCertsSecret(sharedSecrets(pki), certificateKey, owner),
      }
    : undefined;

  const [host, port] = splitHostPort(new URL(endpoint).host);
  const joinCommand =
    `kubeadm join ${host}:${port ?? 443} --token ${formatToken(token)} ` + `--discovery-token-ca-cert-hash ${hash}`;
  return {
    files,
    objects,
    createOnce: ['01-bootstrap-token'],
    uploadCerts,
    nodePatches,
    token,
    tokenTtlMs,
    caCertHash: hash,
    endpoint,
    certificateKey,
    joinCommand,
    events: [...pkiResult.events, ...kc.events],
    problems: [...pkiResult.problems, ...kc.problems],
  };
}

export const objectsToYaml = (objs: unknown[]) => objs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
