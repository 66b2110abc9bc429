import {
  LineCounter,
  parseAllDocuments,
  isMap,
  isScalar,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';
import { UserError, UserErrors } from '../errors/index.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../pki/keys.js';
import {
  bootstrapTokenProblem,
  certSanProblem,
  clusterNameProblem,
  criSocketProblem,
  dnsDomainProblem,
  endpointProblem,
  extraArgProblem,
  imageRepositoryProblem,
  kubernetesVersionProblem,
  normalizeCriSocket,
  normalizeKubernetesVersion,
  podCidrProblem,
  serviceCidrProblem,
  cidrsOverlapProblem,
  type Problem,
} from '../config/validate.js';
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
    'apiVersion',
    'kind',
    'kubernetesVersion',
    'controlPlaneEndpoint',
    'clusterName',
    'imageRepository',
    'encryptionAlgorithm',
    'networking',
    'networking.podSubnet',
    'networking.serviceSubnet',
    'networking.dnsDomain',
    'apiServer',
    'apiServer.certSANs',
    'apiServer.extraArgs',
    'controllerManager',
    'controllerManager.extraArgs',
    'scheduler',
    'scheduler.extraArgs',
    'etcd',
    'etcd.local',
    'etcd.local.extraArgs',
    'certificatesDir',
  ],
  InitConfiguration: [
    'apiVersion',
    'kind',
    'bootstrapTokens',
    'nodeRegistration',
    'nodeRegistration.criSocket',
    'nodeRegistration.taints',
  ],
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

type Path = (string | number)[];
type FailAt = (path: Path, message: string) => void;

/**
 * v1beta4 extraArgs is a list of {name, value}; v1beta3 was a map. Every name and value is checked. The result keeps
 * the file's order: kubeadm appends extra args to the command line in that order, after the defaults. kubeadm would
 * also pass a repeated name twice; kprov keeps one value per name, so a repeated name is refused rather than cut.
 */
function extraArgs(value: unknown, path: Path, failAt: FailAt): Record<string, string> {
  const out: Record<string, string> = {};
  const label = path.join('.');
  const add = (name: unknown, v: unknown, at: Path) => {
    if (typeof name !== 'string' || (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')) {
      failAt(at, `${label}: each entry needs a name and a string value`);
      return;
    }
    const problem =
      extraArgProblem(name, String(v), label) ??
      (Object.hasOwn(out, name)
        ? `${label}: ${name} is given more than once (kprov takes one value per flag)`
        : undefined);
    if (problem) failAt(at, problem);
    else out[name] = String(v);
  };
  if (Array.isArray(value)) {
    value.forEach((a: unknown, i) => {
      const entry = (a && typeof a === 'object' ? a : {}) as { name?: unknown; value?: unknown };
      add(entry.name, entry.value, [...path, i]);
    });
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) add(k, v, [...path, k]);
  } else {
    failAt(path, `${label} must be a list of {name, value} (v1beta4) or a mapping (v1beta3)`);
  }
  return out;
}

export function parseKubeadmConfig(text: string, file: string): KubeadmFileConfig {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, merge: true });
  const errors: UserError[] = [];
  const lineOf = (node: Node | null | undefined) => (node?.range ? lineCounter.linePos(node.range[0]).line : undefined);
  const out: KubeadmFileConfig = { cluster: {} };
  for (const doc of docs as Document.Parsed[]) {
    if (doc.errors.length)
      throw new UserError(`invalid YAML: ${doc.errors[0].message.split('\n')[0]}`, {
        file,
        line: doc.errors[0].linePos?.[0].line,
      });
    if (!doc.contents) continue;
    if (!isMap(doc.contents)) {
      errors.push(
        new UserError('each document must be a mapping with apiVersion and kind', { file, line: lineOf(doc.contents) }),
      );
      continue;
    }
    let obj: Record<string, unknown>;
    try {
      obj = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
    } catch (err) {
      const line = lineOf(doc.contents);
      errors.push(new UserError(`YAML aliases expand too much: ${(err as Error).message}`, { file, line }));
      continue;
    }
    const kind = String(obj.kind ?? '');
    const line = lineOf(doc.contents);
    if (!SUPPORTED[kind]) {
      errors.push(
        new UserError(`kind "${kind}" is not supported (supported: ${Object.keys(SUPPORTED).join(', ')})`, {
          file,
          line,
        }),
      );
      continue;
    }
    if (!API_VERSIONS[kind].includes(String(obj.apiVersion)))
      errors.push(
        new UserError(`${kind}: apiVersion "${obj.apiVersion}" is not supported (use ${API_VERSIONS[kind][0]})`, {
          file,
          line,
        }),
      );
    // Report every field kprov would otherwise ignore.
    const allowed = SUPPORTED[kind];
    if (!allowed.includes('*')) {
      const walk = (map: YAMLMap, prefix: string) => {
        for (const pair of map.items as Pair<Node, Node>[]) {
          const key = `${prefix}${isScalar(pair.key) ? pair.key.value : pair.key}`;
          if (!allowed.includes(key))
            errors.push(
              new UserError(`${kind}: field "${key}" is not supported by kprov`, { file, line: lineOf(pair.key) }),
            );
          else if (isMap(pair.value) && allowed.some((a) => a.startsWith(`${key}.`))) walk(pair.value, `${key}.`);
        }
      };
      walk(doc.contents as YAMLMap, '');
    }
    const failAt: FailAt = (path, m) => {
      const node = doc.getIn(path, true) as Node | undefined;
      errors.push(new UserError(`${kind}: ${m}`, { file, line: lineOf(node) ?? line }));
    };
    applyDocument(kind, obj, out, failAt);
  }
  if (errors.length) throw errors.length === 1 ? errors[0] : new UserErrors(errors);
  return out;
}

