import { KUBELET_CLIENT_CURRENT, KUBELET_CONF, KUBERNETES_DIR } from '../../kubeadm/constants.js';
import { finalizedKubeletConf } from '../../kubeadm/kubelet-finalize.js';
import type { Phase } from '../phase.js';
import type { ClusterRun } from './run.js';
import { awaitOnHost, ensureKubelet } from './waits.js';

const KUBELET_CONF_PATH = `${KUBERNETES_DIR}/${KUBELET_CONF}`;

/**
 * kubeadm's kubelet-finalize on the first master: once the kubelet has its rotating client certificate,
 * kubelet.conf refers to it instead of the certificate init embedded, which would expire after a year.
 * (The other nodes bootstrap with the token and refer to the rotating pair from the start.)
 */
export function kubeletFinalizePhase(run: ClusterRun): Phase {
  return {
    title: 'Kubelet certificate rotation',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && h.spec.nodeName === run.first),
    async runHost(host, ctx) {
      const current = await host.conn.readFile(KUBELET_CONF_PATH, { sudo: true });
      const finalized = current && finalizedKubeletConf(current.toString('utf8'));
      if (!finalized) return;
      if (host.dryRun) {
        host.plan(`point ${KUBELET_CONF_PATH} at the kubelet's rotating certificate ${KUBELET_CLIENT_CURRENT}`);
        return;
      }
      await awaitOnHost(host, ctx.log, {
        what: `the kubelet's rotating client certificate (${KUBELET_CLIENT_CURRENT})`,
        step: 'kubelet finalize',
        check: async () =>
          (await host.sudo(`[ -s ${KUBELET_CLIENT_CURRENT} ] && echo yes || true`)).stdout.includes('yes') || undefined,
      });
      const changed = await host.ensureFiles([{ path: KUBELET_CONF_PATH, content: finalized, mode: 0o600 }]);
      await ensureKubelet(host, changed);
    },
  };
}
