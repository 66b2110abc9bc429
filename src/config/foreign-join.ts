/**
 * Joining workers to a cluster kprov did not create (one made by upstream `kubeadm init`): the three values
 * `kubeadm join` takes, from `kprov join` flags or inventory vars, checked the way kubeadm checks them.
 */
import type { SourceLocation } from '../errors/index.js';
import {
  bootstrapTokenProblem,
  caCertHashProblem,
  joinEndpointProblem,
  normalizeCaCertHash,
  normalizeKubernetesVersion,
} from './validate.js';

export interface ForeignJoin {
  /** The bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}: a secret (never printed or logged). */
  token: string;
  /** The CA pins, normalised to sha256:<lowercase hex>; the cluster CA must match one of them. */
  caCertHashes: string[];
  /** host:port of an API server (or load balancer) the hosts discover the cluster through. */
  endpoint: string;
  /** kubernetes_version when the inventory sets it: the cluster must run exactly this version. */
  pinnedVersion?: string;
  /** image_repository when the inventory sets it: used for the pause image instead of the cluster's. */
  pinnedImageRepository?: string;
}

/** What `kprov join` was given on its command line (kubeadm join's flag names). */
export interface ForeignJoinFlags {
  token?: string;
  discoveryTokenCaCertHash?: string[];
  endpoint?: string;
}

/** The inventory vars, named as kprov's other vars are (snake_case, after the kubeadm flag where there is one). */
export const FOREIGN_JOIN_VARS = {
  token: 'join_token',
  hashes: 'discovery_token_ca_cert_hash',
  endpoint: 'join_endpoint',
} as const;

/** Vars that only make kubeadm's security weaker: refused whatever their value says. */
const UNSAFE_VARS = ['discovery_token_unsafe_skip_ca_verification', 'discovery_file', 'join_discovery_file'];

/**
 * The cluster's own settings a joining worker takes from the cluster: set in the inventory, they would be ignored,
 * so they are reported.
 */
export const CLUSTER_OWNED_VARS = [
  'pod_network_cidr',
  'service_cidr',
  'dns_domain',
  'cluster_name',
  'control_plane_endpoint',
  'cni',
  'kube_proxy_configuration',
];

type Fail = (message: string, source?: SourceLocation) => void;

