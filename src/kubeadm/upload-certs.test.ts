import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../pki/store.js';
import { ensurePki } from './pki.js';
import { decrypt, encrypt, generateCertificateKey, kubeadmCertsSecret, decryptKubeadmCerts } from './upload-certs.js';
import { testConfig } from './fixtures.testing.js';

describe('upload-certs', async () => {
  const { pki } = await ensurePki(new MemoryStore(), testConfig({ encryptionAlgorithm: 'ECDSA-P256' }), [
    { name: 'm1', advertiseAddress: '10.0.0.10', controlPlane: true, worker: false },
  ]);

  it('round-trips AES-256-GCM with a 12-byte nonce and 16-byte tag, and detects tampering', () => {
    const key = generateCertificateKey();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const blob = encrypt(Buffer.from('secret'), key);
    expect(blob.length).toBe(12 + 6 + 16);
    expect(decrypt(blob, key).toString()).toBe('secret');
    blob[14] ^= 1;
    expect(() => decrypt(blob, key)).toThrow();
    expect(() => decrypt(encrypt(Buffer.from('x'), key), generateCertificateKey())).toThrow();
  });

  it('builds the kubeadm-certs Secret a joining master can decrypt', () => {
    const key = generateCertificateKey();
    const secret = kubeadmCertsSecret(pki, key);
    expect(Object.keys(secret.data).sort()).toEqual([
      'ca.crt',
      'ca.key',
      'etcd-ca.crt',
      'etcd-ca.key',
      'front-proxy-ca.crt',
      'front-proxy-ca.key',
      'sa.key',
      'sa.pub',
    ]);
    const plain = decryptKubeadmCerts(secret.data, key);
    expect(plain['ca.key']).toBe(pki.cas.ca.keyPem);
    expect(plain['etcd-ca.crt']).toBe(pki.cas['etcd/ca'].certPem);
  });
});
