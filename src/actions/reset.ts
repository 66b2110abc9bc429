import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resolved } from '../config/settings.js';
import { KubeClient } from '../kube/client.js';
import { parseKubeconfig } from '../kubeadm/kubeconfig.js';
import { API_PORT, ETCD_CLIENT_PORT } from '../kubeadm/constants.js';
import { nodeConfigFrom } from '../kubeadm/config.js';
import { peerUrlOf } from '../kubeadm/etcd-members.js';
import { EtcdClient } from '../kube/etcd.js';
import { connectPhase, factsPhase } from '../phases/connect.js';
import { resetPhase } from '../phases/reset.js';
import type { Host } from '../host/host.js';
import { clusterStateDir } from './init.js';
import { runOnHosts, type RunOptions } from './session.js';

/** kprov reset: drain and delete the nodes when the cluster answers, then clean each host as kubeadm reset does. */
export async function resetHosts(resolved: Resolved, opts: RunOptions & { targets: string[] }) {
  const targets = new Set(opts.targets);
  // The API and etcd are reached through a master that stays (the first one if every master is reset).
  const masters = resolved.hosts.filter((h) => h.controlPlane);
  const via = masters.find((h) => !targets.has(h.name)) ?? masters[0];
  const state = clusterStateDir(resolved);
  const adminFile = join(state, 'admin.conf');
  const pki = (path: string) => join(state, 'pki', path);
  const address = nodeConfigFrom(via).advertiseAddress;
  let hosts: Host[] = [];
  const viaHost = () => hosts.find((h) => h.name === via.name && !h.failed);
  const api = () => {
    const master = viaHost();
    if (!master || !existsSync(adminFile)) return undefined;
    const k = parseKubeconfig(readFileSync(adminFile, 'utf8'));
    return new KubeClient(() => master.conn.forward(address, API_PORT), { caPem: k.caPem, certPem: k.clientCertPem, keyPem: k.clientKeyPem }, address);
  };
  const etcd = () => {
    const master = viaHost();
    const [ca, cert, key] = [pki('etcd/ca.crt'), pki(`nodes/${via.nodeName}/apiserver-etcd-client.crt`), pki(`nodes/${via.nodeName}/apiserver-etcd-client.key`)];
    if (!master || ![ca, cert, key].every(existsSync)) return undefined;
    const creds = { caPem: readFileSync(ca, 'utf8'), certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
    return new EtcdClient((to) => master.conn.forward(to, ETCD_CLIENT_PORT), creds, address);
  };
  const reset = resetPhase(api, etcd, (host) => peerUrlOf(nodeConfigFrom(host.spec).advertiseAddress));
  const phases = [connectPhase, factsPhase, { ...reset, select: (ctx: { hosts: Host[] }) => ctx.hosts.filter((h) => !h.failed && targets.has(h.name)) }];
  const only = [...new Set([...opts.targets, via.name])];
  return runOnHosts(resolved, phases, { ...opts, only }, 'reset', (h) => (hosts = h));
}