/** "a,b" or a list -> ["a", "b"] (kubeadm's --discovery-token-ca-cert-hash is a string slice: repeat or commas). */
export function splitList(value: unknown): string[] {
  const items = Array.isArray(value) ? value.map(String) : [String(value)];
  return items
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The foreign join, or undefined when neither flags nor vars ask for one. Every problem goes to failVar (an
 * inventory var, with its file and line) or failFlag (a command-line flag); all three values or none.
 */
export function foreignJoinSettings(
  vars: Record<string, unknown>,
  sourceOf: (key: string) => SourceLocation | undefined,
  flags: ForeignJoinFlags,
  failVar: Fail,
  failFlag: (message: string) => void,
): ForeignJoin | undefined {
  for (const key of UNSAFE_VARS) {
    if (vars[key] === undefined || vars[key] === null || vars[key] === false || vars[key] === 'false') continue;
    failVar(
      `${key} is not supported: kprov joins only after checking the cluster CA against ` +
        `${FOREIGN_JOIN_VARS.hashes} (kubeadm token create --print-join-command on a control-plane host prints it)`,
      sourceOf(key),
    );
  }
  const scalar = (key: string): string | undefined => {
    const value = vars[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'object') {
      failVar(`${key} must be a single value, not a ${Array.isArray(value) ? 'list' : 'mapping'}`, sourceOf(key));
      return undefined;
    }
    return String(value).trim();
  };
  type Given = { value: string; label: string; fail: (m: string) => void };
  const fromVar = (key: string, value: string | undefined): Given | undefined =>
    value === undefined ? undefined : { value, label: key, fail: (m) => failVar(m, sourceOf(key)) };
  const fromFlag = (flag: string, value: string | undefined): Given | undefined =>
    value === undefined ? undefined : { value, label: flag, fail: failFlag };

  // A flag wins over the var, as --artifacts-dir does over artifacts_dir.
  const token =
    fromFlag('--token', flags.token?.trim()) ?? fromVar(FOREIGN_JOIN_VARS.token, scalar(FOREIGN_JOIN_VARS.token));
  const endpoint =
    fromFlag('--endpoint', flags.endpoint?.trim()) ??
    fromVar(FOREIGN_JOIN_VARS.endpoint, scalar(FOREIGN_JOIN_VARS.endpoint));
  const hashVar = vars[FOREIGN_JOIN_VARS.hashes];
  const hashes: (Given & { list: string[] }) | undefined =
    flags.discoveryTokenCaCertHash !== undefined
      ? {
          ...fromFlag('--discovery-token-ca-cert-hash', flags.discoveryTokenCaCertHash.join(','))!,
          list: splitList(flags.discoveryTokenCaCertHash),
        }
      : hashVar === undefined || hashVar === null
        ? undefined
        : { ...fromVar(FOREIGN_JOIN_VARS.hashes, String(hashVar))!, list: splitList(hashVar) };

  const given = { token, hashes, endpoint };
  if (!token && !hashes && !endpoint) return undefined;
  const names: Record<keyof typeof given, string> = {
    token: `--token or ${FOREIGN_JOIN_VARS.token}`,
    hashes: `--discovery-token-ca-cert-hash or ${FOREIGN_JOIN_VARS.hashes}`,
    endpoint: `--endpoint or ${FOREIGN_JOIN_VARS.endpoint}`,
  };
  const missing = (Object.keys(given) as (keyof typeof given)[]).filter((k) => !given[k]);
  if (missing.length > 0) {
    const first = (token ?? hashes ?? endpoint)!;
    first.fail(
      `${first.label} joins a cluster kprov did not create, which needs all three of the bootstrap token, the CA ` +
        `cert hash and the API server endpoint; missing: ${missing.map((k) => names[k]).join(', ')} ` +
        '(kubeadm token create --print-join-command on a control-plane host prints all three)',
    );
    return undefined;
  }

  let ok = true;
  const check = (g: Given, problem: string | undefined) => {
    if (problem) {
      g.fail(problem);
      ok = false;
    }
  };
  // The token's own text never goes into a message: it is a credential.
  check(token!, bootstrapTokenProblem(token!.value, token!.label));
  check(endpoint!, joinEndpointProblem(endpoint!.value, endpoint!.label));
  if (hashes!.list.length === 0) check(hashes!, `${hashes!.label} is empty: give at least one sha256:<hex> hash`);
  for (const h of hashes!.list) check(hashes!, caCertHashProblem(h, hashes!.label));
  if (!ok) return undefined;

  const version = scalar('kubernetes_version');
  const repository = scalar('image_repository');
  return {
    token: token!.value,
    caCertHashes: [...new Set(hashes!.list.map(normalizeCaCertHash))],
    endpoint: endpoint!.value,
    // Validated with the other cluster vars; normalised here the same way.
    ...(version !== undefined ? { pinnedVersion: normalizeKubernetesVersion(version) } : {}),
    ...(repository !== undefined ? { pinnedImageRepository: repository } : {}),
  };
}

/** Whether any var or flag asks for a foreign join (decides whether the inventory may lack a control plane). */
export function asksForForeignJoin(vars: Record<string, unknown>, flags: ForeignJoinFlags): boolean {
  const set = (v: unknown) => v !== undefined && v !== null;
  return (
    set(flags.token) ||
    set(flags.discoveryTokenCaCertHash) ||
    set(flags.endpoint) ||
    Object.values(FOREIGN_JOIN_VARS).some((k) => set(vars[k]))
  );
}
