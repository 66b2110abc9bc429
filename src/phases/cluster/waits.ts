import { HostError } from '../../errors/index.js';
import type { KubeClient } from '../../kube/client.js';
import type { Node } from '../../kube/types.js';
import { controlPlaneNodePatch } from '../../kubeadm/cluster-objects.js';
import {
  KUBELET_CONFIG,
  KUBELET_INSTANCE_CONFIG,
  KUBELET_DROPIN,
  KUBELET_FLAGS_ENV,
  KUBERNETES_DIR,
} from '../../kubeadm/constants.js';
import type { Host } from '../../host/host.js';
import { ensureServiceCurrent } from '../../host/service.js';
import { KUBELET_UNIT } from '../kubernetes.js';
import type { RunLog } from '../../log/logger.js';
import { waitUntil } from '../../util/wait.js';
import { kubeletProbe } from '../../host/probes.js';
import type { ClusterRun } from './run.js';

/** Waits on hosts last while they make progress (see waitUntil); these bound how long nothing may change. */
export const WAIT = { stallMs: 3 * 60_000, deadlineMs: 15 * 60_000 } as const;

/** Run-log lines as a wait's observation changes, so a slow step can be explained afterwards. */
export const logProgress = (log: RunLog, host: Host, what: string) => (observation: string, elapsedMs: number) =>
  log.write(host.name, `waiting for ${what} (${Math.round(elapsedMs / 1000)}s): ${observation}`);

/**
 * Wait on a host while it or its kubelet makes progress (see waitUntil): `check` returns the result, or undefined
 * or throws saying what it sees meanwhile. Progress goes to the run log; a timeout is the host's error at `step`,
 * followed by `hint` (where to look).
 */
export async function awaitOnHost<T>(
  host: Host,
  log: RunLog,
  o: {
    what: string;
    step: string;
    hint?: string;
    check: () => Promise<T | undefined>;
    timing?: { stallMs: number; deadlineMs: number; everyMs?: number };
  },
): Promise<T> {
  return waitUntil({
    what: o.what,
    ...(o.timing ?? WAIT),
    check: o.check,
    probe: () => kubeletProbe(host),
    onChange: logProgress(log, host, o.what),
  }).catch((err) => {
    throw new HostError(host.name, `${(err as Error).message}${o.hint ? `. ${o.hint}` : ''}`, { step: o.step });
  });
}

/** A check for awaitOnHost from one that answers true, or what it saw instead. */
export const untilTrue = (answer: () => Promise<string | true>) => async () => {
  const a = await answer();
  if (a !== true) throw new Error(a);
  return true;
};

/**
 * Wait until an API server answers /readyz with 200, while it or its kubelet makes progress; a timeout is host's
 * error.
 */
export async function awaitReadyz(api: KubeClient, host: Host, what: string, log: RunLog): Promise<void> {
  await awaitOnHost(host, log, {
    what: `${what} to be ready (/readyz)`,
    step: 'wait for API server',
    hint: 'Check: journalctl -u kubelet, crictl ps -a',
    check: async () => {
      const r = await api.request('GET', '/readyz', undefined, undefined, { retryMs: 0 });
      if (r.status === 200) return true;
      throw new Error(`/readyz answered ${r.status}: ${r.text.slice(0, 300)}`);
    },
  });
}

/** Wait for the kubelet on host to register node nodeName (through api). */
export async function awaitNodeRegistered(api: KubeClient, host: Host, nodeName: string, log: RunLog): Promise<Node> {
  return awaitOnHost(host, log, {
    what: `node ${nodeName} to register`,
    step: 'node registration',
    hint: `Check: journalctl -u kubelet on ${host.name}`,
    check: () => api.get<Node>(`/api/v1/nodes/${nodeName}`),
  });
}

/**
 * Enable the kubelet and make it run with its configuration: started when not active, restarted when a file
 * changed in this run or when its files differ from those it was last started with (an earlier run stopped
 * between writing them and restarting). kubelet.conf counts only when kprov wrote it: the kubelet writes it too.
 */
export async function ensureKubelet(host: Host, changed: string[]): Promise<void> {
  const tracked = [KUBELET_CONFIG, KUBELET_INSTANCE_CONFIG, KUBELET_FLAGS_ENV, KUBELET_DROPIN, KUBELET_UNIT];
  const force = changed.some((c) => [...tracked, `${KUBERNETES_DIR}/kubelet.conf`].includes(c));
  await ensureServiceCurrent(host, 'kubelet', tracked, { force, reason: 'its configuration changed' });
}

/**
 * kubeadm's mark-control-plane: the control-plane label and taint, once the node has registered.
 */
export async function markControlPlane(run: ClusterRun, host: Host, nodeName: string, log: RunLog): Promise<void> {
  const api = run.access.api(host, 'mark control plane');
  const node = await awaitNodeRegistered(api, host, nodeName, log);
  const want = controlPlaneNodePatch(run.nodes[nodeName]);
  const existing = node.spec?.taints ?? [];
  const taints = [
    ...existing.filter((t) => !want.spec.taints.some((w) => w.key === t.key && w.effect === t.effect)),
    ...want.spec.taints,
  ];
  const labelsOk = Object.keys(want.metadata.labels).every((k) => node.metadata.labels?.[k] === '');
  const taintsOk = want.spec.taints.every((w) => existing.some((t) => t.key === w.key && t.effect === w.effect));
  if (!labelsOk || !taintsOk) {
    const what = `mark ${nodeName} as control plane (label${want.spec.taints.length ? ' and taint' : ''})`;
    await host.change(what, () =>
      api.patch(`/api/v1/nodes/${nodeName}`, { metadata: want.metadata, spec: { taints } }, 'merge'),
    );
  }
}

/** Wait for the kubelet's TLS bootstrap to write kubelet.conf, then drop the bootstrap kubeconfig and its token. */
export async function awaitTlsBootstrap(host: Host, log: RunLog): Promise<void> {
  await awaitOnHost(host, log, {
    what: 'the kubelet TLS bootstrap (kubelet.conf)',
    step: 'TLS bootstrap',
    hint: 'Check: journalctl -u kubelet',
    check: async () =>
      (await host.sudo(`[ -f ${KUBERNETES_DIR}/kubelet.conf ] && echo yes || true`)).stdout.includes('yes')
        ? true
        : undefined,
  });
  await host.sudo(`rm -f ${KUBERNETES_DIR}/bootstrap-kubelet.conf`, { step: 'remove bootstrap kubeconfig' });
}
