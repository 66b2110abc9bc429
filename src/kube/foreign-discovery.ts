import type { Duplex } from 'node:stream';
import { KubeApiError, KubeClient } from './client.js';
import { readyCondition, type ConfigMap, type Node } from './types.js';
import { caCertHash, verifyClusterInfo } from '../kubeadm/discovery.js';
import { parseClusterConfiguration, type ForeignClusterConfiguration } from '../kubeadm/foreign.js';
import { formatToken, type BootstrapToken } from '../kubeadm/token.js';
import { sleep } from '../util/wait.js';

/** A byte stream to host:port as a joining node reaches it (kprov: a tunnel through that node's SSH connection). */
export type DialTo = (host: string, port: number) => Promise<Duplex>;

export interface DiscoveryInput {
  token: BootstrapToken;
  /** CA pins, sha256:<hex>: the cluster CA must match one (never empty: kprov does not skip CA verification). */
  pins: string[];
  /** host:port the node discovers the cluster through. */
  endpoint: string;
}

/** What kubeadm join learns before it writes anything, each piece verified or read over verified TLS. */
export interface DiscoveredCluster {
  /** The API server cluster-info names: what the kubelet bootstraps against. */
  server: string;
  caPem: string;
  /** The pin that matched. */
  caCertHash: string;
  clusterConfiguration: ForeignClusterConfiguration;
  /** The "kubelet" key of kube-system/kubelet-config: the KubeletConfiguration every node starts from. */
  kubeletConfig: string | undefined;
}

export interface DiscoveryOptions {
  /** How long to wait for the bootstrap signer to sign cluster-info for the token (a token made seconds ago). */
  signatureWaitMs?: number;
  everyMs?: number;
  /** How long one API call keeps retrying transient failures (a tunnel that cannot open yet, 503). */
  retryMs?: number;
  onRetry?: (what: string) => void;
}

const CLUSTER_INFO = '/api/v1/namespaces/kube-public/configmaps/cluster-info';
const KUBEADM_CONFIG = '/api/v1/namespaces/kube-system/configmaps/kubeadm-config';
const KUBELET_CONFIG = '/api/v1/namespaces/kube-system/configmaps/kubelet-config';

/** "10.0.0.10:6443", "[fd00::1]:6443" -> host and port (the endpoint was validated as host:port). */
export function splitEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(endpoint);
  if (!m) throw new Error(`endpoint "${endpoint}" is not host:port`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

/** An https URL's host and port (443 when it names none). */
export function urlHostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  if (u.protocol !== 'https:') throw new Error(`cluster-info names the API server ${url}, which is not https`);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port ? Number(u.port) : 443 };
}

/** A KubeApiError, a network error or anything else, as one line for the operator. */
const reason = (err: unknown) => (err as Error)?.message ?? String(err);

/**
 * kubeadm join's bootstrap-token discovery (discovery/token): cluster-info fetched without trusting the server,
 * its JWS checked with the token and its CA with the pins, fetched again over TLS verified with that CA; then, as
 * the token's user (group system:bootstrappers:kubeadm:default-node-token, allowed by the RBAC kubeadm init
 * creates), the ClusterConfiguration and the kubelet configuration the cluster publishes, from the API server that
 * cluster-info names. The token goes to a server only after its CA has been verified.
 */
