import { HostError } from '../../errors/index.js';
import { waitUntil } from '../../util/wait.js';
import type { ClusterRun } from '../cluster/run.js';
import { logProgress, WAIT } from '../cluster/waits.js';
import type { Phase } from '../phase.js';

interface Rollout {
  metadata: { generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
  };
}

/** What is still rolling out, as kubectl rollout status would say it; undefined once done. */
export function rolloutPending(kind: 'Deployment' | 'DaemonSet', w: Rollout | undefined): string | undefined {
  if (!w) return 'not found';
  const s = w.status ?? {};
  if ((s.observedGeneration ?? 0) < (w.metadata.generation ?? 0)) return 'update not observed yet';
  if (kind === 'Deployment') {
    const want = w.spec?.replicas ?? 1;
    if ((s.updatedReplicas ?? 0) < want) return `${s.updatedReplicas ?? 0} of ${want} replicas updated`;
    if ((s.replicas ?? 0) > want) return `${(s.replicas ?? 0) - want} old replicas pending termination`;
    if ((s.availableReplicas ?? 0) < want) return `${s.availableReplicas ?? 0} of ${want} updated replicas available`;
    return undefined;
  }
  const want = s.desiredNumberScheduled ?? 0;
  if ((s.updatedNumberScheduled ?? 0) < want) return `${s.updatedNumberScheduled ?? 0} of ${want} pods updated`;
  if ((s.numberAvailable ?? 0) < want) return `${s.numberAvailable ?? 0} of ${want} updated pods available`;
  return undefined;
}

const ADDONS = [
  { kind: 'Deployment', path: '/apis/apps/v1/namespaces/kube-system/deployments/coredns' },
  { kind: 'DaemonSet', path: '/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy' },
] as const;

/**
 * Wait for CoreDNS and kube-proxy to finish rolling out at the target before any node is drained: draining while
 * old CoreDNS pods still sit on one node would take cluster DNS away (kubeadm does not wait; kprov does).
 */
export function addonsRolledOutPhase(run: ClusterRun): Phase {
  return {
    title: 'Addons rolled out',
    select: () => (run.access.via ? [run.access.via] : []),
    async runHost(host, ctx) {
      if (host.dryRun) return;
      const api = run.access.api(host, 'addon rollout');
      for (const { kind, path } of ADDONS) {
        const name = path.slice(path.lastIndexOf('/') + 1);
        const what = `${kind} ${name} to roll out`;
        await waitUntil({
          what,
          ...WAIT,
          check: async () => {
            const pending = rolloutPending(kind, await api.get<Rollout>(path));
            if (pending) throw new Error(pending);
            return true;
          },
          onChange: logProgress(ctx.log, host, what),
        }).catch((err) => {
          throw new HostError(host.name, (err as Error).message, { step: 'addon rollout' });
        });
      }
    },
  };
}
