import { createHash } from 'node:crypto';
import { HostError } from '../errors/index.js';
import { KubeClient, objectPath } from '../kube/client.js';
import { parseKubeconfig } from '../kubeadm/kubeconfig.js';
import { verifyClusterInfo } from '../kubeadm/discovery.js';
import { bootstrapKubeconfig } from '../kubeadm/kubeconfig.js';
import { formatToken } from '../kubeadm/token.js';
import { controlPlaneNodePatch } from '../kubeadm/cluster-objects.js';
import { ANNOTATION_CRI_SOCKET, API_PORT, ETCD_MANIFEST, KUBELET_CONFIG, KUBELET_DROPIN, KUBELET_FLAGS_ENV, KUBERNETES_DIR, PKI_DIR } from '../kubeadm/constants.js';
import type { ClusterConfig, NodeConfig } from '../kubeadm/config.js';
import type { ClusterPlan, FileSpec } from '../kubeadm/plan.js';
import { kubeletFlagsEnv } from '../kubeadm/kubelet.js';
import type { Host } from '../host/host.js';
import { ensureServiceCurrent } from '../host/service.js';
import { KUBELET_UNIT } from './kubernetes.js';
import type { Phase, RunContext } from './phase.js';

export interface ClusterRun {
  cfg: ClusterConfig;
  plan: ClusterPlan;
  nodes: Record<string, NodeConfig>;
  first: string;
  /** A client for the API as the cluster's super admin, tunnelled through a master's SSH connection. */
  admin?: KubeClient;
  /** The master whose SSH connection carries API and etcd traffic: the first one, or another when it is down. */
  via?: Host;
  /** Hosts joined in this run (for the summary and waiting). */
  joined: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until check returns a value, or fail after timeoutMs with the last error in the message. */
export async function waitFor<T>(what: string, timeoutMs: number, everyMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await sleep(everyMs);
  }
}

/**
 * The plan is made before any host is reached; once facts are in, the kubelet's flags learn the real host
 * name, so a node named differently in the inventory gets --hostname-override (as kubeadm does).
 */
export function filesFor(run: ClusterRun, host: Host): FileSpec[] {
  const node = run.nodes[host.spec.nodeName];
  return run.plan.files[node.name].map((f) => (f.path === KUBELET_FLAGS_ENV ? { ...f, content: kubeletFlagsEnv(run.cfg, node, host.facts?.hostname) } : f));
}

const firstMaster = (run: ClusterRun) => (ctx: RunContext) => ctx.hosts.filter((h) => h.spec.nodeName === run.first && !h.failed);
/** The master that carries API traffic, while it has not failed. */
const viaMaster = (run: ClusterRun) => () => (run.via && !run.via.failed ? [run.via] : []);
/** The address of the via master's API server and etcd. */
export const viaAddress = (run: ClusterRun) => run.nodes[run.via!.spec.nodeName].advertiseAddress;

export function clientThrough(host: Host, address: string, creds: ConstructorParameters<typeof KubeClient>[1]): KubeClient {
  return new KubeClient(() => host.conn.forward(address, API_PORT), creds, address);
}

/** A super-admin API client to the API server at address, through host's SSH connection. */
export function superAdminThrough(run: ClusterRun, host: Host, address: string): KubeClient {
  const k = parseKubeconfig(run.plan.files[run.first].find((f) => f.path.endsWith('/super-admin.conf'))!.content);
  return clientThrough(host, address, { caPem: k.caPem, certPem: k.clientCertPem, keyPem: k.clientKeyPem });
}

/** Wait until an API server answers /readyz with 200; a timeout is host's error, with where to look. */
export async function awaitReadyz(api: KubeClient, host: Host, what: string, timeoutMs: number): Promise<void> {
  await waitFor(`${what} to be ready (/readyz)`, timeoutMs, 2000, async () => {
    const r = await api.request('GET', '/readyz');
    if (r.status === 200) return true;
    throw new Error(`/readyz answered ${r.status}: ${r.text.slice(0, 300)}`);
  }).catch((err) => {
    throw new HostError(host.name, `${(err as Error).message}. Check: journalctl -u kubelet, crictl ps -a`, { step: 'wait for API server' });
  });
}

/**
 * Enable the kubelet and make it run with its configuration: started when not active, restarted when a file
 * changed in this run or when its files differ from those it was last started with (an earlier run stopped
 * between writing them and restarting). kubelet.conf counts only when kprov wrote it: the kubelet writes it too.
 */
