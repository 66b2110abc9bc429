import type { Bundle } from '../../artifacts/bundle.js';
import type { Host } from '../../host/host.js';
import { cordon, drain, uncordon } from '../../kube/drain.js';
import type { KubeClient } from '../../kube/client.js';
import { readyCondition, type Node } from '../../kube/types.js';
import {
  ANNOTATION_CRI_SOCKET,
  KUBELET_CONFIG,
  KUBELET_DROPIN,
  KUBELET_FLAGS_ENV,
  KUBELET_INSTANCE_CONFIG,
} from '../../kubeadm/constants.js';
import { awaitOnHost, ensureKubelet } from '../cluster/waits.js';
import { filesFor, type ClusterRun } from '../cluster/run.js';
import { binariesPhase } from '../kubernetes.js';
import type { Phase, RunContext } from '../phase.js';

/** Set on a node kprov cordoned for its upgrade, so a re-run uncordons it and an operator's own cordon stays. */
export const UPGRADE_CORDON = 'kprov.io/cordoned-for-upgrade';
const KUBELET_FILES = [KUBELET_CONFIG, KUBELET_INSTANCE_CONFIG, KUBELET_FLAGS_ENV, KUBELET_DROPIN];

export interface KubeletUpgradeOptions {
  target: string;
  bundle?: Bundle;
  /** Workers upgraded at once (masters always go one at a time). */
  maxUnavailable: number;
  drainTimeoutMs: number;
}

const nodePath = (name: string) => `/api/v1/nodes/${name}`;

/** Node Ready with its kubelet reporting the target version. */
async function awaitKubelet(api: KubeClient, host: Host, name: string, target: string, ctx: RunContext) {
  await awaitOnHost(host, ctx.log, {
    what: `node ${name} Ready with kubelet ${target}`,
    step: 'upgrade kubelet',
    hint: 'Check: journalctl -u kubelet',
    check: async () => {
      const node = await api.get<Node>(nodePath(name));
      const version = node?.status?.nodeInfo?.kubeletVersion;
      if (version !== target) throw new Error(`kubelet reports ${version ?? 'nothing'}`);
      if (readyCondition(node!)?.status !== 'True') throw new Error('not Ready');
      return true;
    },
  });
}

/**
 * One node: cordon and drain (PodDisruptionBudgets honoured), the new kubelet binary and its files, restart,
 * Ready at the new version, uncordon. A node already at the target only gets its files checked and, when an
 * earlier run cordoned it, uncordoned: a re-run finishes an interrupted upgrade and changes nothing after one.
 */
async function upgradeNode(run: ClusterRun, host: Host, ctx: RunContext, o: KubeletUpgradeOptions): Promise<void> {
  const api = run.access.api(host, 'upgrade kubelet');
  const name = host.spec.nodeName;
  const node = await api.get<Node>(nodePath(name));
  const files = filesFor(run, host).filter((f) => KUBELET_FILES.includes(f.path));
  const atTarget = node?.status?.nodeInfo?.kubeletVersion === o.target;
  if (!atTarget) {
    await host.change(`drain ${name}`, async () => {
      if (await cordon(api, name)) {
        await api.patch(nodePath(name), { metadata: { annotations: { [UPGRADE_CORDON]: 'true' } } }, 'merge');
      }
      await drain(api, name, {
        timeoutMs: o.drainTimeoutMs,
        onProgress: (m) => ctx.log.write(host.name, `drain: ${m}`),
      });
    });
  }
  // The binary (and kubectl on masters) from the bundle or the release download, then the kubelet's files.
  await binariesPhase(o.target, o.bundle).runHost!(host, ctx);
  const changed = await host.ensureFiles(files);
  // A kubelet below the target restarts onto the new binary even when none of its files changed.
  await ensureKubelet(host, atTarget ? changed : [...changed, KUBELET_CONFIG]);
  if (host.dryRun) return;
  await awaitKubelet(api, host, name, o.target, ctx);
  const after = await api.get<Node>(nodePath(name));
  if (after?.metadata.annotations?.[UPGRADE_CORDON]) {
    await host.change(`uncordon ${name}`, async () => {
      await uncordon(api, name);
      await api.patch(nodePath(name), { metadata: { annotations: { [UPGRADE_CORDON]: null } } }, 'merge');
    });
  }
  // kubeadm dropped the CRI socket annotation in v1.35 (the socket is in instance-config.yaml) and removes it.
  if (after?.metadata.annotations?.[ANNOTATION_CRI_SOCKET]) {
    await host.change(`remove the ${ANNOTATION_CRI_SOCKET} annotation`, () =>
      api.patch(nodePath(name), { metadata: { annotations: { [ANNOTATION_CRI_SOCKET]: null } } }, 'merge'),
    );
  }
}

/** Kubelets after every control plane: masters one at a time, then workers in batches of maxUnavailable. */
export function kubeletUpgradePhase(run: ClusterRun, o: KubeletUpgradeOptions): Phase {
  return {
    title: 'Upgrade kubelets',
    async runAll(hosts, ctx) {
      const problems = new Map<string, string>();
      const one = async (host: Host) => {
        if (ctx.abort?.aborted) return;
        ctx.inFlight?.set(host.name, 'Upgrade kubelets');
        try {
          await upgradeNode(run, host, ctx, o);
          ctx.inFlight?.delete(host.name);
        } catch (err) {
          problems.set(host.name, (err as Error).message);
        }
      };
      for (const master of hosts.filter((h) => h.spec.controlPlane)) {
        await one(master);
        // A master that did not come back stops the rollout: the workers wait for a healthy control plane.
        if (problems.size > 0) return problems;
      }
      const workers = hosts.filter((h) => !h.spec.controlPlane);
      for (let i = 0; i < workers.length; i += o.maxUnavailable) {
        await Promise.all(workers.slice(i, i + o.maxUnavailable).map(one));
        if (problems.size > 0) return problems;
      }
      return problems;
    },
  };
}
