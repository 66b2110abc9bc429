import { HostError } from '../../errors/index.js';
import { ETCD_MANIFEST, KUBELET_CONF, KUBERNETES_DIR } from '../../kubeadm/constants.js';

const KUBELET_CONF_PATH = `${KUBERNETES_DIR}/${KUBELET_CONF}`;
import type { Host } from '../../host/host.js';
import type { Phase, RunContext } from '../phase.js';
import { addressOf, firstMaster, filesFor, type ClusterRun } from './run.js';
import { awaitReadyz, ensureKubelet } from './waits.js';

/**
 * The first master of the inventory is where kprov runs init. If it has no etcd yet but another master does
 * (say the first one was reset, or the inventory was reordered), init would start a second, separate cluster.
 */
const hasEtcd = async (h: Host) =>
  (await h.sudo(`[ -f ${ETCD_MANIFEST} ] && echo yes || true`, { step: 'inspect control plane' })).stdout.includes(
    'yes',
  );

async function refuseSecondCluster(host: Host, ctx: RunContext): Promise<void> {
  // Hosts that failed an earlier step but are connected count too (one with another cluster's CA, say).
  const others = ctx.hosts.filter((h) => h.facts && h.spec.controlPlane && h !== host);
  const running = (
    await Promise.all(others.map(async (h) => ((await hasEtcd(h).catch(() => false)) ? h.name : undefined)))
  ).filter(Boolean);
  const unknown = ctx.hosts.filter((h) => !h.facts && h.spec.controlPlane && h !== host).map((h) => h.name);
  if (running.length === 0 && unknown.length > 0)
    ctx.warn(
      `${host.name}: starting a new cluster while ${unknown.join(', ')} cannot be reached: ` +
        'make sure they do not run another one',
    );
  if (running.length > 0) {
    throw new HostError(
      host.name,
      `${running.join(', ')} already run${running.length === 1 ? 's' : ''} the control plane ` +
        `but ${host.name}, the first master of the inventory, does not: ` +
        'initializing it would start a second, separate cluster. ' +
        `List a master that runs the control plane first, and ${host.name} joins it`,
      { step: 'init' },
    );
  }
}

/** kubeadm init on the first master: its files, the kubelet, and a healthy API server. */
export function controlPlanePhase(run: ClusterRun): Phase {
  return {
    title: 'Control plane (init)',
    select: firstMaster(run),
    async runHost(host, ctx) {
      run.newCluster = !(await hasEtcd(host));
      if (run.newCluster) await refuseSecondCluster(host, ctx);
      // After kubelet-finalize kubelet.conf refers to the kubelet's own rotating pair: never put the embedded one back.
      const finalized = await host.sudo(
        `[ -f ${KUBELET_CONF_PATH} ] && ! grep -q client-certificate-data ${KUBELET_CONF_PATH} && echo yes || true`,
        { step: 'inspect kubelet.conf' },
      );
      const files = filesFor(run, host).filter(
        (f) => !(f.path === KUBELET_CONF_PATH && finalized.stdout.includes('yes')),
      );
      const changed = await host.ensureFiles(files);
      await ensureKubelet(host, changed);
      run.access.useMaster(host, addressOf(run, host), ctx.log);
      if (host.dryRun) return;
      await awaitReadyz(run.access.api(host, 'init'), host, 'the API server', ctx.log);
    },
  };
}
