import { readFileSync, existsSync } from 'node:fs';
import { LineCounter, parseAllDocuments, isMap, isScalar, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { UserError, UserErrors } from '../errors/index.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../pki/keys.js';
import type { ClusterConfig } from './config.js';

/** What a kubeadm config file (kubeadm.k8s.io/v1beta4 or v1beta3) adds to the inventory's settings. */
export interface KubeadmFileConfig {
  cluster: Partial<ClusterConfig>;
  token?: { token?: string; ttlMs?: number; description?: string };
  taints?: { key: string; value?: string; effect: string }[];
}

/** Fields kprov reads, per kind, as dotted paths; "*" accepts anything below (whole component configs). */
const SUPPORTED: Record<string, string[]> = {
  ClusterConfiguration: [
    'apiVersion', 'kind', 'kubernetesVersion', 'controlPlaneEndpoint', 'clusterName', 'imageRepository', 'encryptionAlgorithm',
    'networking', 'networking.podSubnet', 'networking.serviceSubnet', 'networking.dnsDomain',
    'apiServer', 'apiServer.certSANs', 'apiServer.extraArgs', 'controllerManager', 'controllerManager.extraArgs',
    'scheduler', 'scheduler.extraArgs', 'etcd', 'etcd.local', 'etcd.local.extraArgs', 'certificatesDir',
  ],
  InitConfiguration: ['apiVersion', 'kind', 'bootstrapTokens', 'nodeRegistration', 'nodeRegistration.criSocket', 'nodeRegistration.taints'],
  JoinConfiguration: ['apiVersion', 'kind', 'nodeRegistration', 'nodeRegistration.criSocket'],
  KubeletConfiguration: ['*'],
  KubeProxyConfiguration: ['*'],
};

const API_VERSIONS: Record<string, string[]> = {
  ClusterConfiguration: ['kubeadm.k8s.io/v1beta4', 'kubeadm.k8s.io/v1beta3'],
  InitConfiguration: ['kubeadm.k8s.io/v1beta4', 'kubeadm.k8s.io/v1beta3'],
  JoinConfiguration: ['kubeadm.k8s.io/v1beta4', 'kubeadm.k8s.io/v1beta3'],
  KubeletConfiguration: ['kubelet.config.k8s.io/v1beta1'],
  KubeProxyConfiguration: ['kubeproxy.config.k8s.io/v1alpha1'],
};

function parseDuration(text: string): number | undefined {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!m || text === '') return undefined;
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}

/** v1beta4 extraArgs is a list of {name, value}; v1beta3 was a map. */
function extraArgs(value: unknown): Record<string, string> {
  if (Array.isArray(value)) return Object.fromEntries(value.map((a: { name: string; value: string }) => [a.name, String(a.value)]));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
  return {};
}

export function loadKubeadmConfig(file: string): KubeadmFileConfig {
  if (!existsSync(file)) throw new UserError('config file not found', { file });
  return parseKubeadmConfig(readFileSync(file, 'utf8'), file);
}

export function parseKubeadmConfig(text: string, file: string): KubeadmFileConfig {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter });
  const errors: UserError[] = [];
  const lineOf = (node: Node | null | undefined) => (node?.range ? lineCounter.linePos(node.range[0]).line : undefined);
  const out: KubeadmFileConfig = { cluster: {} };
  for (const doc of docs as Document.Parsed[]) {
    if (doc.errors.length) throw new UserError(`invalid YAML: ${doc.errors[0].message.split('\n')[0]}`, { file, line: doc.errors[0].linePos?.[0].line });
    if (!doc.contents) continue;
    if (!isMap(doc.contents)) {
      errors.push(new UserError('each document must be a mapping with apiVersion and kind', { file, line: lineOf(doc.contents) }));
      continue;
    }
    const obj = doc.toJSON() as Record<string, unknown>;
    const kind = String(obj.kind ?? '');
    const line = lineOf(doc.contents);
    if (!SUPPORTED[kind]) {
      errors.push(new UserError(`kind "${kind}" is not supported (supported: ${Object.keys(SUPPORTED).join(', ')})`, { file, line }));
      continue;
    }
    if (!API_VERSIONS[kind].includes(String(obj.apiVersion))) errors.push(new UserError(`${kind}: apiVersion "${obj.apiVersion}" is not supported (use ${API_VERSIONS[kind][0]})`, { file, line }));
    // Report every field kprov would otherwise ignore.
    const allowed = SUPPORTED[kind];
    if (!allowed.includes('*')) {
      const walk = (map: YAMLMap, prefix: string) => {
        for (const pair of map.items as Pair<Node, Node>[]) {
          const key = `${prefix}${isScalar(pair.key) ? pair.key.value : pair.key}`;
          if (!allowed.includes(key)) errors.push(new UserError(`${kind}: field "${key}" is not supported by kprov`, { file, line: lineOf(pair.key) }));
          else if (isMap(pair.value) && allowed.some((a) => a.startsWith(`${key}.`))) walk(pair.value, `${key}.`);
        }
      };
      walk(doc.contents as YAMLMap, '');
    }
    applyDocument(kind, obj, out, (m) => errors.push(new UserError(`${kind}: ${m}`, { file, line })));
  }
  if (errors.length) throw errors.length === 1 ? errors[0] : new UserErrors(errors);
  return out;
}

