import { DATA_BEFORE_RESTORE, RESTORE_SNAPSHOT, RESTORED_MARKER } from '../../backup/restore-plan.js';
import type { Phase } from '../phase.js';

/**
 * What upstream recommends after a restore: restart every kubelet so none acts on what it cached from the
 * cluster as it was. Then, only once every master is done, the snapshot and the resume marker go (the data
 * from before the restore stays, in case it is needed).
 */
export const restartKubeletsPhase: Phase = {
  title: 'Restart kubelets',
  select: (ctx) => ctx.hosts.filter((h) => !h.failed),
  async runHost(host) {
    await host.change('restart the kubelet', () => host.sudo('systemctl restart kubelet', { step: 'restart kubelet' }));
  },
};

export const restoreCleanupPhase: Phase = {
  title: 'Clean up',
  select: (ctx) =>
    ctx.hosts.some((h) => h.failed && h.spec.controlPlane) ? [] : ctx.hosts.filter((h) => h.spec.controlPlane),
  async runHost(host) {
    const left = await host.sudo(`ls ${RESTORE_SNAPSHOT} ${RESTORED_MARKER} 2>/dev/null || true`, { step: 'clean up' });
    // A dry run uploaded nothing, but the restore it describes would leave the snapshot to remove.
    if (!left.stdout.trim() && !host.dryRun) return;
    await host.change(`remove the snapshot copy (the data from before is kept in ${DATA_BEFORE_RESTORE})`, () =>
      host.sudo(`rm -f ${RESTORE_SNAPSHOT} ${RESTORED_MARKER}`, { step: 'clean up' }),
    );
  },
};
