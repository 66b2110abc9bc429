import { HostError } from '../../errors/index.js';
import type { EtcdClient } from '../../kube/etcd.js';
import { etcdManifest, toYaml } from '../../kubeadm/manifests.js';
import {
  initialClusterFor,
  initialClusterInManifest,
  memberByPeerUrl,
  peerUrlOf,
  type EtcdMember,
} from '../../kubeadm/etcd-members.js';
import {
  BOOTSTRAP_KUBELET_CONF,
  ETCD_MANIFEST,
  KUBELET_CONFIG,
  KUBERNETES_DIR,
  MANIFESTS_DIR,
} from '../../kubeadm/constants.js';
import type { FileSpec } from '../../kubeadm/plan.js';
import type { Host } from '../../host/host.js';
import { filesFor, type ClusterRun } from './run.js';
import { awaitReadyz, awaitTlsBootstrap, ensureKubelet, logProgress, markControlPlane, WAIT } from './waits.js';
import { waitUntil, type Clock } from '../../util/wait.js';
import { kubeletProbe } from '../../host/probes.js';
import { serialQueue } from '../../util/serial.js';
import type { Phase } from '../phase.js';
import type { RunLog } from '../../log/logger.js';

const CONTROL_PLANE_MANIFESTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map(
  (c) => `${MANIFESTS_DIR}/${c}.yaml`,
);
const BOOTSTRAP_CONF = `${KUBERNETES_DIR}/${BOOTSTRAP_KUBELET_CONF}`;

/**
 * The learner's applied raft index: while it grows the learner is catching up, which is progress. Until its etcd
 * answers, the kubelet starting the static pod is what moves (and what to read if it never starts).
 */
export async function learnerProgress(etcd: EtcdClient, host: Host, address: string): Promise<string> {
  try {
    const s = await etcd.at(address).withTimeout(5000).status(0);
    return `learner at raft index ${s.raftAppliedIndex ?? s.raftIndex ?? '?'} (term ${s.raftTerm ?? '?'})`;
  } catch (err) {
    return `etcd on ${host.name} does not answer yet (${(err as Error).message}); ${await kubeletProbe(host)}`;
  }
}

/** Promote a learner once it has caught up (etcd says no until then), waiting while it makes progress. */
async function promoteWhenSynced(
  etcd: EtcdClient,
  member: EtcdMember,
  host: Host,
  address: string,
  log: RunLog,
): Promise<void> {
  const started = Date.now();
  const what = `etcd learner ${host.spec.nodeName} to catch up and be promoted`;
  await waitUntil({
    what,
    ...WAIT,
    check: async () => {
      await etcd.promote(member.ID);
      return true;
    },
    probe: () => learnerProgress(etcd, host, address),
    onChange: logProgress(log, host, what),
  }).catch((err) => {
    throw new HostError(
      host.name,
      `${(err as Error).message}. Check: crictl logs $(crictl ps -q --name etcd) on ${host.name}`,
      { step: 'etcd promote' },
    );
  });
  host.changed(`promote etcd member ${host.spec.nodeName} to voter`);
  log.write(host.name, `etcd member promoted after ${Math.round((Date.now() - started) / 1000)}s as a learner`);
}

/**
 * MemberAdd as kubeadm does it: first every voter must answer with a leader (a member still catching up makes
 * etcd refuse with "unhealthy cluster", and adding beside it risks quorum), then add the learner. A MemberAdd
 * that timed out may have been applied, so each attempt first looks for the member by its peer URL.
 */
export async function addLearnerWhenHealthy(
  etcd: EtcdClient,
  host: Host,
  name: string,
  peerUrl: string,
  log: RunLog,
  clock?: Clock,
) {
  const what = `etcd to be healthy and accept member ${name}`;
  return waitUntil({
    what,
    ...WAIT,
    everyMs: 3000,
    clock,
    check: async () => {
      const unhealthy = await etcd.unhealthyVoters();
      if (unhealthy.length > 0) throw new Error(`not every voter is healthy: ${unhealthy.join('; ')}`);
      const members = await etcd.members();
      const existing = memberByPeerUrl(members, peerUrl);
      if (existing) return { member: existing, members, added: false };
      const added = await etcd.addLearner(peerUrl);
      return { ...added, added: true };
    },
    onChange: logProgress(log, host, what),
  }).catch((err) => {
    throw new HostError(host.name, (err as Error).message, { step: 'etcd member add' });
  });
}

/**
 * kubeadm join --control-plane for the second and later masters, one at a time. kprov owns the PKI, so the
 * shared certificates are installed directly (no upload-certs round trip). Order, so that no API server runs
 * without its local etcd: certificates, kubeconfigs and the kubelet (TLS bootstrap with the token); etcd
 * MemberAdd as a learner, its static pod, promotion once in sync; then the API server, controller-manager and
 * scheduler (leader-elected), /readyz on the new API server, and mark-control-plane.
 */
