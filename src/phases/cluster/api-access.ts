import { ETCD_MANIFEST, KUBERNETES_DIR } from '../../kubeadm/constants.js';
import type { Phase } from '../phase.js';
import { addressOf, type ClusterRun } from './run.js';
import { awaitReadyz } from './waits.js';

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