export async function ensureKubelet(host: Host, changed: string[]): Promise<void> {
  const tracked = [KUBELET_CONFIG, KUBELET_FLAGS_ENV, KUBELET_DROPIN, KUBELET_UNIT];
  const force = changed.some((c) => [...tracked, `${KUBERNETES_DIR}/kubelet.conf`].includes(c));
  await ensureServiceCurrent(host, 'kubelet', tracked, { force, reason: 'its configuration changed' });
}

/**
 * A host that already trusts a cluster CA must trust this one: otherwise kprov's state for the inventory is not
 * this cluster's (another --pki-dir, or an inventory at another path) and writing would replace the host's
 * PKI: a broken cluster, or a second one. Checked before anything is changed.
 */
export function clusterIdentityPhase(run: ClusterRun, pkiDir: string): Phase {
  const caPem = run.plan.files[run.first].find((f) => f.path === `${PKI_DIR}/ca.crt`)!.content;
  const want = createHash('sha256').update(caPem).digest('hex');
  return {
    title: 'Cluster identity',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed),
    async runHost(host) {
      const r = await host.sudo(`sha256sum ${PKI_DIR}/ca.crt 2>/dev/null || true`, { step: 'read cluster CA' });
      const have = r.stdout.trim().split(/\s+/)[0];
      if (have && have !== want) {
        throw new HostError(
          host.name,
          `this host already belongs to a cluster whose CA (${PKI_DIR}/ca.crt, sha256 ${have.slice(0, 16)}…) is not the one kprov holds for this inventory in ${pkiDir} (sha256 ${want.slice(0, 16)}…). ` +
            'Nothing was changed. Run kprov with the --pki-dir of that cluster (state is kept per inventory file path), or kprov reset the host first',
          { step: 'cluster identity' },
        );
      }
    },
  };
}


/**
 * The first master of the inventory is where kprov runs init. If it has no etcd yet but another master does
 * (say the first one was reset, or the inventory was reordered), init would start a second, separate cluster.
 */
async function refuseSecondCluster(run: ClusterRun, host: Host, ctx: RunContext): Promise<void> {
  const hasEtcd = async (h: Host) => (await h.sudo(`[ -f ${ETCD_MANIFEST} ] && echo yes || true`, { step: 'inspect control plane' })).stdout.includes('yes');
  if (await hasEtcd(host)) return;
  // Hosts that failed an earlier step but are connected count too (one with another cluster's CA, say).
  const others = ctx.hosts.filter((h) => h.facts && h.spec.controlPlane && h !== host);
  const running = (await Promise.all(others.map(async (h) => ((await hasEtcd(h).catch(() => false)) ? h.name : undefined)))).filter(Boolean);
  const unknown = ctx.hosts.filter((h) => !h.facts && h.spec.controlPlane && h !== host).map((h) => h.name);
  if (running.length === 0 && unknown.length > 0) ctx.warn(`${host.name}: starting a new cluster while ${unknown.join(', ')} cannot be reached: make sure they do not run another one`);
  if (running.length > 0) {
    throw new HostError(
      host.name,
      `${running.join(', ')} already run${running.length === 1 ? 's' : ''} the control plane but ${host.name}, the first master of the inventory, does not: ` +
        `initializing it would start a second, separate cluster. List a master that runs the control plane first, and ${host.name} joins it`,
      { step: 'init' },
    );
  }
}

/** kubeadm init on the first master: its files, the kubelet, and a healthy API server. */
export function controlPlanePhase(run: ClusterRun): Phase {
  return {
    title: 'Control plane (init)',
    select: firstMaster(run),
    async runHost(host, ctx) {
      await refuseSecondCluster(run, host, ctx);
      const changed = await host.ensureFiles(filesFor(run, host));
      await ensureKubelet(host, changed);
      run.via = host;
      if (host.dryRun) return;
      run.admin = superAdminThrough(run, host, viaAddress(run));
      await awaitReadyz(run.admin, host, 'the API server', 4 * 60_000);
    },
  };
}

