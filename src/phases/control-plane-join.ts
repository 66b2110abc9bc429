import { HostError } from '../errors/index.js';
import { EtcdClient } from '../kube/etcd.js';
import { etcdManifest, toYaml } from '../kubeadm/manifests.js';
import { initialClusterFor, initialClusterInManifest, memberByPeerUrl, peerUrlOf, type EtcdMember } from '../kubeadm/etcd-members.js';
import { BOOTSTRAP_KUBELET_CONF, ETCD_CLIENT_PORT, ETCD_MANIFEST, KUBELET_CONFIG, KUBERNETES_DIR, MANIFESTS_DIR, PKI_DIR } from '../kubeadm/constants.js';
import type { FileSpec } from '../kubeadm/plan.js';
import type { Host } from '../host/host.js';
import { awaitReadyz, awaitTlsBootstrap, ensureKubelet, filesFor, markControlPlane, superAdminThrough, viaAddress, waitFor, type ClusterRun } from './cluster.js';
import type { Phase } from './phase.js';
import type { RunLog } from '../log/logger.js';

const CONTROL_PLANE_MANIFESTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((c) => `${MANIFESTS_DIR}/${c}.yaml`);
const BOOTSTRAP_CONF = `${KUBERNETES_DIR}/${BOOTSTRAP_KUBELET_CONF}`;

/** Run one task at a time, in call order: etcd takes one learner at a time, and each new member changes the next one's --initial-cluster. */
function serialQueue() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const next = tail.then(task);
    tail = next.catch(() => undefined);
    return next;
  };
}

/** An etcd client as the API server's etcd identity, to the etcd of the master that carries API traffic. */
function etcdThrough(run: ClusterRun, master: Host): EtcdClient {
  const file = (path: string) => run.plan.files[run.first].find((f) => f.path === path)!.content;
  const address = viaAddress(run);
  const creds = { caPem: file(`${PKI_DIR}/etcd/ca.crt`), certPem: file(`${PKI_DIR}/apiserver-etcd-client.crt`), keyPem: file(`${PKI_DIR}/apiserver-etcd-client.key`) };
  return new EtcdClient(() => master.conn.forward(address, ETCD_CLIENT_PORT), creds, address);
}

/** Promote a learner once it has caught up (etcd says no until then). */
async function promoteWhenSynced(etcd: EtcdClient, member: EtcdMember, host: Host, log: RunLog): Promise<void> {
  const started = Date.now();
  let said = '';
  await waitFor(`etcd learner ${host.spec.nodeName} to catch up and be promoted`, 4 * 60_000, 2000, async () => {
    try {
      await etcd.promote(member.ID);
    } catch (err) {
      // Into the run log when etcd's answer changes, so a slow join can be explained afterwards.
      const message = (err as Error).message;
      if (message !== said) log.write(host.name, `etcd promote not yet (${Math.round((Date.now() - started) / 1000)}s): ${(said = message)}`);
      throw err;
    }
    return true;
  }).catch((err) => {
    throw new HostError(host.name, `${(err as Error).message}. Check: crictl logs $(crictl ps -q --name etcd) on ${host.name}`, { step: 'etcd promote' });
  });
  host.changes.push(`promote etcd member ${host.spec.nodeName} to voter`);
  log.write(host.name, `etcd member promoted after ${Math.round((Date.now() - started) / 1000)}s as a learner`);
}

/**
 * kubeadm join --control-plane for the second and later masters, one at a time. kprov owns the PKI, so the
 * shared certificates are installed directly (no upload-certs round trip). Order, so that no API server runs
 * without its local etcd: certificates, kubeconfigs and the kubelet (TLS bootstrap with the token); etcd
 * MemberAdd as a learner, its static pod, promotion once in sync; then the API server, controller-manager and
 * scheduler (leader-elected), /readyz on the new API server, and mark-control-plane.
 */
