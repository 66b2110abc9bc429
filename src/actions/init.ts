import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Resolved } from '../config/settings.js';
import { loadBundle, type Bundle } from '../artifacts/bundle.js';
import { nodeConfigFrom } from '../kubeadm/config.js';
import { shq } from '../ssh/quote.js';
import { preparePhases } from './prepare.js';
import { planFromInventory } from './render.js';
import { runOnHosts, type RunOptions } from './session.js';
import { binariesPhase, imagesPhase } from '../phases/kubernetes.js';
import { ClusterAccess } from '../kube/cluster-access.js';
import { planCredentials, type ClusterRun } from '../phases/cluster/run.js';
import { clusterIdentityPhase } from '../phases/cluster/identity.js';
import { versionGuardPhase } from '../phases/cluster/version-guard.js';
import { controlPlanePhase } from '../phases/cluster/init.js';
import { apiThroughAnotherMasterPhase } from '../phases/cluster/api-access.js';
import { clusterObjectsPhase } from '../phases/cluster/objects.js';
import { uploadCertsPhase } from '../phases/cluster/upload-certs.js';
import { controlPlaneJoinPhase } from '../phases/cluster/join-masters.js';
import { joinPhase } from '../phases/cluster/join-workers.js';
import { nodesReadyPhase } from '../phases/cluster/nodes-ready.js';
import { kubeletFinalizePhase } from '../phases/cluster/kubelet-finalize.js';
import type { Phase } from '../phases/phase.js';
import type { Host } from '../host/host.js';
import type { DesiredFile } from '../ssh/files.js';
import { UserError } from '../errors/index.js';
import { clusterStateDirFor, kprovHome, statePkiDir } from '../config/state-dir.js';

export { kprovHome };

/** Where kprov keeps a cluster's PKI and admin kubeconfig on the operator's machine. */
export function clusterStateDir(resolved: Resolved): string {
  return clusterStateDirFor(resolved.inventory.file, resolved.cluster.clusterName);
}

export interface InitResult {
  adminConf?: string;
  run: ClusterRun;
}

/** ~/.kube/config for a user: the file and its ~/.kube directory belong to the user (kubectl must read it). */
export function kubeconfigFileFor(user: string, home: string, content: string | Buffer): DesiredFile {
  const owner = { owner: user, group: user, dirOwner: user, dirGroup: user };
  return { path: `${home}/.kube/config`, content, mode: 0o600, dirMode: 0o700, ...owner };
}

/** The sudo user gets admin.conf as ~/.kube/config on control-plane hosts, as in the classic tutorial. */
export function kubeconfigForUser(run: Pick<ClusterRun, 'plan'>, sudoUser: string): Phase {
  return {
    title: 'kubectl for the sudo user',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && h.spec.controlPlane),
    async runHost(host: Host) {
      const admin = run.plan.files[host.spec.nodeName]?.find((f) => f.path.endsWith('/admin.conf'));
      if (!admin) return;
      const home = (
        await host.sudo(`getent passwd ${shq(sudoUser)} | cut -d: -f6`, { step: 'find home' })
      ).stdout.trim();
      if (!home) return;
      await host.ensureFiles([kubeconfigFileFor(sudoUser, home, admin.content)]);
    },
  };
}

/** kprov init: prepare every host, bring up the control plane on the first master, join the rest, wait for Ready. */
export async function initCluster(
  resolved: Resolved,
  opts: RunOptions & { pkiDir?: string; configFile?: string; artifactsDir?: string; readyTimeoutMs: number },
) {
  // As kubeadm: more control-plane hosts need an endpoint that does not die with the first one.
  const extraMasters = resolved.hosts.filter((h) => h.controlPlane).slice(1);
  if (extraMasters.length > 0 && !resolved.cluster.controlPlaneEndpoint) {
    throw new UserError(
      `${extraMasters.length + 1} control-plane hosts need control_plane_endpoint ` +
        `(a load balancer or DNS name reaching port 6443 on every master) in ${resolved.inventory.file}: ` +
        'without it every node would talk to the first master only',
    );
  }
  const state = clusterStateDir(resolved);
  const pkiDir = resolve(opts.pkiDir ?? statePkiDir(state));
  const { plan, cfg } = await planFromInventory(resolved, pkiDir, opts.configFile);
  const artifacts = opts.artifactsDir ?? resolved.cluster.artifactsDir;
  const bundle: Bundle | undefined = artifacts
    ? loadBundle(artifacts, join(kprovHome(), 'cache', 'bundle-checked.json'))
    : undefined;
  const nodes = Object.fromEntries(resolved.hosts.map((h) => [h.nodeName, nodeConfigFrom(h)]));
  const first = resolved.hosts.find((h) => h.controlPlane)!;
  const run: ClusterRun = {
    cfg,
    plan,
    nodes,
    first: first.nodeName,
    joined: [],
    access: new ClusterAccess(planCredentials(plan, first.nodeName)),
  };
  const [connect, facts, validate, ...prepare] = preparePhases(bundle);
  const phases: Phase[] = [
    connect,
    facts,
    validate,
    versionGuardPhase(state, cfg.kubernetesVersion),
    clusterIdentityPhase(run, pkiDir),
    ...prepare,
    binariesPhase(cfg.kubernetesVersion, bundle),
    imagesPhase(bundle),
    controlPlanePhase(run),
    apiThroughAnotherMasterPhase(run),
    clusterObjectsPhase(run),
    uploadCertsPhase(run),
    controlPlaneJoinPhase(run),
    joinPhase(run),
    kubeconfigForUser(run, resolved.cluster.sudoUser),
    nodesReadyPhase(run, opts.readyTimeoutMs),
    kubeletFinalizePhase(run),
  ];
  // The first master is always part of a run: workers join through it.
  const only = opts.only ? [...new Set([first.name, ...opts.only])] : undefined;
  const outcome = await runOnHosts(resolved, phases, { ...opts, only }, 'init');
  let adminConf: string | undefined;
  const adminFile = plan.files[first.nodeName].find((f) => f.path.endsWith('/admin.conf'));
  if (adminFile && !opts.dryRun && !outcome.failed.some((h) => h.name === first.name)) {
    mkdirSync(state, { recursive: true, mode: 0o700 });
    adminConf = join(state, 'admin.conf');
    writeFileSync(adminConf, adminFile.content, { mode: 0o600 });
    chmodSync(adminConf, 0o600);
  }
  return { ...outcome, adminConf, run };
}