/** kubeadm's mark-control-plane: the control-plane label and taint and the CRI socket annotation, once the node has registered. */
export async function markControlPlane(run: ClusterRun, host: Host, nodeName: string): Promise<void> {
  const api = run.admin;
  if (!api) throw new HostError(host.name, 'the API server on the first control-plane host is not available', { step: 'mark control plane' });
  const node = await waitFor(`node ${nodeName} to register`, 3 * 60_000, 2000, () => api.get(`/api/v1/nodes/${nodeName}`));
  const want = controlPlaneNodePatch(run.nodes[nodeName], run.cfg.criSocket);
  const existing = (node.spec?.taints ?? []) as { key: string; effect: string }[];
  const taints = [...existing.filter((t) => !want.spec.taints.some((w) => w.key === t.key && w.effect === t.effect)), ...want.spec.taints];
  const labelsOk = Object.keys(want.metadata.labels).every((k) => node.metadata.labels?.[k] === '');
  const taintsOk = want.spec.taints.every((w) => existing.some((t) => t.key === w.key && t.effect === w.effect));
  if (!labelsOk || !taintsOk || node.metadata.annotations?.[ANNOTATION_CRI_SOCKET] !== run.cfg.criSocket) {
    await api.patch(`/api/v1/nodes/${nodeName}`, { metadata: want.metadata, spec: { taints } }, 'merge');
    host.changes.push(`mark ${nodeName} as control plane (label${want.spec.taints.length ? ' and taint' : ''})`);
  }
}

/** Wait for the kubelet's TLS bootstrap to write kubelet.conf, then drop the bootstrap kubeconfig and its token. */
export async function awaitTlsBootstrap(host: Host): Promise<void> {
  await waitFor('the kubelet TLS bootstrap (kubelet.conf)', 5 * 60_000, 2000, async () => ((await host.sudo(`[ -f ${KUBERNETES_DIR}/kubelet.conf ] && echo yes || true`)).stdout.includes('yes') ? true : undefined)).catch((err) => {
    throw new HostError(host.name, `${(err as Error).message}. Check: journalctl -u kubelet`, { step: 'TLS bootstrap' });
  });
  await host.sudo(`rm -f ${KUBERNETES_DIR}/bootstrap-kubelet.conf`, { step: 'remove bootstrap kubeconfig' });
}

/**
 * When the first master cannot be reached (it is down, or being repaired), a re-run still converges the rest:
 * API and etcd traffic goes through the next master that already runs the control plane.
 */
export function apiThroughAnotherMasterPhase(run: ClusterRun): Phase {
  return {
    title: 'API access',
    select: (ctx) => {
      const first = ctx.hosts.find((h) => h.spec.nodeName === run.first);
      if (run.via || !first?.failed) return [];
      return ctx.hosts.filter((h) => !h.failed && h.spec.controlPlane && h !== first).slice(0, 1);
    },
    async runHost(host, ctx) {
      const running = await host.sudo(`[ -f ${ETCD_MANIFEST} ] && [ -f ${KUBERNETES_DIR}/kubelet.conf ] && echo yes || true`, { step: 'inspect control plane' });
      if (!running.stdout.includes('yes')) return;
      ctx.warn(`${run.first} is not available: reaching the cluster through ${host.name}`);
      run.via = host;
      if (host.dryRun) return;
      const admin = superAdminThrough(run, host, viaAddress(run));
      await awaitReadyz(admin, host, `the API server on ${host.name}`, 60_000).catch((err) => {
        run.via = undefined;
        throw err;
      });
      run.admin = admin;
    },
  };
}

/** Cluster objects (RBAC, token, cluster-info, configs, addons), then mark the control plane. */
export function clusterObjectsPhase(run: ClusterRun): Phase {
  return {
    title: 'Cluster objects',
    select: viaMaster(run),
    async runHost(host) {
      if (host.dryRun) {
        for (const name of Object.keys(run.plan.objects)) host.changes.push(`apply ${name}`);
        return;
      }
      const api = run.admin!;
      for (const [name, objects] of Object.entries(run.plan.objects)) {
        for (const obj of objects as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }[]) {
          // Created once: re-applying would push the token's expiry forward, and re-encrypt the uploaded
          // certificates (a fresh nonce each time) on every run.
          const createOnce = name === '01-bootstrap-token' || name === '08-kubeadm-certs';
          if (createOnce && (await api.get(`/api/v1/namespaces/kube-system/secrets/${obj.metadata.name}`))) continue;
          const before = await api.get(objectPath(obj));
          // An apply that changes nothing leaves resourceVersion as it was.
          const after = await api.apply(obj);
          if (!before || before.metadata?.resourceVersion !== after?.metadata?.resourceVersion) {
            host.changes.push(`${before ? 'update' : 'create'} ${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`);
          }
        }
      }
      // mark-control-plane: labels and taints once the kubelet has registered the node (not while the first master
      // is down and the API is reached through another one: its node may not exist then).
      if (host.spec.nodeName === run.first) await markControlPlane(run, host, run.first);
    },
  };
}

