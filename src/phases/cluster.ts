import { createHash } from 'node:crypto';
import { HostError } from '../errors/index.js';
import { type KubeClient, objectPath } from '../kube/client.js';
import type { AccessCredentials, ClusterAccess } from '../kube/cluster-access.js';
import { readyCondition, type ConfigMap, type List, type Node, type ObjectRef } from '../kube/types.js';
import { parseKubeconfig } from '../kubeadm/kubeconfig.js';
import { verifyClusterInfo } from '../kubeadm/discovery.js';
import { bootstrapKubeconfig } from '../kubeadm/kubeconfig.js';
import { formatToken } from '../kubeadm/token.js';
import { controlPlaneNodePatch } from '../kubeadm/cluster-objects.js';
import {
  ANNOTATION_CRI_SOCKET,
  ETCD_MANIFEST,
  KUBELET_CONFIG,
  KUBELET_DROPIN,
  KUBELET_FLAGS_ENV,
  KUBERNETES_DIR,
  PKI_DIR,
} from '../kubeadm/constants.js';
import type { ClusterConfig, NodeConfig } from '../kubeadm/config.js';
import type { ClusterPlan, FileSpec } from '../kubeadm/plan.js';
import { kubeletFlagsEnv } from '../kubeadm/kubelet.js';
import type { Host } from '../host/host.js';
import { ensureServiceCurrent } from '../host/service.js';
import { KUBELET_UNIT } from './kubernetes.js';
import type { Phase, RunContext } from './phase.js';
import type { RunLog } from '../log/logger.js';
import { waitUntil } from '../util/wait.js';
import { kubeletProbe } from '../host/probes.js';

export interface ClusterRun {
  cfg: ClusterConfig;
  plan: ClusterPlan;
  nodes: Record<string, NodeConfig>;
  first: string;
  /** The cluster's API and etcd, through the first master, or through another one when it is down. */
  access: ClusterAccess;
  /** Hosts joined in this run (for the summary and waiting). */
  joined: string[];
}

/** Waits on hosts last while they make progress (see waitUntil); these bound how long nothing may change. */
export const WAIT = { stallMs: 3 * 60_000, deadlineMs: 15 * 60_000 } as const;

/** Run-log lines as a wait's observation changes, so a slow step can be explained afterwards. */
export const logProgress = (log: RunLog, host: Host, what: string) => (observation: string, elapsedMs: number) =>
  log.write(host.name, `waiting for ${what} (${Math.round(elapsedMs / 1000)}s): ${observation}`);

/**
 * The plan is made before any host is reached; once facts are in, the kubelet's flags learn the real host
 * name, so a node named differently in the inventory gets --hostname-override (as kubeadm does).
 */
export function filesFor(run: ClusterRun, host: Host): FileSpec[] {
  const node = run.nodes[host.spec.nodeName];
  return run.plan.files[node.name].map((f) =>
    f.path === KUBELET_FLAGS_ENV ? { ...f, content: kubeletFlagsEnv(run.cfg, node, host.facts?.hostname) } : f,
  );
}

const firstMaster = (run: ClusterRun) => (ctx: RunContext) =>
  ctx.hosts.filter((h) => h.spec.nodeName === run.first && !h.failed);
/** The master that carries API traffic, while it has not failed. */
const viaMaster = (run: ClusterRun) => () => (run.access.via ? [run.access.via] : []);
/** The address of a host's API server and etcd. */
export const addressOf = (run: ClusterRun, host: Host) => run.nodes[host.spec.nodeName].advertiseAddress;

/** What kprov uses to reach a cluster it creates: the super-admin kubeconfig and the API server's etcd client. */
export function planCredentials(plan: ClusterPlan, first: string): AccessCredentials {
  const file = (path: string) => plan.files[first].find((f) => f.path === path)!.content;
  const k = parseKubeconfig(plan.files[first].find((f) => f.path.endsWith('/super-admin.conf'))!.content);
  return {
    api: { caPem: k.caPem, certPem: k.clientCertPem!, keyPem: k.clientKeyPem! },
    etcd: {
      caPem: file(`${PKI_DIR}/etcd/ca.crt`),
      certPem: file(`${PKI_DIR}/apiserver-etcd-client.crt`),
      keyPem: file(`${PKI_DIR}/apiserver-etcd-client.key`),
    },
  };
}

