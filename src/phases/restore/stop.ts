import { HELD_MANIFESTS, STOP_ORDER } from '../../backup/restore-plan.js';
import { HostError } from '../../errors/index.js';
import { runningContainersScript } from '../cluster/static-pods.js';
import { awaitOnHost } from '../cluster/waits.js';
import type { Phase } from '../phase.js';
import { heldPath, livePath, manifestPlace } from './held.js';

/**
 * Upstream's first restore step: stop the control plane on every master. Each static pod manifest moves out of
 * the kubelet's folder (kept under /etc/kubernetes/tmp), then kprov waits until none of their containers runs.
 */
export const stopControlPlanePhase: Phase = {
  title: 'Stop the control plane',
  select: (ctx) => ctx.hosts.filter((h) => !h.failed && h.spec.controlPlane),
  async runHost(host, ctx) {
    for (const component of STOP_ORDER) {
      const place = await manifestPlace(host, component);
      if (place === 'missing') {
        throw new HostError(host.name, `no manifest for ${component} in the manifests folder or ${HELD_MANIFESTS}`, {
          step: 'stop the control plane',
        });
      }
      if (place === 'held') continue;
      await host.change(`stop ${component} (manifest held in ${HELD_MANIFESTS})`, () =>
        host.sudo(
          `mkdir -p ${HELD_MANIFESTS} && chmod 700 ${HELD_MANIFESTS} && ` +
            `mv ${livePath(component)} ${heldPath(component)}`,
          { step: `stop ${component}` },
        ),
      );
    }
    if (host.dryRun) return;
    await awaitOnHost(host, ctx.log, {
      what: 'the control-plane containers to stop',
      step: 'stop the control plane',
      check: async () => {
        const script = STOP_ORDER.map((c) => `for id in $(${runningContainersScript(c)}); do echo ${c}; done`).join(
          '; ',
        );
        const running = (await host.sudo(script, { step: 'inspect containers' })).stdout.split('\n').filter(Boolean);
        if (running.length > 0) throw new Error(`still running: ${[...new Set(running)].join(', ')}`);
        return true;
      },
    });
  },
};
