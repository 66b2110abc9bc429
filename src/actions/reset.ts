import type { Resolved } from '../config/settings.js';
import { nodeConfigFrom } from '../kubeadm/config.js';
import { peerUrlOf } from '../kubeadm/etcd-members.js';
import { ClusterAccess, savedCredentials } from '../kube/cluster-access.js';
import { connectPhase, factsPhase } from '../phases/connect.js';
import { resetPhase } from '../phases/reset.js';
import type { Phase } from '../phases/phase.js';
import type { Host } from '../host/host.js';
import { clusterStateDir } from './init.js';
import { runOnHosts, type RunOptions } from './session.js';

/** kprov reset: drain and delete the nodes when the cluster answers, then clean each host as kubeadm reset does. */
export async function resetHosts(resolved: Resolved, opts: RunOptions & { targets: string[] }) {
  const targets = new Set(opts.targets);
  // The API and etcd are reached through a master that stays (the first one if every master is reset).
  const masters = resolved.hosts.filter((h) => h.controlPlane);
  const via = masters.find((h) => !targets.has(h.name)) ?? masters[0];
  const access = new ClusterAccess(savedCredentials(clusterStateDir(resolved), via.nodeName));
  const useVia: Phase = {
    title: 'API access',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && h.name === via.name),
    async runHost(host, ctx) {
      access.useMaster(host, nodeConfigFrom(via).advertiseAddress, ctx.log);
    },
  };
  const reset = resetPhase(access, (host) => peerUrlOf(nodeConfigFrom(host.spec).advertiseAddress));
  const phases = [
    connectPhase,
    factsPhase,
    useVia,
    { ...reset, select: (ctx: { hosts: Host[] }) => ctx.hosts.filter((h) => !h.failed && targets.has(h.name)) },
  ];
  const only = [...new Set([...opts.targets, via.name])];
  return runOnHosts(resolved, phases, { ...opts, only }, 'reset');
}
