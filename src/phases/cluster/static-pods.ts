import type { Host } from '../../host/host.js';
import type { RunLog } from '../../log/logger.js';
import { shq } from '../../ssh/quote.js';
import { KUBERNETES_DIR, MANIFESTS_DIR } from '../../kubeadm/constants.js';
import { CONTROL_PLANE_ORDER } from '../../kubeadm/upgrade.js';
import { awaitOnHost, untilTrue } from './waits.js';

/** Shell: the IDs of the component's containers whose task is RUNNING (containerd's own client; no crictl). */
export function runningContainersScript(component: string): string {
  const filter = shq(`labels."io.kubernetes.container.name"==${component}`);
  return (
    'tasks=$(ctr -n k8s.io tasks ls 2>/dev/null); ' +
    `for id in $(ctr -n k8s.io containers ls -q ${filter} 2>/dev/null); do ` +
    'echo "$tasks" | awk -v id="$id" \'$1 == id && $3 == "RUNNING" {print $1}\'; done; true'
  );
}

async function runningContainers(host: Host, component: string): Promise<string[]> {
  const r = await host.sudo(runningContainersScript(component), { step: `inspect ${component}` });
  return r.stdout.split('\n').filter(Boolean);
}

/** Manifests held out of the kubelet's folder while their pod restarts (kubeadm keeps its own under tmp too). */
export const RESTART_HOLD = `${KUBERNETES_DIR}/tmp/kprov-restart-manifests`;
/** Components whose new certificates are installed but not read yet: a re-run restarts them even if no file changes. */
export const PENDING_RESTARTS = '/var/lib/kprov/pending-restarts';

const live = (component: string) => `${MANIFESTS_DIR}/${component}.yaml`;
const held = (component: string) => `${RESTART_HOLD}/${component}.yaml`;

/** Components an interrupted run left to restart on this host. */
export async function pendingRestarts(host: Host): Promise<string[]> {
  const r = await host.sudo(`cat ${PENDING_RESTARTS} 2>/dev/null || true`, { step: 'read pending restarts' });
  return r.stdout.split('\n').filter((c) => (CONTROL_PLANE_ORDER as readonly string[]).includes(c));
}

/** Record that these components must restart (before the files they will read are installed). */
export async function markPendingRestarts(host: Host, components: string[]): Promise<void> {
  const all = [...new Set([...(await pendingRestarts(host)), ...components])];
  await host.sudo(`mkdir -p /var/lib/kprov && printf '%s\\n' ${all.map(shq).join(' ')} > ${PENDING_RESTARTS}`, {
    step: 'record pending restarts',
  });
}

/**
 * A manifest an interrupted restart left held goes back to the kubelet, so no component stays stopped because
 * kprov was killed at the wrong moment.
 */
export async function returnHeldManifests(host: Host, log: RunLog): Promise<void> {
  for (const component of CONTROL_PLANE_ORDER) {
    const r = await host.sudo(`[ -f ${held(component)} ] && echo held || true`, { step: 'inspect manifests' });
    if (!r.stdout.includes('held')) continue;
    log.write(host.name, `${component}'s manifest was left held by an interrupted run: putting it back`);
    await host.sudo(
      `[ -f ${live(component)} ] && rm -f ${held(component)} || mv ${held(component)} ${live(component)}`,
      {
        step: `start ${component}`,
      },
    );
  }
}

async function awaitContainers(
  host: Host,
  component: string,
  log: RunLog,
  what: string,
  done: (ids: string[]) => Promise<string | true>,
) {
  await awaitOnHost(host, log, {
    what,
    step: `restart ${component}`,
    check: untilTrue(async () => done(await runningContainers(host, component))),
  });
}

/** Take a static pod's manifest out of the kubelet's folder and wait until its containers have stopped. */
async function holdStaticPod(host: Host, component: string, log: RunLog): Promise<void> {
  await host.sudo(`mkdir -p ${RESTART_HOLD} && chmod 700 ${RESTART_HOLD} && mv ${live(component)} ${held(component)}`, {
    step: `stop ${component}`,
  });
  await awaitContainers(host, component, log, `${component} to stop`, async (ids) =>
    ids.length === 0 ? true : `${ids.length} container(s) still running`,
  );
}

/** Put a held manifest back and wait until a container runs and the component answers its health check. */
async function releaseStaticPod(host: Host, component: string, log: RunLog): Promise<void> {
  await host.sudo(`mv ${held(component)} ${live(component)}`, { step: `start ${component}` });
  await awaitContainers(host, component, log, `${component} to run again and serve`, async (ids) =>
    ids.length === 0 ? 'no container running yet' : answersHealthCheck(host, component),
  );
}

/**
 * Restart control-plane static pods so they read new certificates and kubeconfigs, as kubeadm's upgrade replaces
 * a pod: the manifest leaves the kubelet's folder (the kubelet stops the pod with its grace period) and comes
 * back (a new pod, so no crash-loop back-off), each component waited healthy before the next. Before etcd
 * restarts, the API server on this master stops first: it leaves the load balancer cleanly (it refuses new
 * connections) instead of answering errors while its etcd is away. Changes, reported; nothing in a dry run.
 */
export async function restartControlPlane(host: Host, components: string[], log: RunLog): Promise<void> {
  const withEtcd = components.includes('etcd');
  const order = CONTROL_PLANE_ORDER.filter((c) => components.includes(c) || (withEtcd && c === 'kube-apiserver'));
  for (const component of order) {
    await host.change(`restart ${component}`, async () => {
      if (component === 'etcd') {
        await holdStaticPod(host, 'kube-apiserver', log);
        await holdStaticPod(host, 'etcd', log);
        await releaseStaticPod(host, 'etcd', log);
      } else if (component === 'kube-apiserver' && withEtcd) {
        await releaseStaticPod(host, component, log);
      } else {
        await holdStaticPod(host, component, log);
        await releaseStaticPod(host, component, log);
      }
    });
  }
  if (!host.dryRun) await host.sudo(`rm -f ${PENDING_RESTARTS}`, { step: 'record pending restarts' });
}

/** Where each control-plane component answers its health check on the master itself (etcd: its metrics port). */
const HEALTH_URL: Record<string, string> = {
  etcd: 'http://127.0.0.1:2381/health',
  'kube-apiserver': 'https://127.0.0.1:6443/readyz',
  'kube-controller-manager': 'https://127.0.0.1:10257/healthz',
  'kube-scheduler': 'https://127.0.0.1:10259/healthz',
};

/** Whether a control-plane component answers its health check on this master: true, or what it answered. */
export async function answersHealthCheck(host: Host, component: string): Promise<string | true> {
  const health = await host.sudo(`curl -sk --max-time 5 ${HEALTH_URL[component]} 2>&1 || true`, {
    step: `check ${component}`,
  });
  return /^ok|"health":"true"/.test(health.stdout.trim()) ? true : `does not answer yet (${health.stdout.trim()})`;
}
