import { certificateSha256 } from '../../backup/archive.js';
import { RESTORED_MARKER } from '../../backup/restore-plan.js';
import { HostError } from '../../errors/index.js';
import { PKI_DIR } from '../../kubeadm/constants.js';
import type { Phase } from '../phase.js';
import { etcdImageOn } from './held.js';

/** What restore needs to know of a master before it changes anything. */
export interface RestoreTarget {
  caSha256?: string;
  etcdImage?: string;
  /** sha256 of the snapshot an interrupted restore already put in place on this master. */
  restored?: string;
}

/**
 * Read-only: each master's CA fingerprint, the etcd image it runs (which must be on the host: etcdutl runs from
 * it), and what an earlier, interrupted restore already did.
 */
export function restoreInspectPhase(found: Map<string, RestoreTarget>): Phase {
  return {
    title: 'Inspect masters',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && h.spec.controlPlane),
    async runHost(host) {
      const ca = (await host.sudo(`cat ${PKI_DIR}/ca.crt 2>/dev/null || true`, { step: 'read CA' })).stdout;
      const etcdImage = await etcdImageOn(host);
      if (!etcdImage) {
        throw new HostError(host.name, 'no etcd manifest here: is this a master of a kprov cluster?', {
          step: 'inspect',
        });
      }
      const images = (await host.sudo('ctr -n k8s.io images ls -q', { step: 'list images' })).stdout.split('\n');
      if (!images.includes(etcdImage)) {
        throw new HostError(host.name, `the etcd image ${etcdImage} is not on this host (etcdutl runs from it)`, {
          step: 'inspect',
        });
      }
      const restored = (
        await host.sudo(`cat ${RESTORED_MARKER} 2>/dev/null || true`, { step: 'inspect' })
      ).stdout.trim();
      found.set(host.name, {
        caSha256: ca.includes('BEGIN CERTIFICATE') ? certificateSha256(ca) : undefined,
        etcdImage,
        restored: restored || undefined,
      });
    },
  };
}
