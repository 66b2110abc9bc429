import { HostError } from '../../errors/index.js';
import type { Host } from '../../host/host.js';
import { kubeletProbe } from '../../host/probes.js';
import type { RunLog } from '../../log/logger.js';
import { KUBERNETES_DIR, MANIFESTS_DIR } from '../../kubeadm/constants.js';
import { initialClusterInManifest, peerUrlOf } from '../../kubeadm/etcd-members.js';
import { etcdManifest, toYaml } from '../../kubeadm/manifests.js';
import { CONTROL_PLANE_ORDER, type ControlPlaneComponent } from '../../kubeadm/upgrade.js';
import { shq } from '../../ssh/quote.js';
import { serialQueue } from '../../util/serial.js';
import { waitUntil } from '../../util/wait.js';
import { renewedFiles } from '../../kubeadm/renew.js';
import { filesFor, type ClusterRun } from '../cluster/run.js';
import {
  answersHealthCheck,
  markPendingRestarts,
  pendingRestarts,
  restartControlPlane,
  returnHeldManifests,
} from '../cluster/static-pods.js';
import { logProgress, WAIT } from '../cluster/waits.js';
import type { Phase } from '../phase.js';

const manifestPath = (c: ControlPlaneComponent) => `${MANIFESTS_DIR}/${c}.yaml`;

/** Shell: "<image>" for each running container of a component (containerd's own client; no crictl). */
export function runningImagesScript(component: string): string {
  const filter = shq(`labels."io.kubernetes.container.name"==${component}`);
  return (
    'tasks=$(ctr -n k8s.io tasks ls 2>/dev/null); ' +
    `ctr -n k8s.io containers ls ${filter} 2>/dev/null | tail -n +2 | while read -r id image rest; do ` +
    'echo "$tasks" | awk -v id="$id" -v image="$image" \'$1 == id && $3 == "RUNNING" {print image}\'; done; true'
  );
}

/** Whether the component on this master runs `image` and answers its health endpoint. */
async function serving(host: Host, component: ControlPlaneComponent, image: string): Promise<string | true> {
  const images = (await host.sudo(runningImagesScript(component), { step: `inspect ${component}` })).stdout
    .split('\n')
    .filter(Boolean);
  if (!images.includes(image)) return `runs ${images.join(', ') || 'nothing'} (want ${image})`;
  return answersHealthCheck(host, component);
}

async function awaitServing(
  host: Host,
  component: ControlPlaneComponent,
  image: string,
  log: RunLog,
  timeout?: { stallMs: number; deadlineMs: number },
) {
  const what = `${component} ${image.slice(image.lastIndexOf(':') + 1)} to run and serve`;
  await waitUntil({
    what,
    ...WAIT,
    ...timeout,
    check: async () => {
      const s = await serving(host, component, image);
      if (s !== true) throw new Error(s);
      return true;
    },
    probe: () => kubeletProbe(host),
    onChange: logProgress(log, host, what),
  });
}

const imageIn = (manifest: string) => /^\s+image: (\S+)$/m.exec(manifest)?.[1] ?? '';

/**
 * Replace one static pod's manifest and wait until the kubelet runs the new image and it serves. The old manifest
 * is kept under /etc/kubernetes/tmp (as kubeadm does); when the new one does not come up it is put back, the old
 * component waited for, and the upgrade stops on this host saying why.
 */
async function replaceStaticPod(
  host: Host,
  component: ControlPlaneComponent,
  content: string,
  log: RunLog,
): Promise<boolean> {
  const path = manifestPath(component);
  const current = (await host.sudo(`cat ${path} 2>/dev/null || true`, { step: `read ${component}` })).stdout;
  if (current === content) return false;
  const image = imageIn(content);
  await host.change(`upgrade ${component} to ${image}`, async () => {
    const backup = `${KUBERNETES_DIR}/tmp/kprov-backup-manifests`;
    await host.sudo(`mkdir -p ${backup} && chmod 700 ${KUBERNETES_DIR}/tmp ${backup} && cp -p ${path} ${backup}/`, {
      step: `back up ${component}`,
    });
    await host.ensureFiles([{ path, content, mode: 0o600, dirMode: 0o700 }]);
    try {
      await awaitServing(host, component, image, log);
    } catch (err) {
      const why = (err as Error).message;
      await host.sudo(`cp -p ${backup}/${component}.yaml ${path}`, { step: `roll back ${component}` });
      await awaitServing(host, component, imageIn(current), log).catch(() => undefined);
      throw new HostError(
        host.name,
        `${component} ${image} did not come up (${why}); rolled back to the old manifest`,
        {
          step: `upgrade ${component}`,
        },
      );
    }
  });
  return true;
}

/**
 * kubeadm upgrade apply / upgrade node, control-plane part: one master at a time, its renewed certificates first,
 * then etcd (when its version changes), the API server, controller-manager and scheduler, each waited for before
 * the next. A component whose manifest stays but whose certificates changed is restarted to read them.
 */
export function controlPlaneUpgradePhase(run: ClusterRun, renew: boolean): Phase {
  const oneAtATime = serialQueue();
  return {
    title: 'Upgrade control plane',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && h.spec.controlPlane),
    runHost: (host, ctx) =>
      oneAtATime(async () => {
        const node = run.nodes[host.spec.nodeName];
        const planned = filesFor(run, host);
        if (!host.dryRun) await returnHeldManifests(host, ctx.log);
        // Restarts an interrupted run owed (its certificates were installed, not yet read) are done now.
        const pending = host.dryRun ? [] : await pendingRestarts(host);
        if (renew && !host.dryRun) await markPendingRestarts(host, [...CONTROL_PLANE_ORDER]);
        const certs = renew ? await host.ensureFiles(renewedFiles(planned)) : [];
        const mustRestart: string[] = certs.length > 0 ? [...CONTROL_PLANE_ORDER] : pending;
        const current = (await host.sudo(`cat ${manifestPath('etcd')}`, { step: 'read etcd manifest' })).stdout;
        // A member that joined keeps the --initial-cluster it joined with (etcd ignores it once it has data).
        const joined = /--initial-cluster-state=existing/.test(current);
        const initialCluster = initialClusterInManifest(current) ?? `${node.name}=${peerUrlOf(node.advertiseAddress)}`;
        const unchanged: string[] = [];
        for (const component of CONTROL_PLANE_ORDER) {
          const content =
            component === 'etcd'
              ? toYaml(etcdManifest(run.cfg, node, joined ? { initialCluster } : undefined))
              : planned.find((f) => f.path === manifestPath(component))!.content.toString();
          const replaced = await replaceStaticPod(host, component, content, ctx.log);
          if (!replaced && mustRestart.includes(component)) unchanged.push(component);
        }
        // A component whose manifest stayed but whose certificates changed is restarted to read them.
        await restartControlPlane(host, unchanged, ctx.log);
      }),
  };
}