export async function discoverForeignCluster(
  dialTo: DialTo,
  input: DiscoveryInput,
  opts: DiscoveryOptions = {},
): Promise<DiscoveredCluster> {
  if (input.pins.length === 0) throw new Error('no CA cert hash: kprov does not join without checking the cluster CA');
  const ep = splitEndpoint(input.endpoint);
  const retryMs = opts.retryMs ?? 20_000;
  const client = (to: { host: string; port: number }, creds: ConstructorParameters<typeof KubeClient>[1]) =>
    new KubeClient(() => dialTo(to.host, to.port), creds, to.host, 30_000, retryMs, opts.onRetry);
  const id = input.token.id;

  const anonymous = client(ep, { insecure: true });
  const fetchInfo = async (c: KubeClient, how: string) => {
    let cm: ConfigMap | undefined;
    try {
      cm = await c.get<ConfigMap>(CLUSTER_INFO);
    } catch (err) {
      const status = err instanceof KubeApiError ? err.status : undefined;
      if (status === 401 || status === 403) {
        throw new Error(
          `the API server at ${input.endpoint} refuses anonymous reads of kube-public/cluster-info (HTTP ${status}): ` +
            'kubeadm init allows them (RoleBinding kubeadm:bootstrap-signer-clusterinfo); is anonymous auth off?',
        );
      }
      throw new Error(`cannot read cluster-info from ${input.endpoint} (${how}): ${reason(err)}`);
    }
    if (!cm?.data?.kubeconfig) {
      throw new Error(`${input.endpoint} has no kube-public/cluster-info: is it the API server of a kubeadm cluster?`);
    }
    return cm.data;
  };

  // The bootstrap signer adds the token's signature within seconds of the token Secret's creation.
  const waitMs = opts.signatureWaitMs ?? 60_000;
  const started = Date.now();
  let info = await fetchInfo(anonymous, 'without TLS verification, as kubeadm does before the CA is checked');
  while (!info[`jws-kubeconfig-${id}`]) {
    if (Date.now() - started >= waitMs) {
      throw new Error(
        `cluster-info carries no signature for token ${id} after ${Math.round(waitMs / 1000)}s: the token does ` +
          'not exist, has expired, or cannot sign; make one on a control-plane host: ' +
          'kubeadm token create --print-join-command',
      );
    }
    await sleep(opts.everyMs ?? 3000);
    info = await fetchInfo(anonymous, 'without TLS verification');
  }
  const verified = verifyClusterInfo(info, input.token, input.pins);
  const secure = client(ep, { caPem: verified.caPem });
  const again = await fetchInfo(secure, 'over TLS verified with the cluster CA').catch((err: Error) => {
    throw new Error(
      `${err.message} (the API server's certificate must be signed by the cluster CA and name ` +
        `${ep.host}: use an endpoint among its SANs)`,
    );
  });
  if (again.kubeconfig !== info.kubeconfig) {
    throw new Error('cluster-info changed between the unverified and the verified fetch: try again');
  }

  const api = bootstrapClient(dialTo, verified, input.token, { retryMs, onRetry: opts.onRetry });
  const read = async (path: string, what: string, role: string): Promise<ConfigMap> => {
    let cm: ConfigMap | undefined;
    try {
      cm = await api.get<ConfigMap>(path);
    } catch (err) {
      const status = err instanceof KubeApiError ? err.status : undefined;
      if (status === 401) {
        throw new Error(`the API server at ${verified.server} does not accept token ${id}: it expired or was deleted`);
      }
      if (status === 403) {
        throw new Error(
          `token ${id} may not read ${what} (HTTP 403): it must be in group ` +
            `system:bootstrappers:kubeadm:default-node-token (kubeadm token create puts it there), and the cluster ` +
            `needs kubeadm's Role and RoleBinding ${role}`,
        );
      }
      throw new Error(`cannot read ${what} from ${verified.server}: ${reason(err)}`);
    }
    if (!cm) throw new Error(`the cluster has no ${what}: kprov joins clusters made by kubeadm init`);
    return cm;
  };
  const kubeadmConfig = await read(KUBEADM_CONFIG, 'kube-system/kubeadm-config', 'kubeadm:nodes-kubeadm-config');
  const kubeletConfig = await read(KUBELET_CONFIG, 'kube-system/kubelet-config', 'kubeadm:kubelet-config');
  const certs = verified.caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const hashes = certs.map(caCertHash);
  return {
    server: verified.server,
    caPem: verified.caPem,
    caCertHash: input.pins.find((p) => hashes.includes(p))!,
    clusterConfiguration: parseClusterConfiguration(kubeadmConfig.data),
    kubeletConfig: kubeletConfig.data?.kubelet,
  };
}

/** The API as the bootstrap token's user, at the server cluster-info names, over TLS verified with the cluster CA. */
export function bootstrapClient(
  dialTo: DialTo,
  cluster: Pick<DiscoveredCluster, 'server' | 'caPem'>,
  token: BootstrapToken,
  opts: { retryMs?: number; onRetry?: (what: string) => void } = {},
): KubeClient {
  const to = urlHostPort(cluster.server);
  return new KubeClient(
    () => dialTo(to.host, to.port),
    { caPem: cluster.caPem, token: formatToken(token) },
    to.host,
    30_000,
    opts.retryMs ?? 20_000,
    opts.onRetry,
  );
}

/**
 * A node as the bootstrap token sees it (kubeadm init's ClusterRole kubeadm:get-nodes lets it get one node by name,
 * which kubeadm join uses to refuse a name a Ready node already has): absent, Ready or not, or unknown when the
 * cluster does not grant that.
 */
export async function nodeState(
  api: KubeClient,
  name: string,
): Promise<{ state: 'absent' | 'ready' | 'not-ready' | 'unknown'; message?: string }> {
  try {
    const node = await api.get<Node>(`/api/v1/nodes/${encodeURIComponent(name)}`);
    if (!node) return { state: 'absent' };
    const ready = readyCondition(node);
    return ready?.status === 'True'
      ? { state: 'ready' }
      : { state: 'not-ready', message: ready?.message || 'no Ready condition yet' };
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 403) return { state: 'unknown', message: err.message };
    throw err;
  }
}