/** A string field, checked: numbers and booleans are turned into text, anything structured is refused. */
function text(
  o: Record<string, unknown>,
  path: Path,
  failAt: FailAt,
  check?: (v: string, label: string) => Problem,
): string | undefined {
  let value: unknown = o;
  for (const p of path) {
    value = value && typeof value === 'object' ? (value as Record<string | number, unknown>)[p] : undefined;
  }
  if (value === undefined || value === null || value === '') return undefined;
  const label = path.join('.');
  if (typeof value === 'object') {
    failAt(path, `${label} must be a single value`);
    return undefined;
  }
  const v = String(value);
  const problem = check?.(v, label);
  if (problem) {
    failAt(path, problem);
    return undefined;
  }
  return v;
}

const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

function taints(value: unknown, path: Path, failAt: FailAt): KubeadmFileConfig['taints'] {
  if (value === null) return [];
  if (!Array.isArray(value)) {
    failAt(path, `${path.join('.')} must be a list of {key, value, effect}`);
    return [];
  }
  return value.flatMap((t: unknown, i) => {
    const at = [...path, i];
    const taint = (t && typeof t === 'object' ? t : {}) as { key?: unknown; value?: unknown; effect?: unknown };
    const key = typeof taint.key === 'string' ? taint.key : '';
    const val = taint.value === undefined || taint.value === null ? undefined : String(taint.value);
    const effect = String(taint.effect ?? '');
    const where = `${path.join('.')}[${i}]`;
    if (!QUALIFIED_NAME.test(key)) failAt(at, `${where}.key "${key}" is not a valid taint key`);
    else if (val !== undefined && !LABEL_VALUE.test(val)) failAt(at, `${where}.value "${val}" is not a taint value`);
    else if (!TAINT_EFFECTS.includes(effect)) failAt(at, `${where}.effect must be one of ${TAINT_EFFECTS.join(', ')}`);
    else return [{ key, ...(val !== undefined ? { value: val } : {}), effect }];
    return [];
  });
}