function applyDocument(kind: string, o: Record<string, any>, out: KubeadmFileConfig, fail: (m: string) => void): void {
  const c = out.cluster;
  if (kind === 'ClusterConfiguration') {
    if (o.kubernetesVersion) c.kubernetesVersion = String(o.kubernetesVersion).startsWith('v') ? String(o.kubernetesVersion) : `v${o.kubernetesVersion}`;
    if (o.controlPlaneEndpoint) c.controlPlaneEndpoint = String(o.controlPlaneEndpoint);
    if (o.clusterName) c.clusterName = String(o.clusterName);
    if (o.imageRepository) c.imageRepository = String(o.imageRepository);
    if (o.encryptionAlgorithm) {
      if (!KEY_ALGORITHMS.includes(o.encryptionAlgorithm)) fail(`encryptionAlgorithm "${o.encryptionAlgorithm}" must be one of ${KEY_ALGORITHMS.join(', ')}`);
      else c.encryptionAlgorithm = o.encryptionAlgorithm as KeyAlgorithm;
    }
    if (o.networking?.podSubnet) c.podSubnet = String(o.networking.podSubnet);
    if (o.networking?.serviceSubnet) c.serviceSubnet = String(o.networking.serviceSubnet);
    if (o.networking?.dnsDomain) c.dnsDomain = String(o.networking.dnsDomain);
    if (o.apiServer?.certSANs) c.apiServerCertSANs = (o.apiServer.certSANs as unknown[]).map(String);
    if (o.apiServer?.extraArgs) c.apiServerExtraArgs = extraArgs(o.apiServer.extraArgs);
    if (o.controllerManager?.extraArgs) c.controllerManagerExtraArgs = extraArgs(o.controllerManager.extraArgs);
    if (o.scheduler?.extraArgs) c.schedulerExtraArgs = extraArgs(o.scheduler.extraArgs);
    if (o.etcd?.local?.extraArgs) c.etcdExtraArgs = extraArgs(o.etcd.local.extraArgs);
    if (o.certificatesDir && o.certificatesDir !== '/etc/kubernetes/pki') fail('certificatesDir other than /etc/kubernetes/pki is not supported');
  } else if (kind === 'InitConfiguration') {
    const t = o.bootstrapTokens?.[0];
    if (o.bootstrapTokens?.length > 1) fail('only one bootstrap token is supported');
    if (t) {
      const ttlMs = t.ttl !== undefined ? parseDuration(String(t.ttl)) : undefined;
      if (t.ttl !== undefined && ttlMs === undefined) fail(`bootstrapTokens[0].ttl "${t.ttl}" is not a duration like 24h0m0s`);
      out.token = { token: t.token, ttlMs, description: t.description };
    }
    if (o.nodeRegistration?.criSocket) c.criSocket = String(o.nodeRegistration.criSocket);
    if (o.nodeRegistration?.taints !== undefined) out.taints = o.nodeRegistration.taints ?? [];
  } else if (kind === 'JoinConfiguration') {
    if (o.nodeRegistration?.criSocket) c.criSocket = String(o.nodeRegistration.criSocket);
  } else if (kind === 'KubeletConfiguration') {
    const { apiVersion: _a, kind: _k, ...rest } = o;
    c.kubeletConfiguration = rest;
  } else if (kind === 'KubeProxyConfiguration') {
    const { apiVersion: _a, kind: _k, ...rest } = o;
    c.kubeProxyConfiguration = rest;
  }
}
