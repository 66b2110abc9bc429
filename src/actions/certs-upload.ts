import type { Resolved } from '../config/settings.js';
import { statePkiDir } from '../config/state-dir.js';
import { UserError } from '../errors/index.js';
import { uploadCertsRbac } from '../kubeadm/rbac.js';
import { generateToken } from '../kubeadm/token.js';
import {
  certsProxyTokenSecret,
  generateCertificateKey,
  kubeadmCertsSecret,
  storedSharedSecrets,
} from '../kubeadm/upload-certs.js';
import { uploadCertificates } from '../phases/cluster/upload-certs.js';
import { DirStore } from '../pki/store.js';
import { onClusterApi } from './cluster-api.js';
import { clusterStateDir } from './init.js';
import type { RunOptions } from './session.js';

/**
 * kubeadm init phase upload-certs --upload-certs: a new certificate key, and the cluster's CAs and service-account
 * key encrypted with it in kube-system/kubeadm-certs for 2 h, so that upstream `kubeadm join --control-plane
 * --certificate-key` can join a master. The key is saved with the cluster's state (kprov init --dry-run's join
 * command prints it) and returned.
 */
export function uploadCerts(resolved: Resolved, opts: RunOptions) {
  const store = new DirStore(statePkiDir(clusterStateDir(resolved)));
  let shared: Record<string, string>;
  try {
    shared = storedSharedSecrets(store);
  } catch (err) {
    throw new UserError(`the cluster's PKI in ${store.root} is incomplete (${(err as Error).message}): run kprov init`);
  }
  const key = generateCertificateKey();
  return onClusterApi(resolved, opts, 'certs upload', async (api) => {
    for (const obj of uploadCertsRbac()) await api.apply(obj);
    await uploadCertificates(api, certsProxyTokenSecret(generateToken(), new Date()), (owner) =>
      kubeadmCertsSecret(shared, key, owner),
    );
    store.write('certificate-key', `${key}\n`, 0o600);
    return key;
  });
}
