import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

export type KeyAlgorithm = 'RSA-2048' | 'RSA-3072' | 'RSA-4096' | 'ECDSA-P256';
export const KEY_ALGORITHMS: KeyAlgorithm[] = ['RSA-2048', 'RSA-3072', 'RSA-4096', 'ECDSA-P256'];

export interface KeyPair {
  /** PEM as kubeadm writes it: "RSA PRIVATE KEY" (PKCS#1) or "EC PRIVATE KEY" (SEC1). */
  privateKeyPem: string;
  /** DER SubjectPublicKeyInfo. */
  publicKeyDer: Buffer;
}

const generate = promisify(generateKeyPair);

/** Native (OpenSSL) key generation: node-forge's pure-JS RSA would take seconds per key. */
export async function generateKey(algorithm: KeyAlgorithm): Promise<KeyPair> {
  if (algorithm === 'ECDSA-P256') {
    const { privateKey, publicKey } = await generate('ec', {
      namedCurve: 'prime256v1',
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'sec1', format: 'pem' },
    });
    return { privateKeyPem: privateKey, publicKeyDer: publicKey };
  }
  const modulusLength = Number(algorithm.split('-')[1]);
  const { privateKey, publicKey } = await generate('rsa', {
    modulusLength,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyDer: publicKey };
}

export function keyPairFromPem(privateKeyPem: string): KeyPair {
  const key = createPrivateKey(privateKeyPem);
  return { privateKeyPem, publicKeyDer: createPublicKey(key).export({ type: 'spki', format: 'der' }) };
}

export function algorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ec')
    return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ECDSA-P256' : undefined;
  if (key.asymmetricKeyType === 'rsa') return `RSA-${key.asymmetricKeyDetails?.modulusLength}` as KeyAlgorithm;
  return undefined;
}

/** PEM of a public key as kubeadm writes sa.pub: "PUBLIC KEY" (PKIX). */
export function publicKeyPem(publicKeyDer: Buffer): string {
  return createPublicKey({ key: publicKeyDer, format: 'der', type: 'spki' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
}
