import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBundle, type Bundle } from '../artifacts/bundle.js';
import type { Resolved } from '../config/settings.js';
import { kprovHome, statePkiDir } from '../config/state-dir.js';
import { kubernetesVersionProblem, normalizeKubernetesVersion } from '../config/validate.js';
import { PreflightFailed, UserError } from '../errors/index.js';
import { ClusterAccess, savedCredentials } from '../kube/cluster-access.js';
import { nodeConfigFrom } from '../kubeadm/config.js';
import { formatPlan, upgradePlan, upgradeProblem, type PlanRow } from '../kubeadm/upgrade.js';
import { clusterObjectsPhase } from '../phases/cluster/objects.js';
import { planCredentials, type ClusterRun } from '../phases/cluster/run.js';
import { connectPhase, factsPhase } from '../phases/connect.js';
import { imagesPhase } from '../phases/kubernetes.js';
import { controlPlaneUpgradePhase } from '../phases/upgrade/control-plane.js';
import { inspectPhase, type ClusterInspection } from '../phases/upgrade/inspect.js';
import { kubeletUpgradePhase } from '../phases/upgrade/kubelets.js';
import { addonsRolledOutPhase } from '../phases/upgrade/rollout.js';
import { clusterStateDir, kubeconfigForUser } from './init.js';
import { planFromInventory } from './render.js';
import { runOnHosts, type RunOptions } from './session.js';

export interface UpgradeOptions extends RunOptions {
  target: string;
  artifactsDir?: string;
  maxUnavailable: number;
  certificateRenewal: boolean;
  drainTimeoutMs: number;
}

/** Rough image space a node needs for an upgrade: the bundle's images (or 1 GiB online). */
function neededMiB(bundle: Bundle | undefined): number {
  if (!bundle) return 1024;
  return Math.ceil(bundle.images.reduce((n, i) => n + statSync(i.file).size, 0) / 2 ** 20);
}

/**
 * kprov upgrade: kubeadm's upgrade apply + upgrade node for every host, in kubeadm's order and with its rules.
 * 1. Preflight (read-only): every host reachable, nodes Ready, etcd healthy and all voters, disk, version rules.
 *    With --dry-run, print the plan (as `kubeadm upgrade plan`) and stop.
 * 2. The target's images on every host; RBAC the target needs.
 * 3. Control planes one at a time (etcd, API server, controller-manager, scheduler; each waited for).
 * 4. Cluster objects at the target (kubeadm-config, kubelet-config, kube-proxy, CoreDNS), once no API server is old.
 * 5. Kubelets: masters one at a time, then workers in batches (cordon, drain, binary, restart, Ready, uncordon).
 * Every step looks before it acts, so an interrupted run is finished by running it again.
 */
