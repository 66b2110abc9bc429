import { objectPath } from '../../kube/client.js';
import { CERTS_TOKEN_TTL_MS, KUBEADM_CERTS, uploadReason } from '../../kubeadm/upload-certs.js';
import type { Phase } from '../phase.js';
import { viaMaster, type ClusterRun } from './run.js';

/**
 * kubeadm init --upload-certs: the encrypted CAs and service-account key in kube-system/kubeadm-certs, for a master
 * that upstream kubeadm joins with --certificate-key. The Secret is owned by a token that expires in 2 h, so the
 * garbage collector deletes both, as kubeadm's are.
 */
export function uploadCertsPhase(run: ClusterRun): Phase {
  return {
    title: 'Upload certificates',
    select: viaMaster(run),
    async runHost(host) {
      const upload = run.plan.uploadCerts;
      if (!upload) return;
      const hours = CERTS_TOKEN_TTL_MS / 3600_000;
      if (host.dryRun) {
        if (run.newCluster) host.plan(`upload kube-system/kubeadm-certs, deleted with its token after ${hours} h`);
        return;
      }
      const api = run.access.api(host, 'upload certificates');
      const why = uploadReason(run.newCluster ?? false, await api.get(objectPath(KUBEADM_CERTS)));
      if (!why) return;
      const token = await api.apply(upload.tokenSecret);
      const uid = token.metadata.uid;
      if (!uid) throw new Error(`the API server returned ${upload.tokenSecret.metadata.name} without a uid`);
      await api.apply(upload.secret({ name: token.metadata.name, uid }));
      host.changed(`upload kube-system/kubeadm-certs (${why}), deleted with its token after ${hours} h`);
    },
  };
}
