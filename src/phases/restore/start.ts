import { START_AFTER_ETCD } from '../../backup/restore-plan.js';
import { answersHealthCheck } from '../cluster/static-pods.js';
import { awaitOnHost, untilTrue } from '../cluster/waits.js';
import type { Phase } from '../phase.js';
import { heldPath, livePath, manifestPlace } from './held.js';

/**
 * Put held manifests back and wait until each component answers its health check. etcd is started on every
 * master in one phase (a member alone has no quorum, so each waits for the others), the rest in the next.
 */
function startPhase(title: string, components: readonly string[]): Phase {
  return {
    title,
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && h.spec.controlPlane),
    async runHost(host, ctx) {
      for (const component of components) {
        // In a dry run the stop step only said it would hold the manifest: it is still live, and would be started.
        const place = await manifestPlace(host, component);
        if (place === 'held' || (host.dryRun && place === 'live')) {
          await host.change(`start ${component}`, () =>
            host.sudo(`mv ${heldPath(component)} ${livePath(component)}`, { step: `start ${component}` }),
          );
        }
      }
      if (host.dryRun) return;
      for (const component of components) {
        await awaitOnHost(host, ctx.log, {
          what: `${component} to answer its health check`,
          step: `start ${component}`,
          check: untilTrue(() => answersHealthCheck(host, component)),
        });
      }
    },
  };
}

export const startEtcdPhase = startPhase('Start etcd', ['etcd']);
export const startControlPlanePhase = startPhase('Start the control plane', START_AFTER_ETCD);
