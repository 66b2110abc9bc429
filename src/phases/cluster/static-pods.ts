import { HostError } from '../../errors/index.js';
import type { Host } from '../../host/host.js';
import { kubeletProbe } from '../../host/probes.js';
import type { RunLog } from '../../log/logger.js';
import { shq } from '../../ssh/quote.js';
import { sleep, waitUntil } from '../../util/wait.js';

/** The kubelet's default terminationGracePeriodSeconds, which kubeadm's static pods keep. */
const STOP_GRACE_MS = 30_000;
import { logProgress, WAIT } from './waits.js';

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

/**
 * Restart a static pod's container so it reads new files (certificates, kubeconfigs) and wait until a new
 * container runs and `healthy` says it serves: the kubelet starts a new container when the old one's task ends.
 * A change (reported, skipped in a dry run).
 */
export async function restartStaticPod(
  host: Host,
  component: string,
  healthy: () => Promise<boolean>,
  log: RunLog,
): Promise<void> {
  await host.change(`restart ${component}`, async () => {
    const before = await runningContainers(host, component);
    for (const id of before) {
      await host.sudo(`ctr -n k8s.io tasks kill -s SIGTERM ${shq(id)}`, { step: `restart ${component}` });
    }
    // As the kubelet stops a container: SIGTERM, then SIGKILL after the grace period. An API server drains its
    // watches for up to 60 s on SIGTERM (it has already left the load balancer: its /readyz fails at once).
    const graceEnds = Date.now() + STOP_GRACE_MS;
    let left = before;
    while (left.length > 0 && Date.now() < graceEnds) {
      await sleep(1000);
      const running = await runningContainers(host, component);
      left = left.filter((id) => running.includes(id));
    }
    for (const id of left) {
      log.write(host.name, `${component} did not stop within ${STOP_GRACE_MS / 1000}s of SIGTERM: SIGKILL`);
      await host.sudo(`ctr -n k8s.io tasks kill -s SIGKILL ${shq(id)} 2>/dev/null || true`, {
        step: `restart ${component}`,
      });
    }
    const what = `${component} to run again and serve`;
    await waitUntil({
      what,
      ...WAIT,
      check: async () => {
        const now = await runningContainers(host, component);
        if (!now.some((id) => !before.includes(id))) throw new Error('no new container running yet');
        if (!(await healthy())) throw new Error('running, not serving yet');
        return true;
      },
      probe: () => kubeletProbe(host),
      onChange: logProgress(log, host, what),
    }).catch((err) => {
      throw new HostError(host.name, (err as Error).message, { step: `restart ${component}` });
    });
  });
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
