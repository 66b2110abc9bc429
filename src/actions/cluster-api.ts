import type { Resolved } from '../config/settings.js';
import { UserError } from '../errors/index.js';
import type { Host } from '../host/host.js';
import type { KubeClient } from '../kube/client.js';
import { ClusterAccess, savedCredentials } from '../kube/cluster-access.js';
import { nodeConfigFrom } from '../kubeadm/config.js';
import { connectPhase } from '../phases/connect.js';
import type { Phase } from '../phases/phase.js';
import { clusterStateDir } from './init.js';
import { runOnHosts, type RunOptions } from './session.js';

/**
 * Run one API task on a running cluster from the operator's saved state: connect to the masters, then try them
 * in inventory order until one's SSH connection carries the task to its API server (failing over past a master
 * that is down). The outcome reports every master that could not be used.
 */
export async function onClusterApi<T>(
  resolved: Resolved,
  opts: RunOptions,
  command: string,
  task: (api: KubeClient, via: Host) => Promise<T>,
): Promise<{ result?: T; outcome: Awaited<ReturnType<typeof runOnHosts>> }> {
  const state = clusterStateDir(resolved);
  let result: T | undefined;
  let done = false;
  let refused: UserError | undefined;
  const apiPhase: Phase = {
    title: 'Cluster API',
    async runAll(hosts, ctx) {
      const tried = new Map<string, string>();
      for (const host of hosts.filter((h) => !h.failed)) {
        const access = new ClusterAccess(savedCredentials(state, host.spec.nodeName));
        if (!access.canAuthenticate) {
          tried.set(host.name, `no admin kubeconfig saved in ${state}: run kprov init first`);
          break;
        }
        access.useMaster(host, nodeConfigFrom(host.spec).advertiseAddress, ctx.log);
        try {
          result = await task(access.api(host, command), host);
          done = true;
          return new Map();
        } catch (err) {
          // The cluster answered and said no (a token that does not exist): no other master would say otherwise.
          if (err instanceof UserError) {
            refused = err;
            return new Map();
          }
          tried.set(host.name, (err as Error).message);
        }
      }
      return done ? new Map() : tried;
    },
  };
  const masters = resolved.hosts.filter((h) => h.controlPlane).map((h) => h.name);
  const outcome = await runOnHosts(
    resolved,
    [connectPhase, apiPhase],
    { ...opts, only: masters, quiet: true },
    command,
  );
  if (refused) throw refused;
  return { result: done ? result : undefined, outcome };
}
