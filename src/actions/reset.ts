import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resolved } from '../config/settings.js';
import { KubeClient } from '../kube/client.js';
import { parseKubeconfig } from '../kubeadm/kubeconfig.js';
import { API_PORT } from '../kubeadm/constants.js';
import { connectPhase, factsPhase } from '../phases/connect.js';
import { resetPhase } from '../phases/reset.js';
import type { Host } from '../host/host.js';
import { clusterStateDir } from './init.js';
import { runOnHosts, type RunOptions } from './session.js';

/** kprov reset: drain and delete the nodes when the cluster answers, then clean each host as kubeadm reset does. */
export async function resetHosts(resolved: Resolved, opts: RunOptions & { targets: string[] }) {
  const first = resolved.hosts.find((h) => h.controlPlane)!;
  const adminFile = join(clusterStateDir(resolved), 'admin.conf');
  let hosts: Host[] = [];
  const api = () => {
    const master = hosts.find((h) => h.name === first.name && !h.failed);
    if (!master || !existsSync(adminFile)) return undefined;
    const k = parseKubeconfig(readFileSync(adminFile, 'utf8'));
    const address = first.nodeIp ?? first.address;
    return new KubeClient(() => master.conn.forward(address, API_PORT), { caPem: k.caPem, certPem: k.clientCertPem, keyPem: k.clientKeyPem }, address);
  };
  const reset = resetPhase(api);
  const targets = new Set(opts.targets);
  const phases = [connectPhase, factsPhase, { ...reset, select: (ctx: { hosts: Host[] }) => ctx.hosts.filter((h) => !h.failed && targets.has(h.name)) }];
  // The first master is connected too (when it is not itself reset) so the API can be reached through it.
  const only = [...new Set([...opts.targets, first.name])];
  return runOnHosts(resolved, phases, { ...opts, only }, 'reset', (h) => (hosts = h));
}
