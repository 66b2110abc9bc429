import { objectPath } from '../../kube/client.js';
import type { ObjectRef } from '../../kube/types.js';
import type { Phase } from '../phase.js';
import { viaMaster, type ClusterRun } from './run.js';
import { markControlPlane } from './waits.js';

/** Cluster objects (RBAC, token, cluster-info, configs, addons), then mark the control plane. */
export function clusterObjectsPhase(run: ClusterRun): Phase {
  return {
    title: 'Cluster objects',
    select: viaMaster(run),
    async runHost(host, ctx) {
      if (host.dryRun) {
        for (const name of Object.keys(run.plan.objects)) host.plan(`apply ${name}`);
        return;
      }
      const api = run.access.api(host, 'cluster objects');
      for (const [name, objects] of Object.entries(run.plan.objects)) {
        for (const obj of objects as ObjectRef[]) {
          // What the plan marks create-once (the token, the uploaded certificates) is left alone once it exists.
          const before = await api.get(objectPath(obj));
          if (before && run.plan.createOnce.includes(name)) continue;
          // An apply that changes nothing leaves resourceVersion as it was.
          const after = await api.apply(obj);
          if (!before || before.metadata?.resourceVersion !== after?.metadata?.resourceVersion) {
            host.changed(
              `${before ? 'update' : 'create'} ${obj.kind} ` +
                `${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`,
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
