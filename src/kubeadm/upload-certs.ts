import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { PkiStore } from '../pki/store.js';
import type { Pki } from './pki.js';
import { tokenSecret, type BootstrapToken } from './token.js';

/** A certificate key: 32 random bytes, hex (kubeadm init --upload-certs). */
export function generateCertificateKey(): string {
  return randomBytes(32).toString('hex');
}

function keyBytes(certificateKey: string): Buffer {
  if (!/^[0-9a-f]{64}$/.test(certificateKey)) throw new Error('certificate key must be 64 hex characters (32 bytes)');
  return Buffer.from(certificateKey, 'hex');
}

/** nonce(12) || AES-256-GCM ciphertext || tag(16), no additional data (cmd/kubeadm/app/util/crypto). */
export function encrypt(data: Buffer, certificateKey: string): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyBytes(certificateKey), nonce);
  return Buffer.concat([nonce, cipher.update(data), cipher.final(), cipher.getAuthTag()]);
}

export function decrypt(blob: Buffer, certificateKey: string): Buffer {
  if (blob.length < 28) throw new Error('encrypted data is too short');
  const decipher = createDecipheriv('aes-256-gcm', keyBytes(certificateKey), blob.subarray(0, 12));
  decipher.setAuthTag(blob.subarray(blob.length - 16));
  return Buffer.concat([decipher.update(blob.subarray(12, blob.length - 16)), decipher.final()]);
}

/** The Secret's keys and the files they come from in a PKI directory (kubeadm's certsToTransfer). */
const SHARED_FILES: Record<string, string> = {
  'ca.crt': 'ca.crt',
  'ca.key': 'ca.key',
  'front-proxy-ca.crt': 'front-proxy-ca.crt',
  'front-proxy-ca.key': 'front-proxy-ca.key',
  'sa.pub': 'sa.pub',
  'sa.key': 'sa.key',
  'etcd-ca.crt': 'etcd/ca.crt',
  'etcd-ca.key': 'etcd/ca.key',
};

/** The same from a saved PKI directory; throws naming the first file that is missing. */
export function storedSharedSecrets(store: PkiStore): Record<string, string> {
  return Object.fromEntries(
    Object.entries(SHARED_FILES).map(([key, file]) => {
      const content = store.read(file);
      if (content === undefined) throw new Error(`${file} is missing`);
      return [key, content];
    }),
  );
}

/** What a joining control-plane node needs from the first: the CAs and the service-account key pair. */
export function sharedSecrets(pki: Pki): Record<string, string> {
  return {
    'ca.crt': pki.cas.ca.certPem,
    'ca.key': pki.cas.ca.keyPem,
    'front-proxy-ca.crt': pki.cas['front-proxy-ca'].certPem,
    'front-proxy-ca.key': pki.cas['front-proxy-ca'].keyPem,
    'sa.pub': pki.sa.pubPem,
    'sa.key': pki.sa.keyPem,
    'etcd-ca.crt': pki.cas['etcd/ca'].certPem,
    'etcd-ca.key': pki.cas['etcd/ca'].keyPem,
  };
}

/** kubeadm's DefaultCertTokenDuration: the uploaded certificates are deleted with their proxy token after 2 h. */
export const CERTS_TOKEN_TTL_MS = 2 * 3600_000;
export const CERTS_TOKEN_DESCRIPTION = 'Proxy for managing TTL for the kubeadm-certs secret';

/** The token Secret that owns kubeadm-certs: no usages and no groups, so it authenticates nobody. */
export function certsProxyTokenSecret(token: BootstrapToken, now: Date) {
  return tokenSecret(token, {
    ttlMs: CERTS_TOKEN_TTL_MS,
    description: CERTS_TOKEN_DESCRIPTION,
    usages: [],
    groups: [],
    now,
  });
}

export const KUBEADM_CERTS = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'kubeadm-certs', namespace: 'kube-system' },
};

export interface SecretOwner {
  name: string;
  uid: string;
}

/**
 * The kube-system/kubeadm-certs Secret. Uploaded, it is owned by its proxy token Secret (as a controller, blocking
 * the owner's deletion), so the garbage collector deletes it when the token cleaner deletes the expired token.
 */
export function kubeadmCertsSecret(shared: Record<string, string>, certificateKey: string, owner?: SecretOwner) {
  const data = Object.fromEntries(
    Object.entries(shared).map(([k, v]) => [k, encrypt(Buffer.from(v), certificateKey).toString('base64')]),
  );
  const ownerReferences = owner
    ? [
        {
          apiVersion: 'v1',
          kind: 'Secret',
          name: owner.name,
          uid: owner.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]
    : undefined;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { ...KUBEADM_CERTS.metadata, ...(ownerReferences ? { ownerReferences } : {}) },
    type: 'Opaque',
    data,
  };
}

/**
 * Whether a run uploads the certificates: when it creates the cluster (kubeadm init --upload-certs), and when the
 * Secret has no owner (earlier kprov versions made it so), so that it expires as kubeadm's does instead of keeping
 * the encrypted CA keys in the cluster for good. Once the token has expired and taken the Secret with it,
 * nothing is uploaded again until asked: later runs do not need it, kprov copies certificates over SSH.
 */
export function uploadReason(
  newCluster: boolean,
  existing: { metadata?: { ownerReferences?: unknown[] } } | undefined,
): string | undefined {
  if (existing) return existing.metadata?.ownerReferences?.length ? undefined : 'it had no owner and never expired';
  return newCluster ? 'new cluster' : undefined;
}

export function decryptKubeadmCerts(
  secretData: Record<string, string>,
  certificateKey: string,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(secretData).map(([k, v]) => [k, decrypt(Buffer.from(v, 'base64'), certificateKey).toString()]),
  );
}
