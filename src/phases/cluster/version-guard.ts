import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterAccess, savedCredentials } from '../../kube/cluster-access.js';
import { nodeConfigFrom } from '../../kubeadm/config.js';
import { compareVersions } from '../../kubeadm/versions.js';
import { recordedVersion } from '../upgrade/inspect.js';
import type { Phase } from '../phase.js';

/**
 * init and join converge a cluster at the inventory's kubernetes_version; on a running cluster of another version
 * that would change every control plane at once (or go backwards). Refuse, and point at kprov upgrade.
 */
export function versionGuardPhase(stateDir: string, wanted: string): Phase {
  return {
    title: 'Cluster version',
    async runAll(hosts, ctx) {
      const problems = new Map<string, string>();
      if (!existsSync(join(stateDir, 'admin.conf'))) return problems;
      for (const master of hosts.filter((h) => h.spec.controlPlane)) {
        const access = new ClusterAccess(savedCredentials(stateDir, master.spec.nodeName));
        access.useMaster(master, nodeConfigFrom(master.spec).advertiseAddress, ctx.log);
        const running = await recordedVersion(access.api(master, 'cluster version')).catch(() => undefined);
        if (running === undefined) continue;
        if (running !== wanted) {
          const why =
            `the cluster runs ${running} but kubernetes_version is ${wanted}: ` +
            (compareVersions(running, wanted) > 0
              ? `set kubernetes_version: ${running} in the inventory (kprov never downgrades)`
              : `use kprov upgrade --to ${wanted} (it upgrades one node at a time), or set ${running}`);
          for (const h of hosts) problems.set(h.name, why);
        }
        break;
      }
      return problems;
    },
  };
}