function applyDocument(kind: string, o: Record<string, unknown>, out: KubeadmFileConfig, failAt: FailAt): void {
  const c = out.cluster;
  const field = (path: Path, check?: (v: string, label: string) => Problem) => text(o, path, failAt, check);
  const section = (name: string) =>
    o[name] && typeof o[name] === 'object' ? (o[name] as Record<string, unknown>) : {};
  if (kind === 'ClusterConfiguration') {
    const version = field(['kubernetesVersion'], kubernetesVersionProblem);
    if (version) c.kubernetesVersion = normalizeKubernetesVersion(version);
    c.controlPlaneEndpoint = field(['controlPlaneEndpoint'], endpointProblem) ?? c.controlPlaneEndpoint;
    c.clusterName = field(['clusterName'], clusterNameProblem) ?? c.clusterName;
    c.imageRepository = field(['imageRepository'], imageRepositoryProblem) ?? c.imageRepository;
    const algorithm = field(['encryptionAlgorithm']);
    if (algorithm) {
      if (!KEY_ALGORITHMS.includes(algorithm as KeyAlgorithm)) {
        const known = KEY_ALGORITHMS.join(', ');
        failAt(['encryptionAlgorithm'], `encryptionAlgorithm "${algorithm}" must be one of ${known}`);
      } else c.encryptionAlgorithm = algorithm as KeyAlgorithm;
    }
    c.podSubnet = field(['networking', 'podSubnet'], podCidrProblem) ?? c.podSubnet;
    c.serviceSubnet = field(['networking', 'serviceSubnet'], serviceCidrProblem) ?? c.serviceSubnet;
    c.dnsDomain = field(['networking', 'dnsDomain'], dnsDomainProblem) ?? c.dnsDomain;
    if (c.podSubnet && c.serviceSubnet) {
      const overlap = cidrsOverlapProblem(
        c.podSubnet,
        c.serviceSubnet,
        'networking.podSubnet',
        'networking.serviceSubnet',
      );
      if (overlap) failAt(['networking'], overlap);
    }
    const sans = section('apiServer').certSANs;
    if (sans !== undefined && sans !== null) {
      if (!Array.isArray(sans)) failAt(['apiServer', 'certSANs'], 'apiServer.certSANs must be a list');
      else c.apiServerCertSANs = sans.flatMap((_, i) => field(['apiServer', 'certSANs', i], certSanProblem) ?? []);
    }
    const args = (path: Path) => {
      let v: unknown = o;
      for (const p of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p as string] : undefined;
      return v === undefined || v === null ? undefined : extraArgs(v, path, failAt);
    };
    c.apiServerExtraArgs = args(['apiServer', 'extraArgs']) ?? c.apiServerExtraArgs;
    c.controllerManagerExtraArgs = args(['controllerManager', 'extraArgs']) ?? c.controllerManagerExtraArgs;
    c.schedulerExtraArgs = args(['scheduler', 'extraArgs']) ?? c.schedulerExtraArgs;
    c.etcdExtraArgs = args(['etcd', 'local', 'extraArgs']) ?? c.etcdExtraArgs;
    const certificatesDir = field(['certificatesDir']);
    if (certificatesDir && certificatesDir !== '/etc/kubernetes/pki') {
      failAt(['certificatesDir'], 'certificatesDir other than /etc/kubernetes/pki is not supported');
    }
    for (const k of Object.keys(c) as (keyof typeof c)[]) if (c[k] === undefined) delete c[k];
  } else if (kind === 'InitConfiguration') {
    const tokens = o.bootstrapTokens;
    if (tokens !== undefined && tokens !== null && !Array.isArray(tokens)) {
      failAt(['bootstrapTokens'], 'bootstrapTokens must be a list');
    } else if (Array.isArray(tokens)) {
      if (tokens.length > 1) failAt(['bootstrapTokens'], 'only one bootstrap token is supported');
      const t = tokens[0] as Record<string, unknown> | undefined;
      if (t !== undefined && (t === null || typeof t !== 'object')) {
        failAt(['bootstrapTokens', 0], 'bootstrapTokens[0] must be a mapping');
      } else if (t) {
        const tokenLabel = 'bootstrapTokens[0].token';
        const token = field(['bootstrapTokens', 0, 'token'], (v) => bootstrapTokenProblem(v, tokenLabel));
        const ttl = field(['bootstrapTokens', 0, 'ttl']);
        const ttlMs = ttl !== undefined ? parseDuration(ttl) : undefined;
        if (ttl !== undefined && ttlMs === undefined) {
          failAt(['bootstrapTokens', 0, 'ttl'], `bootstrapTokens[0].ttl "${ttl}" is not a duration like 24h0m0s`);
        }
        const description = field(['bootstrapTokens', 0, 'description'], (v, label) =>
          // eslint-disable-next-line no-control-regex
          /[\u0000-\u001f\u007f]/.test(v) ? `${label} contains a control character` : undefined,
        );
        out.token = { token, ttlMs, description };
      }
    }
    const socket = field(['nodeRegistration', 'criSocket'], criSocketProblem);
    if (socket) c.criSocket = normalizeCriSocket(socket);
    const reg = section('nodeRegistration');
    if ('taints' in reg) out.taints = taints(reg.taints, ['nodeRegistration', 'taints'], failAt);
  } else if (kind === 'JoinConfiguration') {
    const socket = field(['nodeRegistration', 'criSocket'], criSocketProblem);
    if (socket) c.criSocket = normalizeCriSocket(socket);
  } else if (kind === 'KubeletConfiguration') {
    const { apiVersion: _a, kind: _k, ...rest } = o;
    c.kubeletConfiguration = rest;
  } else if (kind === 'KubeProxyConfiguration') {
    const { apiVersion: _a, kind: _k, ...rest } = o;
    c.kubeProxyConfiguration = rest;
  }
}
