import type { Resolved } from '../config/settings.js';
import { clusterStateDir } from './init.js';
import type { Host } from '../host/host.js';
import { ClusterAccess, savedCredentials } from '../kube/cluster-access.js';
import { clientUrlHost, type EtcdClient } from '../kube/etcd.js';
import { type List, type Node, readyCondition } from '../kube/types.js';
import { nodeConfigFrom } from '../kubeadm/config.js';
import { readTokenSecret } from '../kubeadm/token.js';
import { connectPhase } from '../phases/connect.js';
import type { Phase, RunContext } from '../phases/phase.js';
import type { ClusterStatus, EtcdStatus, HostStatus, LeaseStatus, TokenStatus } from '../status/model.js';
import { HOST_PROBE_SCRIPT, type HostProbe, parseHostProbe } from '../status/probe.js';
import { runOnHosts, type RunOptions } from './session.js';

interface PodJson {
  metadata: { name: string };
  status?: { conditions?: { type: string; status: string }[] };
}
interface LeaseJson {
  spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number; leaseTransitions?: number };
}
interface SecretJson {
  data?: Record<string, string>;
}

const LEASES = ['kube-controller-manager', 'kube-scheduler'];

/** Each host as the inventory sees it, before anything is known: unreachable until a probe says otherwise. */
function hostSkeleton(resolved: Resolved): Map<string, HostStatus> {
  return new Map(
    resolved.hosts.map((h) => [
      h.name,
      {
        name: h.name,
        address: h.address,
        roles: [...(h.controlPlane ? (['control-plane'] as const) : []), ...(h.worker ? (['worker'] as const) : [])],
        reachable: false,
      },
    ]),
  );
}

async function nodesLeasesTokens(access: ClusterAccess, via: Host) {
  const api = access.api(via, 'status');
  const nodes = (await api.get<List<Node>>('/api/v1/nodes'))?.items ?? [];
  const leases: LeaseStatus[] = [];
  for (const name of LEASES) {
    const lease = await api.get<LeaseJson>(`/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${name}`);
    leases.push({
      name,
      holder: lease?.spec?.holderIdentity,
      renewTime: lease?.spec?.renewTime,
      leaseDurationSeconds: lease?.spec?.leaseDurationSeconds,
      transitions: lease?.spec?.leaseTransitions,
    });
  }
  const secrets = await api.get<List<SecretJson>>(
    '/api/v1/namespaces/kube-system/secrets?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken',
  );
  const tokens: TokenStatus[] = (secrets?.items ?? []).map((s) => {
    const t = readTokenSecret(s);
    return { id: t.id || '?', expiration: t.expiration, description: t.description, usages: t.usages };
  });
  const pods = (await api.get<List<PodJson>>('/api/v1/namespaces/kube-system/pods?labelSelector=tier%3Dcontrol-plane'))
    ?.items;
  return {
    nodes: nodes.map((n) => ({
      name: n.metadata.name,
      ready: readyCondition(n)?.status === 'True',
      reason: readyCondition(n)?.status === 'True' ? undefined : readyCondition(n)?.message,
      kubeletVersion: n.status?.nodeInfo?.kubeletVersion,
      runtimeVersion: n.status?.nodeInfo?.containerRuntimeVersion,
      unschedulable: !!n.spec?.unschedulable,
    })),
    leases,
    tokens,
    /** Mirror pod readiness by pod name (component-node). */
    podReady: new Map(
      (pods ?? []).map((p) => [
        p.metadata.name,
        p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
      ]),
    ),
  };
}

async function etcdPicture(etcd: EtcdClient): Promise<EtcdStatus> {
  const members = await etcd.members();
  const picture: EtcdStatus = { reached: true, members: [], alarms: [] };
  for (const m of members) {
    const url = m.clientURLs?.[0];
    const entry = {
      id: m.ID,
      name: m.name ?? '',
      peerUrl: m.peerURLs?.[0] ?? '',
      learner: !!m.isLearner,
      answered: false,
    };
    if (!url) {
      picture.members.push({ ...entry, error: 'not started' });
      continue;
    }
    try {
      const s = await etcd.at(clientUrlHost(url)).withTimeout(5000).status(0);
      picture.leaderId ??= s.leader;
      picture.members.push({
        ...entry,
        answered: true,
        leader: s.leader === m.ID,
        raftTerm: s.raftTerm,
        raftIndex: s.raftIndex,
        dbSizeBytes: s.dbSize === undefined ? undefined : Number(s.dbSize),
        errors: s.errors,
      });
    } catch (err) {
      picture.members.push({ ...entry, error: (err as Error).message });
    }
  }
  picture.alarms = (await etcd.alarms()).map((a) => ({ memberId: a.memberID ?? '?', alarm: a.alarm ?? '?' }));
  return picture;
}