/** Wait until an API server answers /readyz with 200, while it or its kubelet makes progress; a timeout is host's error. */
export async function awaitReadyz(api: KubeClient, host: Host, what: string, log: RunLog): Promise<void> {
  const waitingFor = `${what} to be ready (/readyz)`;
  await waitUntil({
    what: waitingFor,
    ...WAIT,
    check: async () => {
      const r = await api.request('GET', '/readyz', undefined, undefined, { retryMs: 0 });
      if (r.status === 200) return true;
      throw new Error(`/readyz answered ${r.status}: ${r.text.slice(0, 300)}`);
    },
    probe: () => kubeletProbe(host),
    onChange: logProgress(log, host, waitingFor),
  }).catch((err) => {
    throw new HostError(host.name, `${(err as Error).message}. Check: journalctl -u kubelet, crictl ps -a`, {
      step: 'wait for API server',
    });
  });
}

/** Wait for the kubelet on host to register node nodeName (through api). */
export async function awaitNodeRegistered(api: KubeClient, host: Host, nodeName: string, log: RunLog): Promise<Node> {
  const waitingFor = `node ${nodeName} to register`;
  return waitUntil({
    what: waitingFor,
    ...WAIT,
    check: () => api.get<Node>(`/api/v1/nodes/${nodeName}`),
    probe: () => kubeletProbe(host),
    onChange: logProgress(log, host, waitingFor),
  }).catch((err) => {
    throw new HostError(host.name, `${(err as Error).message}. Check: journalctl -u kubelet on ${host.name}`, {
      step: 'node registration',
    });
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
async function refuseSecondCluster(host: Host, ctx: RunContext): Promise<void> {
  const hasEtcd = async (h: Host) =>
    (await h.sudo(`[ -f ${ETCD_MANIFEST} ] && echo yes || true`, { step: 'inspect control plane' })).stdout.includes(
      'yes',
    );
  if (await hasEtcd(host)) return;
  // Hosts that failed an earlier step but are connected count too (one with another cluster's CA, say).
  const others = ctx.hosts.filter((h) => h.facts && h.spec.controlPlane && h !== host);
  const running = (
    await Promise.all(others.map(async (h) => ((await hasEtcd(h).catch(() => false)) ? h.name : undefined)))
  ).filter(Boolean);
  const unknown = ctx.hosts.filter((h) => !h.facts && h.spec.controlPlane && h !== host).map((h) => h.name);
  if (running.length === 0 && unknown.length > 0)
    ctx.warn(
      `${host.name}: starting a new cluster while ${unknown.join(', ')} cannot be reached: make sure they do not run another one`,
    );
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
      await refuseSecondCluster(host, ctx);
      const changed = await host.ensureFiles(filesFor(run, host));
      await ensureKubelet(host, changed);
      run.access.useMaster(host, addressOf(run, host), ctx.log);
      if (host.dryRun) return;
      await awaitReadyz(run.access.api(host, 'init'), host, 'the API server', ctx.log);
    },
  };
}

/** kubeadm's mark-control-plane: the control-plane label and taint and the CRI socket annotation, once the node has registered. */
export async function markControlPlane(run: ClusterRun, host: Host, nodeName: string, log: RunLog): Promise<void> {
  const api = run.access.api(host, 'mark control plane');
  const node = await awaitNodeRegistered(api, host, nodeName, log);
  const want = controlPlaneNodePatch(run.nodes[nodeName], run.cfg.criSocket);
  const existing = node.spec?.taints ?? [];
  const taints = [
    ...existing.filter((t) => !want.spec.taints.some((w) => w.key === t.key && w.effect === t.effect)),
    ...want.spec.taints,
  ];
  const labelsOk = Object.keys(want.metadata.labels).every((k) => node.metadata.labels?.[k] === '');
  const taintsOk = want.spec.taints.every((w) => existing.some((t) => t.key === w.key && t.effect === w.effect));
  if (!labelsOk || !taintsOk || node.metadata.annotations?.[ANNOTATION_CRI_SOCKET] !== run.cfg.criSocket) {
    await api.patch(`/api/v1/nodes/${nodeName}`, { metadata: want.metadata, spec: { taints } }, 'merge');
    host.changes.push(`mark ${nodeName} as control plane (label${want.spec.taints.length ? ' and taint' : ''})`);
  }
}

/** Wait for the kubelet's TLS bootstrap to write kubelet.conf, then drop the bootstrap kubeconfig and its token. */
export async function awaitTlsBootstrap(host: Host, log: RunLog): Promise<void> {
  const waitingFor = 'the kubelet TLS bootstrap (kubelet.conf)';
  await waitUntil({
    what: waitingFor,
    ...WAIT,
    check: async () =>
      (await host.sudo(`[ -f ${KUBERNETES_DIR}/kubelet.conf ] && echo yes || true`)).stdout.includes('yes')
        ? true
        : undefined,
    probe: () => kubeletProbe(host),
    onChange: logProgress(log, host, waitingFor),
  }).catch((err) => {
    throw new HostError(host.name, `${(err as Error).message}. Check: journalctl -u kubelet`, {
      step: 'TLS bootstrap',
    });
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
      if (run.access.via || !first?.failed) return [];
      return ctx.hosts.filter((h) => !h.failed && h.spec.controlPlane && h !== first).slice(0, 1);
    },
    async runHost(host, ctx) {
      const running = await host.sudo(
        `[ -f ${ETCD_MANIFEST} ] && [ -f ${KUBERNETES_DIR}/kubelet.conf ] && echo yes || true`,
        { step: 'inspect control plane' },
      );
      if (!running.stdout.includes('yes')) return;
      ctx.warn(`${run.first} is not available: reaching the cluster through ${host.name}`);
      run.access.useMaster(host, addressOf(run, host), ctx.log);
      if (host.dryRun) return;
      await awaitReadyz(run.access.api(host, 'API access'), host, `the API server on ${host.name}`, ctx.log).catch(
        (err) => {
          run.access.drop(host);
          throw err;
        },
      );
    },
  };
}

/** Cluster objects (RBAC, token, cluster-info, configs, addons), then mark the control plane. */
export function clusterObjectsPhase(run: ClusterRun): Phase {
  return {
    title: 'Cluster objects',
    select: viaMaster(run),
    async runHost(host, ctx) {
      if (host.dryRun) {
        for (const name of Object.keys(run.plan.objects)) host.changes.push(`apply ${name}`);
        return;
      }
      const api = run.access.api(host, 'cluster objects');
      for (const [name, objects] of Object.entries(run.plan.objects)) {
        for (const obj of objects as ObjectRef[]) {
          // Created once: re-applying would push the token's expiry forward, and re-encrypt the uploaded
          // certificates (a fresh nonce each time) on every run.
          const createOnce = name === '01-bootstrap-token' || name === '08-kubeadm-certs';
          if (createOnce && (await api.get(`/api/v1/namespaces/kube-system/secrets/${obj.metadata.name}`))) continue;
          const before = await api.get(objectPath(obj));
          // An apply that changes nothing leaves resourceVersion as it was.
          const after = await api.apply(obj);
          if (!before || before.metadata?.resourceVersion !== after?.metadata?.resourceVersion) {
            host.changes.push(
              `${before ? 'update' : 'create'} ${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`,
            );
          }
        }
      }
      // mark-control-plane: labels and taints once the kubelet has registered the node (not while the first master
      // is down and the API is reached through another one: its node may not exist then).
      if (host.spec.nodeName === run.first) await markControlPlane(run, host, run.first, ctx.log);
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
      const joined = await host.sudo(
        `[ -f ${KUBERNETES_DIR}/kubelet.conf ] && systemctl is-active kubelet >/dev/null && echo joined || true`,
        { step: 'inspect kubelet' },
      );
      const kubeletFiles = filesFor(run, host).filter((f) =>
        [KUBELET_CONFIG, KUBELET_FLAGS_ENV, KUBELET_DROPIN].includes(f.path),
      );
      if (joined.stdout.includes('joined')) {
        const changed = await host.ensureFiles(kubeletFiles);
        await ensureKubelet(host, changed);
        return;
      }
      if (host.dryRun) {
        host.changes.push(`join the cluster at ${run.plan.endpoint} (bootstrap token ${run.plan.token.id})`);
        return;
      }
      const api = run.access.api(host, 'join');
      // Discovery exactly as kubeadm does it: trust nothing until the token's signature and the CA pin check out.
      const anonymous = run.access.discoveryClient(host, { insecure: true });
      // The bootstrap signer adds the token's signature shortly after the token Secret is created.
      const info = await waitUntil({
        what: `cluster-info signed for token ${run.plan.token.id}`,
        ...WAIT,
        everyMs: 3000,
        check: async () => {
          const cm = await anonymous.get<ConfigMap>('/api/v1/namespaces/kube-public/configmaps/cluster-info');
          if (!cm?.data?.[`jws-kubeconfig-${run.plan.token.id}`]) throw new Error('no JWS signature for the token yet');
          return cm.data as Record<string, string>;
        },
      }).catch((err) => {
        throw new HostError(
          host.name,
          `${(err as Error).message}. Check the bootstrap signer: kube-controller-manager logs`,
          { step: 'discovery' },
        );
      });
      const discovered = verifyClusterInfo(info, run.plan.token, [run.plan.caCertHash]);
      const verified = run.access.discoveryClient(host, { caPem: discovered.caPem });
      const again = await verified.get<ConfigMap>('/api/v1/namespaces/kube-public/configmaps/cluster-info');
      if (again?.data?.kubeconfig !== info.kubeconfig)
        throw new HostError(host.name, 'cluster-info changed between the insecure and the verified fetch', {
          step: 'discovery',
        });
      ctx.log.write(
        host.name,
        `discovery: cluster-info verified with token ${run.plan.token.id} and CA pin ${run.plan.caCertHash}`,
      );

      const changed = await host.ensureFiles([
        { path: `${PKI_DIR}/ca.crt`, content: discovered.caPem, mode: 0o644 },
        {
          path: `${KUBERNETES_DIR}/bootstrap-kubelet.conf`,
          content: bootstrapKubeconfig(run.cfg, discovered.server, discovered.caPem, formatToken(run.plan.token)),
          mode: 0o600,
        },
        ...kubeletFiles,
      ]);
      await ensureKubelet(host, [...changed, KUBELET_CONFIG]);
      await awaitTlsBootstrap(host, ctx.log);
      const apiNode = await awaitNodeRegistered(api, host, node.name, ctx.log);
      if (apiNode.metadata.annotations?.[ANNOTATION_CRI_SOCKET] !== run.cfg.criSocket) {
        await api.patch(
          `/api/v1/nodes/${node.name}`,
          { metadata: { annotations: { [ANNOTATION_CRI_SOCKET]: run.cfg.criSocket } } },
          'merge',
        );
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
      const api = run.access.api(host, 'nodes Ready');
      // Progress is a node turning Ready or its Ready condition's message changing (CNI coming up, say).
      await waitUntil({
        what: `nodes ${names.join(', ')} to be Ready`,
        stallMs: timeoutMs,
        deadlineMs: timeoutMs,
        everyMs: 3000,
        check: async () => {
          const list = await api.get<List<Node>>('/api/v1/nodes');
          const byName = new Map((list?.items ?? []).map((n) => [n.metadata.name, n]));
          const notReady = names.filter((n) => readyCondition(byName.get(n))?.status !== 'True');
          if (notReady.length === 0) return true;
          const why = (n: string) =>
            byName.has(n) ? readyCondition(byName.get(n))?.message || 'no Ready condition yet' : 'not registered';
          throw new Error(`not Ready yet: ${notReady.map((n) => `${n} (${why(n)})`).join(', ')}`);
        },
        onChange: logProgress(ctx.log, host, 'nodes Ready'),
      }).catch((err) => {
        throw new HostError(host.name, (err as Error).message, { step: 'nodes Ready' });
      });
    },
  };
}
