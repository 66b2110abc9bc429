import { RESTORE_DIR, RESTORE_SNAPSHOT, restoreDataScript, type RestoreMember } from '../../backup/restore-plan.js';
import { HostError } from '../../errors/index.js';
import type { Phase } from '../phase.js';
import type { RestoreTarget } from './inspect.js';

export interface RestoreData {
  snapshot: Buffer;
  sha256: string;
  revision: string;
  members: RestoreMember[];
  /** Inventory host name -> its etcd member. */
  memberOf: Map<string, RestoreMember>;
  targets: Map<string, RestoreTarget>;
}

/**
 * Upstream's second step, on every master: the snapshot restored into a fresh data directory (etcdutl snapshot
 * restore: a new cluster ID, the same members), which then replaces /var/lib/etcd. A master whose data is
 * already this snapshot's (an interrupted restore got that far) is left as it is.
 */
export function restoreDataPhase(data: RestoreData): Phase {
  return {
    title: 'Restore etcd data',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && h.spec.controlPlane),
    async runHost(host) {
      const target = data.targets.get(host.name);
      if (target?.restored === data.sha256) return;
      const member = data.memberOf.get(host.name)!;
      const image = target?.etcdImage;
      if (!image) throw new HostError(host.name, 'the etcd image is not known', { step: 'restore etcd data' });
      await host.ensureFiles([{ path: RESTORE_SNAPSHOT, content: data.snapshot, mode: 0o600, dirMode: 0o700 }]);
      const cluster = data.members.map((m) => m.name).join(', ');
      await host.change(
        `restore etcd data from snapshot ${data.sha256.slice(0, 12)} (revision ≥ ${data.revision}) as member ` +
          `${member.name} of ${cluster}`,
        async () => {
          await host.sudo(`chmod 700 ${RESTORE_DIR}`, { step: 'restore etcd data' });
          await host.sudo(restoreDataScript(image, member, data.members, data.sha256), {
            step: 'restore etcd data',
            timeoutMs: 10 * 60_000,
          });
        },
      );
    },
  };
}
