import { createHash } from 'node:crypto';
import { HostError } from '../../errors/index.js';
import { PKI_DIR } from '../../kubeadm/constants.js';
import type { Phase } from '../phase.js';
import type { ClusterRun } from './run.js';

/**
 * A host that already trusts a cluster CA must trust this one: otherwise kprov's state for the inventory is not
 * this cluster's (another --pki-dir, or an inventory at another path) and writing would replace the host's
 * PKI: a broken cluster, or a second one. Checked before anything is changed.
 */
export function clusterIdentityPhase(run: ClusterRun, pkiDir: string): Phase {
  const caPem = run.plan.files[run.first].find((f) => f.path === `${PKI_DIR}/ca.crt`)!.content;
  const want = createHash('sha256').update(caPem).digest('hex');
  return {
    title: 'Cluster identity',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed),
    async runHost(host) {
      const r = await host.sudo(`sha256sum ${PKI_DIR}/ca.crt 2>/dev/null || true`, { step: 'read cluster CA' });
      const have = r.stdout.trim().split(/\s+/)[0];
      if (have && have !== want) {
        throw new HostError(
          host.name,
          `this host already belongs to a cluster whose CA (${PKI_DIR}/ca.crt, sha256 ${have.slice(0, 16)}…) ` +
            `is not the one kprov holds for this inventory in ${pkiDir} (sha256 ${want.slice(0, 16)}…). ` +
            'Nothing was changed. Run kprov with the --pki-dir of that cluster ' +
            '(state is kept per inventory file path), or kprov reset the host first',
          { step: 'cluster identity' },
        );
      }
    },
  };
}
