import { join } from 'node:path';
import type { Resolved } from '../config/settings.js';
import { loadBundle } from '../artifacts/bundle.js';
import { kprovHome } from '../config/state-dir.js';
import { UserError } from '../errors/index.js';
import { parseToken } from '../kubeadm/token.js';
import { binariesPhase, imagesPhase } from '../phases/kubernetes.js';
import {
  foreignDiscoveryPhase,
  foreignJoinPhase,
  foreignReadyPhase,
  foreignVersion,
  foreignVersionPhase,
  type ForeignRun,
} from '../phases/cluster/foreign-join.js';
import type { Phase } from '../phases/phase.js';
import { preparePhases } from './prepare.js';
import { runOnHosts, type RunOptions } from './session.js';

/**
 * kprov join to a cluster kprov did not create (upstream `kubeadm init`), from the endpoint, a bootstrap token and
 * the CA cert hash only: the hosts are prepared exactly as for kprov's own clusters (sudo user, prerequisites,
 * runtime, kubelet and the worker images), then joined as `kubeadm join` does. kprov's saved cluster state takes no
 * part and none is written: no PKI, no admin kubeconfig, no cluster objects.
 */
export async function joinForeignCluster(
  resolved: Resolved,
  opts: RunOptions & { artifactsDir?: string; readyTimeoutMs: number },
) {
  const foreign = resolved.cluster.foreignJoin;
  if (!foreign) throw new Error('joinForeignCluster needs the foreign join settings');
  const selected = opts.only ? resolved.hosts.filter((h) => opts.only!.includes(h.name)) : resolved.hosts;
  const masters = selected.filter((h) => h.controlPlane);
  if (masters.length > 0) {
    throw new UserError(
      `joining with a bootstrap token adds workers only, but ${masters.map((h) => `"${h.name}"`).join(', ')} ` +
        `${masters.length === 1 ? 'is' : 'are'} in the control-plane group: list only the workers to join ` +
        '(an empty or absent [masters] group is fine), or pick them with --hosts',
      masters[0].source,
    );
  }
  if (selected.length === 0) {
    throw new UserError('the inventory lists no workers to join (a [workers] group)', {
      file: resolved.inventory.file,
    });
  }
  const artifacts = opts.artifactsDir ?? resolved.cluster.artifactsDir;
  const bundle = artifacts ? loadBundle(artifacts, join(kprovHome(), 'cache', 'bundle-checked.json')) : undefined;
  const run: ForeignRun = {
    join: foreign,
    token: parseToken(foreign.token),
    discovered: new Map(),
    alreadyJoined: new Set(),
    healthzPorts: new Map(),
    joined: [],
  };
  const [connect, facts, validate, ...prepare] = preparePhases(bundle);
  const phases: Phase[] = [
    connect,
    facts,
    validate,
    // Before anything changes: the token, the CA pin and the cluster's version are checked from every host.
    foreignDiscoveryPhase(run),
    foreignVersionPhase(run),
    ...prepare,
    binariesPhase(foreignVersion(run), bundle),
    imagesPhase(bundle),
    foreignJoinPhase(run),
    foreignReadyPhase(run, opts.readyTimeoutMs),
  ];
  return { ...(await runOnHosts(resolved, phases, opts, 'join')), run };
}