export function controlPlaneJoinPhase(run: ClusterRun): Phase {
  const oneAtATime = serialQueue();
  return {
    title: 'Join control-plane nodes',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && h.spec.controlPlane && h.spec.nodeName !== run.first),
    async runHost(host, ctx) {
      const node = run.nodes[host.spec.nodeName];
      const peerUrl = peerUrlOf(node.advertiseAddress);
      const planned = filesFor(run, host);
      // The plan's etcd manifest assumes inventory order; the real one carries what etcd said at MemberAdd.
      const etcdFile = (initialCluster: string): FileSpec => ({ ...planned.find((f) => f.path === ETCD_MANIFEST)!, content: toYaml(etcdManifest(run.cfg, node, { initialCluster })) });
      const state = await host.sudo(
        `[ -f ${KUBERNETES_DIR}/kubelet.conf ] && echo kubelet; [ -f ${ETCD_MANIFEST} ] && echo etcd; systemctl is-active kubelet >/dev/null && echo active; cat ${ETCD_MANIFEST} 2>/dev/null || true`,
        { step: 'inspect control plane' },
      );
      const [kubeletConf, etcdWritten, kubeletActive] = ['kubelet', 'etcd', 'active'].map((w) => state.stdout.split('\n').includes(w));

      if (kubeletConf && etcdWritten && kubeletActive) {
        // Already a member: converge its files, keeping the --initial-cluster it joined with (etcd ignores it from
        // now on, so rewriting it would only restart etcd).
        const initialCluster = initialClusterInManifest(state.stdout) ?? `${node.name}=${peerUrl}`;
        const changed = await host.ensureFiles([...planned.filter((f) => f.path !== BOOTSTRAP_CONF && f.path !== ETCD_MANIFEST), etcdFile(initialCluster)]);
        await ensureKubelet(host, changed);
        if (host.dryRun) return;
        // Finish a join that stopped between MemberAdd and promotion.
        const master = run.via;
        if (master && !master.failed) {
          const etcd = etcdThrough(run, master);
          const self = memberByPeerUrl(await etcd.members(), peerUrl);
          if (self?.isLearner) await promoteWhenSynced(etcd, self, host, ctx.log);
        }
        // Without the first master's API (it failed and is reported) there is nothing more to check here.
        if (run.admin) await markControlPlane(run, host, node.name);
        return;
      }

      if (host.dryRun) {
        host.changes.push(`join the control plane at ${run.plan.endpoint}: add etcd member ${node.name} (${peerUrl}) as a learner, promote it, start the API server, controller-manager and scheduler`);
        return;
      }
      const master = run.via;
      if (!master || master.failed) throw new HostError(host.name, 'no control-plane host is available to join through', { step: 'join control plane' });

      // 1. Certificates, kubeconfigs and the kubelet, which bootstraps its client certificate with the token.
      const early = planned.filter((f) => f.path !== ETCD_MANIFEST && !CONTROL_PLANE_MANIFESTS.includes(f.path));
      const changed = await host.ensureFiles(early);
      await ensureKubelet(host, [...changed, KUBELET_CONFIG]);
      await awaitTlsBootstrap(host);

      // 2. etcd: add a learner (or find the one an interrupted run added), start it, promote it once in sync.
      await oneAtATime(async () => {
        const etcd = etcdThrough(run, master);
        const members = await etcd.members().catch((err) => {
          throw new HostError(host.name, `cannot reach etcd on ${master.name}: ${(err as Error).message}`, { step: 'etcd member list' });
        });
        let self = memberByPeerUrl(members, peerUrl);
        let all = members;
        if (!self) {
          // etcd refuses a member while a newly promoted one is not yet counted healthy ("unhealthy cluster"): retry.
          const added = await waitFor(`etcd to accept member ${node.name}`, 2 * 60_000, 3000, () => etcd.addLearner(peerUrl)).catch((err) => {
            throw new HostError(host.name, (err as Error).message, { step: 'etcd member add' });
          });
          self = added.member;
          all = added.members;
          host.changes.push(`add etcd member ${node.name} (${peerUrl}) as a learner`);
        }
        const initialCluster = initialClusterFor(all, { name: node.name, peerUrl });
        await host.ensureFiles([etcdFile(initialCluster)]);
        if (self.isLearner) await promoteWhenSynced(etcd, self, host, ctx.log);
      });

      // 3. The rest of the control plane, now that its etcd is a voting member.
      await host.ensureFiles(planned.filter((f) => CONTROL_PLANE_MANIFESTS.includes(f.path)));
      await awaitReadyz(superAdminThrough(run, host, node.advertiseAddress), host, `the API server on ${node.name}`, 4 * 60_000);
      await markControlPlane(run, host, node.name);
      run.joined.push(host.name);
    },
  };
}