/** One read-only script per host (services, control-plane containers, certificates), handed to onProbe. */
export function hostProbePhase(onProbe: (host: Host, probe: HostProbe) => Promise<void> | void): Phase {
  return {
    title: 'Inspect hosts',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed),
    async runHost(host) {
      const r = await host.sudo(HOST_PROBE_SCRIPT, { step: 'inspect', timeoutMs: 60_000 });
      await onProbe(host, parseHostProbe(r.stdout));
    },
  };
}

/**
 * Everything `kprov status` shows, read from the hosts (one read-only script each), the API and etcd (through
 * the first master whose API server answers). Never changes a host.
 */
export async function collectStatus(resolved: Resolved, opts: RunOptions): Promise<ClusterStatus> {
  const state = clusterStateDir(resolved);
  const hosts = hostSkeleton(resolved);
  const address = (h: Host) => nodeConfigFrom(h.spec).advertiseAddress;
  const status: ClusterStatus = { time: new Date().toISOString(), hosts: [] };
  let podReady = new Map<string, boolean>();

  const probe = hostProbePhase(async (host, p) => {
    const entry = hosts.get(host.name)!;
    Object.assign(entry, {
      reachable: true,
      kubelet: p.kubelet,
      containerd: p.containerd,
      certificates: p.certificates,
    });
    if (host.spec.controlPlane) {
      entry.staticPods = p.staticPods;
      const api = new ClusterAccess(savedCredentials(state, host.spec.nodeName));
      if (api.canAuthenticate) {
        const r = await api
          .apiServerOn(host, address(host))
          .request('GET', '/readyz', undefined, undefined, { retryMs: 0 })
          .catch((err: Error) => ({ status: 0, text: err.message }));
        entry.readyz = { status: r.status, detail: r.status === 200 ? undefined : r.text.trim().slice(0, 200) };
      }
    }
  });

  const cluster: Phase = {
    title: 'Cluster',
    // The first master whose API server answers carries the cluster-wide questions.
    select: (ctx: RunContext) => {
      const via = ctx.hosts.find((h) => !h.failed && h.spec.controlPlane && hosts.get(h.name)?.readyz?.status === 200);
      if (!via) status.apiError = 'no control-plane host answers on /readyz';
      return via ? [via] : [];
    },
    async runHost(host, ctx) {
      const access = new ClusterAccess(savedCredentials(state, host.spec.nodeName));
      access.useMaster(host, address(host), ctx.log);
      try {
        const { podReady: ready, ...api } = await nodesLeasesTokens(access, host);
        status.api = { via: host.name, ...api };
        podReady = ready;
      } catch (err) {
        status.apiError = (err as Error).message;
      }
      status.etcd = access.hasEtcd
        ? await etcdPicture(access.etcd(host, 'status')).catch((err: Error) => ({
            reached: false,
            error: err.message,
            members: [],
            alarms: [],
          }))
        : { reached: false, error: `no etcd client certificate for ${host.name} in ${state}`, members: [], alarms: [] };
    },
  };

  const outcome = await runOnHosts(resolved, [connectPhase, probe, cluster], { ...opts, quiet: true }, 'status');
  for (const h of outcome.ctx.hosts) {
    const entry = hosts.get(h.name)!;
    if (h.failed) Object.assign(entry, { reachable: false, error: h.failed.message });
    for (const pod of entry.staticPods ?? []) {
      const ready = podReady.get(`${pod.name}-${h.spec.nodeName}`);
      if (ready !== undefined) pod.ready = ready;
    }
  }
  status.hosts = [...hosts.values()];
  // The picture's time is when its last answer came in (lease renewals are compared with it).
  status.time = new Date().toISOString();
  return status;
}
