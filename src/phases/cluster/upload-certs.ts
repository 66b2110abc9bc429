import type { KubeClient } from '../../kube/client.js';
import { objectPath } from '../../kube/client.js';
import {
  CERTS_TOKEN_TTL_MS,
  KUBEADM_CERTS,
  uploadReason,
  type certsProxyTokenSecret,
  type kubeadmCertsSecret,
  type SecretOwner,
} from '../../kubeadm/upload-certs.js';
import type { Phase } from '../phase.js';
import { viaMaster, type ClusterRun } from './run.js';

export const CERTS_TOKEN_HOURS = CERTS_TOKEN_TTL_MS / 3600_000;

/** Create the proxy token, then the Secret it owns: the owner reference needs the uid the API server gives it. */
export async function uploadCertificates(
  api: KubeClient,
  tokenSecret: ReturnType<typeof certsProxyTokenSecret>,
  secretFor: (owner: SecretOwner) => ReturnType<typeof kubeadmCertsSecret>,
): Promise<void> {
  const token = await api.apply(tokenSecret);
  const uid = token.metadata.uid;
  if (!uid) throw new Error(`the API server returned ${tokenSecret.metadata.name} without a uid`);
  await api.apply(secretFor({ name: token.metadata.name, uid }));
}

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
      if (host.dryRun) {
        if (run.newCluster)
          host.plan(`upload kube-system/kubeadm-certs, deleted with its token after ${CERTS_TOKEN_HOURS} h`);
        return;
      }
      const api = run.access.api(host, 'upload certificates');
      const why = uploadReason(run.newCluster ?? false, await api.get(objectPath(KUBEADM_CERTS)));
      if (!why) return;
      await uploadCertificates(api, upload.tokenSecret, upload.secret);
      host.changed(`upload kube-system/kubeadm-certs (${why}), deleted with its token after ${CERTS_TOKEN_HOURS} h`);
    },
  };
}