export function controlPlaneJoinPhase(run: ClusterRun): Phase {
  // etcd takes one learner at a time, and each new member changes the next one's --initial-cluster.
  const oneAtATime = serialQueue();
  return {
    title: 'Join control-plane nodes',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && h.spec.controlPlane && h.spec.nodeName !== run.first),
    async runHost(host, ctx) {
      const node = run.nodes[host.spec.nodeName];
      const peerUrl = peerUrlOf(node.advertiseAddress);
      const planned = filesFor(run, host);
      // The plan's etcd manifest assumes inventory order; the real one carries what etcd said at MemberAdd.
      const etcdFile = (initialCluster: string): FileSpec => ({
        ...planned.find((f) => f.path === ETCD_MANIFEST)!,
        content: toYaml(etcdManifest(run.cfg, node, { initialCluster })),
      });
      const state = await host.sudo(
        `[ -f ${KUBERNETES_DIR}/kubelet.conf ] && echo kubelet; [ -f ${ETCD_MANIFEST} ] && echo etcd; ` +
          `systemctl is-active kubelet >/dev/null && echo active; cat ${ETCD_MANIFEST} 2>/dev/null || true`,
        { step: 'inspect control plane' },
      );
      const [kubeletConf, etcdWritten, kubeletActive] = ['kubelet', 'etcd', 'active'].map((w) =>
        state.stdout.split('\n').includes(w),
      );

      if (kubeletConf && etcdWritten && kubeletActive) {
        // Already a member: converge its files, keeping the --initial-cluster it joined with (etcd ignores it from
        // now on, so rewriting it would only restart etcd).
        const initialCluster = initialClusterInManifest(state.stdout) ?? `${node.name}=${peerUrl}`;
        const changed = await host.ensureFiles([
          ...planned.filter((f) => f.path !== BOOTSTRAP_CONF && f.path !== ETCD_MANIFEST),
          etcdFile(initialCluster),
        ]);
        await ensureKubelet(host, changed);
        if (host.dryRun) return;
        // Finish a join that stopped between MemberAdd and promotion.
        if (run.access.hasEtcd) {
          const etcd = run.access.etcd(host, 'etcd promote');
          const self = memberByPeerUrl(await etcd.members(), peerUrl);
          if (self?.isLearner) await promoteWhenSynced(etcd, self, host, node.advertiseAddress, ctx.log);
        }
        // Without the first master's API (it failed and is reported) there is nothing more to check here.
        if (run.access.via) await markControlPlane(run, host, node.name, ctx.log);
        return;
      }

      if (host.dryRun) {
        host.plan(
          `join the control plane at ${run.plan.endpoint}: add etcd member ${node.name} (${peerUrl}) as a learner, ` +
            'promote it, start the API server, controller-manager and scheduler',
        );
        return;
      }
      run.access.requireVia(host, 'join control plane');

      // 1. Certificates, kubeconfigs and the kubelet, which bootstraps its client certificate with the token.
      const early = planned.filter((f) => f.path !== ETCD_MANIFEST && !CONTROL_PLANE_MANIFESTS.includes(f.path));
      const changed = await host.ensureFiles(early);
      await ensureKubelet(host, [...changed, KUBELET_CONFIG]);
      await awaitTlsBootstrap(host, ctx.log);

      // 2. etcd: add a learner (or find the one an interrupted run added), start it, promote it once in sync.
      await oneAtATime(async () => {
        const etcd = run.access.etcd(host, 'etcd member add');
        const {
          member: self,
          members: all,
          added,
        } = await addLearnerWhenHealthy(etcd, host, node.name, peerUrl, ctx.log);
        if (added) host.changed(`add etcd member ${node.name} (${peerUrl}) as a learner`);
        const initialCluster = initialClusterFor(all, { name: node.name, peerUrl });
        await host.ensureFiles([etcdFile(initialCluster)]);
        if (self.isLearner) await promoteWhenSynced(etcd, self, host, node.advertiseAddress, ctx.log);
      });

      // 3. The rest of the control plane, now that its etcd is a voting member.
      await host.ensureFiles(planned.filter((f) => CONTROL_PLANE_MANIFESTS.includes(f.path)));
      await awaitReadyz(
        run.access.apiServerOn(host, node.advertiseAddress),
        host,
        `the API server on ${node.name}`,
        ctx.log,
      );
      await markControlPlane(run, host, node.name, ctx.log);
      run.joined.push(host.name);
    },
  };
}