/**
 * kubeadm join for workers: bootstrap-token discovery (cluster-info fetched without trust, its JWS checked
 * with the token and its CA checked against the pinned hash, then fetched again over verified TLS), then the
 * kubelet's TLS bootstrap. Hosts whose kubelet already has kubelet.conf are left alone.
 */
export function joinPhase(run: ClusterRun): Phase {
  return {
    title: 'Join nodes',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && !h.spec.controlPlane),
    async runHost(host, ctx) {
      const node = run.nodes[host.spec.nodeName];
      const joined = await host.sudo(`[ -f ${KUBERNETES_DIR}/kubelet.conf ] && systemctl is-active kubelet >/dev/null && echo joined || true`, { step: 'inspect kubelet' });
      const kubeletFiles = filesFor(run, host).filter((f) => [KUBELET_CONFIG, KUBELET_FLAGS_ENV, KUBELET_DROPIN].includes(f.path));
      if (joined.stdout.includes('joined')) {
        const changed = await host.ensureFiles(kubeletFiles);
        await ensureKubelet(host, changed);
        return;
      }
      if (host.dryRun) {
        host.changes.push(`join the cluster at ${run.plan.endpoint} (bootstrap token ${run.plan.token.id})`);
        return;
      }
      const master = run.via;
      if (!master || master.failed) throw new HostError(host.name, 'no control-plane host is available to join through', { step: 'join' });
      const address = viaAddress(run);
      // Discovery exactly as kubeadm does it: trust nothing until the token's signature and the CA pin check out.
      const anonymous = clientThrough(master, address, { insecure: true });
      const info = await waitFor(`cluster-info signed for token ${run.plan.token.id}`, 5 * 60_000, 5000, async () => {
        const cm = await anonymous.get('/api/v1/namespaces/kube-public/configmaps/cluster-info');
        if (!cm?.data?.[`jws-kubeconfig-${run.plan.token.id}`]) throw new Error('no JWS signature for the token yet');
        return cm.data as Record<string, string>;
      });
      const discovered = verifyClusterInfo(info, run.plan.token, [run.plan.caCertHash]);
      const verified = clientThrough(master, address, { caPem: discovered.caPem });
      const again = await verified.get('/api/v1/namespaces/kube-public/configmaps/cluster-info');
      if (again?.data?.kubeconfig !== info.kubeconfig) throw new HostError(host.name, 'cluster-info changed between the insecure and the verified fetch', { step: 'discovery' });
      ctx.log.write(host.name, `discovery: cluster-info verified with token ${run.plan.token.id} and CA pin ${run.plan.caCertHash}`);

      const changed = await host.ensureFiles([
        { path: `${PKI_DIR}/ca.crt`, content: discovered.caPem, mode: 0o644 },
        { path: `${KUBERNETES_DIR}/bootstrap-kubelet.conf`, content: bootstrapKubeconfig(run.cfg, discovered.server, discovered.caPem, formatToken(run.plan.token)), mode: 0o600 },
        ...kubeletFiles,
      ]);
      await ensureKubelet(host, [...changed, KUBELET_CONFIG]);
      await awaitTlsBootstrap(host);
      const apiNode = await waitFor(`node ${node.name} to register`, 2 * 60_000, 2000, () => run.admin!.get(`/api/v1/nodes/${node.name}`));
      if (apiNode.metadata.annotations?.[ANNOTATION_CRI_SOCKET] !== run.cfg.criSocket) {
        await run.admin!.patch(`/api/v1/nodes/${node.name}`, { metadata: { annotations: { [ANNOTATION_CRI_SOCKET]: run.cfg.criSocket } } }, 'merge');
      }
      run.joined.push(host.name);
    },
  };
}

/** Wait until every node of the run is Ready; report those that are not. */
export function nodesReadyPhase(run: ClusterRun, timeoutMs: number): Phase {
  return {
    title: 'Nodes Ready',
    select: viaMaster(run),
    async runHost(host, ctx) {
      if (host.dryRun) return;
      const names = ctx.hosts.filter((h) => !h.failed).map((h) => h.spec.nodeName);
      await waitFor(`nodes ${names.join(', ')} to be Ready`, timeoutMs, 3000, async () => {
        const list = await run.admin!.get('/api/v1/nodes');
        const ready = new Set((list.items as any[]).filter((n) => n.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')).map((n) => n.metadata.name));
        const notReady = names.filter((n) => !ready.has(n));
        if (notReady.length === 0) return true;
        throw new Error(`not Ready yet: ${notReady.join(', ')}`);
      }).catch((err) => {
        throw new HostError(host.name, (err as Error).message, { step: 'nodes Ready' });
      });
    },
  };
}

