import type { KubeClient } from './client.js';
import type { List, Pod } from './types.js';
import { realClock, waitUntil, type Clock } from '../util/wait.js';

/** A drain that could not finish: which pods stayed, and what the API said about them (PodDisruptionBudgets). */
export class DrainBlocked extends Error {
  constructor(
    readonly node: string,
    readonly blocking: string[],
    detail: string,
  ) {
    super(`cannot drain ${node}: ${blocking.length} pod(s) still there (${blocking.join(', ')}); ${detail}`);
    this.name = 'DrainBlocked';
  }
}

export interface DrainOptions {
  /** How long evictions may be refused (a PodDisruptionBudget at its limit) before giving up. */
  timeoutMs: number;
  onProgress?: (message: string) => void;
  clock?: Clock;
}

const podName = (p: Pod) => `${p.metadata.namespace}/${p.metadata.name}`;

/** Pods a drain must move: not DaemonSet pods (they stay by design) and not static pods' mirrors. */
export function evictable(pods: Pod[]): Pod[] {
  return pods.filter(
    (p) =>
      !p.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet') &&
      !p.metadata.annotations?.['kubernetes.io/config.mirror'] &&
      p.status?.phase !== 'Succeeded' &&
      p.status?.phase !== 'Failed',
  );
}

/** Mark the node unschedulable; true when it was not already. */
export async function cordon(api: KubeClient, node: string): Promise<boolean> {
  const current = await api.get<{ spec?: { unschedulable?: boolean } }>(`/api/v1/nodes/${node}`);
  if (current?.spec?.unschedulable) return false;
  await api.patch(`/api/v1/nodes/${node}`, { spec: { unschedulable: true } }, 'merge');
  return true;
}

export async function uncordon(api: KubeClient, node: string): Promise<void> {
  await api.patch(`/api/v1/nodes/${node}`, { spec: { unschedulable: false } }, 'merge');
}

/** Replica sets and stateful sets: the owners whose pods a drain moves one at a time. */
const PACED: Record<string, string> = { ReplicaSet: 'replicasets', StatefulSet: 'statefulsets' };
/** How long a drain holds back a pod for its workload to be whole again before it evicts anyway (as kubectl). */
const PACE_LIMIT_MS = 60_000;

const ownerOf = (p: Pod) => p.metadata.ownerReferences?.find((o) => o.kind in PACED);

/** Whether every replica of the pod's workload is ready (so one more may go). */
async function workloadWhole(api: KubeClient, p: Pod): Promise<boolean> {
  const owner = ownerOf(p);
  if (!owner) return true;
  const w = await api.get<{ spec?: { replicas?: number }; status?: { readyReplicas?: number } }>(
    `/apis/apps/v1/namespaces/${p.metadata.namespace}/${PACED[owner.kind]}/${owner.name}`,
  );
  return (w?.status?.readyReplicas ?? 0) >= (w?.spec?.replicas ?? 0);
}

/**
 * kubectl drain: cordon, then evict every evictable pod through the Eviction API, which honours
 * PodDisruptionBudgets (429 while a budget is at its limit: asked again), until none is left on the node.
 * Better than kubectl for workloads without a budget: pods of one ReplicaSet or StatefulSet leave one at a time,
 * the next only once the workload is whole again (two CoreDNS replicas on one master would otherwise both go at
 * once and take cluster DNS down), for at most a minute each.
 * Waits while pods keep leaving; fails with DrainBlocked naming the pods that stay and what blocked them.
 */
export async function drain(api: KubeClient, node: string, opts: DrainOptions): Promise<void> {
  await cordon(api, node);
  const clock = opts.clock ?? realClock;
  const refusals = new Map<string, string>();
  const heldSince = new Map<string, number>();
  await waitUntil({
    what: `node ${node} to be drained`,
    stallMs: opts.timeoutMs,
    deadlineMs: opts.timeoutMs * 4,
    everyMs: 2000,
    clock: opts.clock,
    onChange: (o) => opts.onProgress?.(o),
    check: async () => {
      const pods = evictable(
        (await api.get<List<Pod>>(`/api/v1/pods?fieldSelector=spec.nodeName=${node}`))?.items ?? [],
      );
      if (pods.length === 0) return true;
      const leaving = new Set(pods.filter((p) => p.metadata.deletionTimestamp).map((p) => ownerOf(p)?.name));
      const pacedThisRound = new Set<string>();
      for (const p of pods) {
        if (p.metadata.deletionTimestamp) continue;
        const owner = ownerOf(p);
        if (owner) {
          // One pod of a workload per round, and none while another of its pods is still leaving or it is short.
          const since = heldSince.get(owner.name) ?? clock.now();
          const overdue = clock.now() - since > PACE_LIMIT_MS;
          if (
            !overdue &&
            (leaving.has(owner.name) || pacedThisRound.has(owner.name) || !(await workloadWhole(api, p)))
          ) {
            heldSince.set(owner.name, since);
            continue;
          }
          heldSince.delete(owner.name);
          pacedThisRound.add(owner.name);
        }
        const { namespace, name } = p.metadata;
        const path = `/api/v1/namespaces/${namespace}/pods/${name}/eviction`;
        const body = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } };
        // 429 is a budget at its limit: no retry inside the call, the next round asks again.
        const r = await api.request('POST', path, body, undefined, { retryMs: 0 });
        if (r.status === 429 || r.status >= 500)
          refusals.set(podName(p), (r.body as { message?: string })?.message ?? r.text);
        else refusals.delete(podName(p));
      }
      throw new Error(`${pods.length} pod(s) left: ${pods.map(podName).join(', ')}`);
    },
  }).catch(async (err) => {
    const left = evictable((await api.get<List<Pod>>(`/api/v1/pods?fieldSelector=spec.nodeName=${node}`))?.items ?? []);
    const why = [...refusals].map(([pod, message]) => `${pod}: ${message}`).join('; ');
    throw new DrainBlocked(node, left.map(podName), why || (err as Error).message);
  });
}
