import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Pki } from './pki.js';

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

/** The kube-system/kubeadm-certs Secret; it is owned by a short-lived token Secret so it is deleted with it. */
export function kubeadmCertsSecret(pki: Pki, certificateKey: string, owner?: { name: string; uid: string }) {
  const data = Object.fromEntries(
    Object.entries(sharedSecrets(pki)).map(([k, v]) => [k, encrypt(Buffer.from(v), certificateKey).toString('base64')]),
  );
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'kubeadm-certs',
      namespace: 'kube-system',
      ...(owner
        ? {
            ownerReferences: [
              {
                apiVersion: 'v1',
                kind: 'Secret',
                name: owner.name,
                uid: owner.uid,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          }
        : {}),
    },
    type: 'Opaque',
    data,
  };
}

export function decryptKubeadmCerts(
  secretData: Record<string, string>,
  certificateKey: string,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(secretData).map(([k, v]) => [k, decrypt(Buffer.from(v, 'base64'), certificateKey).toString()]),
  );
}