export async function upgradeCluster(resolved: Resolved, opts: UpgradeOptions) {
  const problem = kubernetesVersionProblem(opts.target, '--to');
  if (problem) throw new UserError(problem);
  const target = normalizeKubernetesVersion(opts.target);
  const state = clusterStateDir(resolved);
  if (!existsSync(join(state, 'admin.conf'))) throw new UserError(`no cluster state in ${state}: run kprov init first`);
  const artifacts = opts.artifactsDir ?? resolved.cluster.artifactsDir;
  const bundle = artifacts ? loadBundle(artifacts, join(kprovHome(), 'cache', 'bundle-checked.json')) : undefined;

  // 1. Preflight, read-only.
  const first = resolved.hosts.find((h) => h.controlPlane)!;
  const found: ClusterInspection = {
    versions: { cluster: '', masters: {}, kubelets: {} },
    problems: [],
    freeMiB: {},
  };
  const inspectAccess = new ClusterAccess(savedCredentials(state, first.nodeName));
  const inspected = await runOnHosts(
    resolved,
    [connectPhase, factsPhase, inspectPhase(inspectAccess, found, neededMiB(bundle))],
    { ...opts, dryRun: true, only: undefined },
    'upgrade-preflight',
  );
  const unreachable = inspected.failed.map((h) => `${h.name}: ${h.failed?.message}`);
  if (unreachable.length > 0) throw new PreflightFailed(unreachable);
  const rule = upgradeProblem(found.versions, target);
  if (rule) throw new UserError(rule);
  const apiServerImage = bundle?.images.flatMap((i) => i.refs).find((r) => /\/kube-apiserver:/.test(r));
  if (bundle && apiServerImage && !apiServerImage.endsWith(`:${target}`)) {
    throw new UserError(
      `artifacts_dir ${bundle.dir} holds ${apiServerImage}, not Kubernetes ${target}: ` +
        `pass the target's bundle with --artifacts-dir`,
    );
  }
  if (found.problems.length > 0) throw new PreflightFailed(found.problems);
  const rows: PlanRow[] = upgradePlan(found.versions, target);
  const planText = formatPlan(found.versions, target, rows);
  if (opts.dryRun) return { planText, rows, outcome: undefined };

  // 2-5. The upgrade, with everything rendered at the target version.
  const atTarget: Resolved = { ...resolved, cluster: { ...resolved.cluster, kubernetesVersion: target } };
  const controlPlaneChanges = rows.some((r) => r.node && r.component !== 'kubelet');
  const renew = opts.certificateRenewal && controlPlaneChanges;
  const { plan, cfg } = await planFromInventory(
    atTarget,
    statePkiDir(state),
    undefined,
    renew ? () => true : undefined,
  );
  const run: ClusterRun = {
    cfg,
    plan,
    nodes: Object.fromEntries(resolved.hosts.map((h) => [h.nodeName, nodeConfigFrom(h)])),
    first: first.nodeName,
    joined: [],
    access: new ClusterAccess(planCredentials(plan, first.nodeName)),
  };
  const rbacOnly: ClusterRun = { ...run, plan: { ...plan, objects: { '00-rbac': plan.objects['00-rbac'] } } };
  const phases = [
    connectPhase,
    factsPhase,
    { ...imagesPhase(bundle), title: `Container images for ${target}` },
    { ...viaFirstMaster(rbacOnly), title: 'RBAC for the target version' },
    controlPlaneUpgradePhase(run, renew),
    { ...viaFirstMaster(run), title: 'Cluster objects and addons' },
    addonsRolledOutPhase(run),
    kubeletUpgradePhase(run, {
      target,
      bundle,
      maxUnavailable: opts.maxUnavailable,
      drainTimeoutMs: opts.drainTimeoutMs,
    }),
    kubeconfigForUser(run, resolved.cluster.sudoUser),
  ];
  const outcome = await runOnHosts(atTarget, phases, { ...opts, only: undefined }, 'upgrade');
  // The operator's admin kubeconfig follows a renewed one.
  const admin = plan.files[first.nodeName]?.find((f) => f.path.endsWith('/admin.conf'));
  if (renew && admin && !outcome.failed.some((h) => h.spec.controlPlane)) {
    mkdirSync(state, { recursive: true, mode: 0o700 });
    writeFileSync(join(state, 'admin.conf'), admin.content, { mode: 0o600 });
    chmodSync(join(state, 'admin.conf'), 0o600);
  }
  return { planText, rows, outcome };
}

/** Cluster objects through the first master (which the control-plane step just upgraded). */
function viaFirstMaster(run: ClusterRun) {
  const phase = clusterObjectsPhase(run);
  return {
    ...phase,
    select: (ctx: Parameters<NonNullable<typeof phase.select>>[0]) => {
      const host = ctx.hosts.find((h) => h.spec.nodeName === run.first && !h.failed);
      if (host && !run.access.via) run.access.useMaster(host, run.nodes[run.first].advertiseAddress, ctx.log);
      return host ? [host] : [];
    },
  };
}
