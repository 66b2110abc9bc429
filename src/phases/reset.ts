import { KUBERNETES_DIR } from '../kubeadm/constants.js';
import type { ClusterAccess } from '../kube/cluster-access.js';
import type { List, Pod } from '../kube/types.js';
import { drain, DrainBlocked } from '../kube/drain.js';
import { memberByPeerUrl } from '../kubeadm/etcd-members.js';
import { HostError } from '../errors/index.js';
import type { Host } from '../host/host.js';
import type { Phase, RunContext } from './phase.js';

/**
 * containerd 2.x keeps pod sandboxes in a store of their own, and its CRI plugin a copy of them in memory: once their
 * containers are removed, the sandboxes go too and containerd restarts to forget them, or the old node's pods come
 * back as NotReady sandboxes. containerd 1.x has no such store (its ctr no sandboxes command): nothing to do.
 */
export const REMOVE_SANDBOXES =
  'if ctr sandboxes --help >/dev/null 2>&1; then removed=; ' +
  "for s in $(ctr -n k8s.io sandboxes ls 2>/dev/null | awk 'NR > 1 {print $1}'); do " +
  'ctr -n k8s.io sandboxes rm -f "$s" >/dev/null 2>&1; removed=1; done; ' +
  '[ -z "$removed" ] || systemctl restart containerd; fi';

/**
 * What kubeadm reset does on a host, plus what it leaves behind (CNI config, iptables rules, CNI links):
 * stop the kubelet, remove Kubernetes containers, unmount and empty kubelet state, remove kubeconfigs,
 * manifests, PKI and etcd data.
 */
export const RESET_SCRIPT = [
  'systemctl stop kubelet 2>/dev/null || true',
  'systemctl disable kubelet 2>/dev/null || true',
  // Kubernetes containers live in containerd's k8s.io namespace: kill their tasks, then remove them.
  'if command -v ctr >/dev/null; then ' +
    'for c in $(ctr -n k8s.io containers ls -q 2>/dev/null); do ' +
    'ctr -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1; done; sleep 1; ' +
    'for c in $(ctr -n k8s.io containers ls -q 2>/dev/null); do ' +
    'ctr -n k8s.io tasks rm -f "$c" >/dev/null 2>&1; ctr -n k8s.io containers rm "$c" >/dev/null 2>&1; done; fi',
  REMOVE_SANDBOXES,
  'awk \'$2 ~ "^/var/lib/kubelet/" { print $2 }\' /proc/mounts | sort -r | xargs -r umount -l',
  'rm -rf /var/lib/kubelet/* /etc/kubernetes/manifests/* /etc/kubernetes/pki /var/lib/etcd/*',
  'rm -f ' +
    [
      'admin.conf',
      'super-admin.conf',
      'kubelet.conf',
      'bootstrap-kubelet.conf',
      'controller-manager.conf',
      'scheduler.conf',
    ]
      .map((f) => `${KUBERNETES_DIR}/${f}`)
      .join(' '),
  'rm -rf /etc/cni/net.d/* /run/flannel',
  'for i in cni0 flannel.1; do ip link delete "$i" 2>/dev/null || true; done',
  'if command -v iptables-save >/dev/null; then ' +
    "iptables-save | grep -v -E 'KUBE-|FLANNEL|cni0' | iptables-restore || true; fi",
].join('\n');

/**
 * kubeadm reset's remove-etcd-member: a control-plane host leaves etcd before its data is wiped, so the others
 * keep their quorum and the host can join again as a new member. The last member is left alone.
 */
async function removeEtcdMember(host: Host, access: ClusterAccess, peerUrl: string, ctx: RunContext): Promise<void> {
  if (!access.hasEtcd) {
    ctx.warn(
      `${host.name}: etcd is not reachable through another master; ` +
        `if ${peerUrl} is still an etcd member, remove it by hand (etcdctl member remove)`,
    );
    return;
  }
  const etcd = access.etcd(host, 'remove etcd member');
  const members = await etcd.members().catch((err) => {
    throw new HostError(host.name, `cannot list etcd members: ${(err as Error).message}`, {
      step: 'remove etcd member',
    });
  });
  const self = memberByPeerUrl(members, peerUrl);
  if (!self) return;
  if (members.length === 1) {
    ctx.log.write(host.name, 'the last etcd member: not removed from its own cluster');
    return;
  }
  await host.change(`remove etcd member ${self.name || peerUrl}`, () =>
    etcd.remove(self.ID).catch((err) => {
      throw new HostError(host.name, (err as Error).message, { step: 'remove etcd member' });
    }),
  );
}

/** Drain and delete the node through the API when the cluster answers, then clean the host. */
export function resetPhase(access: ClusterAccess, peerUrl: (host: Host) => string): Phase {
  return {
    title: 'Reset',
    async runHost(host, ctx) {
      const node = host.spec.nodeName;
      if (access.hasApi) {
        const client = access.api(host, 'drain');
        const existing = await client.get(`/api/v1/nodes/${node}`).catch(() => undefined);
        if (existing) {
          await host.change(`drain and delete node ${node}`, async () => {
            // Reset is the operator's explicit request: a drain that a PodDisruptionBudget blocks is reported and the
            // node deleted anyway (its pods go with it), rather than leaving the host half reset.
            await drain(client, node, {
              timeoutMs: 120_000,
              onProgress: (m) => ctx.log.write(host.name, `drain: ${m}`),
            }).catch((err) => {
              if (!(err instanceof DrainBlocked)) throw err;
              ctx.warn(`${host.name}: ${err.message}; deleting the node anyway`);
            });
            await client.delete(`/api/v1/nodes/${node}`);
            // DaemonSet pods stay bound to the name; if the host joins again before the pod GC runs, the kubelet
            // would restart them without their init containers (flannel's CNI config). Remove them now.
            const left = await client.get<List<Pod>>(`/api/v1/pods?fieldSelector=spec.nodeName=${node}`);
            for (const p of left?.items ?? [])
              await client.delete(
                `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}?gracePeriodSeconds=0`,
              );
          });
        } else {
          ctx.log.write(host.name, `node ${node} is not in the cluster; cleaning the host only`);
        }
      }
      if (host.spec.controlPlane) await removeEtcdMember(host, access, peerUrl(host), ctx);
      const state = await host.sudo(
        `[ -e ${KUBERNETES_DIR}/kubelet.conf ] || [ -e ${KUBERNETES_DIR}/bootstrap-kubelet.conf ] || ` +
          '[ -n "$(ls -A /etc/kubernetes/manifests 2>/dev/null)" ] || ' +
          '[ -n "$(ls -A /var/lib/kubelet 2>/dev/null)" ] || ' +
          'systemctl is-active kubelet >/dev/null 2>&1 && echo dirty || true',
        { step: 'inspect' },
      );
      if (state.stdout.includes('dirty'))
        await host.change(
          'stop the kubelet and remove Kubernetes state, containers, CNI config and iptables rules',
          () => host.sudo(RESET_SCRIPT, { step: 'reset', timeoutMs: 300_000 }),
        );
    },
  };
}
