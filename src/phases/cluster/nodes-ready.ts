import { HostError } from '../../errors/index.js';
import { readyCondition, type List, type Node } from '../../kube/types.js';
import type { Phase } from '../phase.js';
import { waitUntil } from '../../util/wait.js';
import { viaMaster, type ClusterRun } from './run.js';
import { logProgress } from './waits.js';

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
