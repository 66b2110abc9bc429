import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resolved } from '../config/settings.js';
import { statePkiDir } from '../config/state-dir.js';
import { UserError } from '../errors/index.js';
import { KUBERNETES_DIR } from '../kubeadm/constants.js';
import { renewalFor, renewedFiles } from '../kubeadm/renew.js';
import { connectPhase } from '../phases/connect.js';
import {
  markPendingRestarts,
  pendingRestarts,
  restartControlPlane,
  returnHeldManifests,
} from '../phases/cluster/static-pods.js';
import type { Phase } from '../phases/phase.js';
import { serialQueue } from '../util/serial.js';
import { clusterStateDir, kubeconfigForUser } from './init.js';
import { planFromInventory } from './render.js';
import { runOnHosts, type RunOptions } from './session.js';
import { nodeConfigFrom } from '../kubeadm/config.js';

/**
 * kubeadm certs renew all or NAME..., on every master: those leaf certificates and kubeconfig client certificates
 * renewed with their keys and the same CAs (in the saved PKI first), installed one master at a time, whose
 * components that read them are then restarted one after the other, each waited for before the next, so an HA
 * control plane never loses more than one member. The kubelets' own certificates rotate by themselves.
 */
export async function renewCertificates(resolved: Resolved, opts: RunOptions, names: string[] = ['all']) {
  const renewal = renewalFor(names);
  const state = clusterStateDir(resolved);
  if (!existsSync(join(state, 'admin.conf'))) throw new UserError(`no cluster state in ${state}: run kprov init first`);
  // `all` also installs the CA certificates (unchanged) and renews the saved kubelet.conf, as it always did.
  const renews = (path: string) => renewal.all || renewal.files.includes(path);
  const { plan } = await planFromInventory(resolved, statePkiDir(state), undefined, opts.dryRun ? undefined : renews);
  const first = resolved.hosts.find((h) => h.controlPlane)!;
  const oneAtATime = serialQueue();
  const renew: Phase = {
    title: 'Renew certificates',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && h.spec.controlPlane),
    runHost: (host, ctx) =>
      oneAtATime(async () => {
        const node = nodeConfigFrom(host.spec);
        const files = renewedFiles(plan.files[node.name] ?? []).filter((f) => renews(f.path));
        if (host.dryRun) {
          const renewed = files.filter((f) => renewal.files.includes(f.path));
          for (const f of renewed) host.plan(`renew ${f.path}`);
          if (renewed.length > 0) for (const component of renewal.restart) host.plan(`restart ${component}`);
          return;
        }
        await returnHeldManifests(host, ctx.log);
        // Restarts an interrupted run owed (its certificates were installed, not yet read) are done now.
        const pending = await pendingRestarts(host);
        if (renewal.restart.length > 0) await markPendingRestarts(host, renewal.restart);
        const changed = await host.ensureFiles(files);
        const restart = [...new Set([...(changed.length > 0 ? renewal.restart : []), ...pending])];
        await restartControlPlane(host, restart, ctx.log);
      }),
  };
  const masters = resolved.hosts.filter((h) => h.controlPlane).map((h) => h.name);
  const adminPath = `${KUBERNETES_DIR}/admin.conf`;
  const phases = [connectPhase, renew];
  // The sudo user's ~/.kube/config is admin.conf too: it follows.
  if (renews(adminPath)) phases.push(kubeconfigForUser({ plan }, resolved.cluster.sudoUser));
  const outcome = await runOnHosts(resolved, phases, { ...opts, only: masters }, 'certs renew');
  // The operator's admin kubeconfig follows the renewed one.
  const admin = plan.files[nodeConfigFrom(first).name]?.find((f) => f.path === adminPath);
  if (admin && renews(adminPath) && !opts.dryRun && !outcome.failed.some((h) => h.name === first.name)) {
    mkdirSync(state, { recursive: true, mode: 0o700 });
    writeFileSync(join(state, 'admin.conf'), admin.content, { mode: 0o600 });
    chmodSync(join(state, 'admin.conf'), 0o600);
  }
  return outcome;
}
