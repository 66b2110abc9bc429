import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../pki/store.js';
import { ensurePki } from './pki.js';
import {
  CERTS_TOKEN_DESCRIPTION,
  certsProxyTokenSecret,
  decrypt,
  decryptKubeadmCerts,
  encrypt,
  generateCertificateKey,
  kubeadmCertsSecret,
  sharedSecrets,
  storedSharedSecrets,
  uploadReason,
} from './upload-certs.js';
import { generateToken } from './token.js';
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
    const secret = kubeadmCertsSecret(sharedSecrets(pki), key);
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

  it('makes the proxy token as kubeadm does: 2 h, its description, no usages and no groups', () => {
    const now = new Date('2026-12-01T08:00:00Z');
    const token = generateToken();
    const secret = certsProxyTokenSecret(token, now);
    expect(secret.metadata.name).toBe(`bootstrap-token-${token.id}`);
    expect(secret.type).toBe('bootstrap.kubernetes.io/token');
    expect(secret.stringData).toEqual({
      'token-id': token.id,
      'token-secret': token.secret,
      description: CERTS_TOKEN_DESCRIPTION,
      expiration: '2026-12-01T10:00:00Z',
    });
  });

  it('has the uploaded Secret owned by its token, as the controller that blocks its deletion', () => {
    const secret = kubeadmCertsSecret(sharedSecrets(pki), generateCertificateKey(), {
      name: 'bootstrap-token-abcdef',
      uid: 'u-1',
    });
    expect(secret.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Secret',
        name: 'bootstrap-token-abcdef',
        uid: 'u-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it('uploads for a new cluster and re-owns a Secret that never expires, but never re-creates an expired one', () => {
    const owned = { metadata: { ownerReferences: [{ kind: 'Secret', name: 'bootstrap-token-abcdef' }] } };
    expect(uploadReason(true, undefined)).toBe('new cluster');
    expect(uploadReason(false, undefined)).toBeUndefined();
    expect(uploadReason(false, owned)).toBeUndefined();
    expect(uploadReason(true, owned)).toBeUndefined();
    expect(uploadReason(false, { metadata: {} })).toMatch(/no owner/);
    expect(uploadReason(false, { metadata: { ownerReferences: [] } })).toMatch(/no owner/);
  });

  it('reads the same eight from a saved PKI directory, and names a missing file', () => {
    const store = new MemoryStore();
    const files: Record<string, string> = {
      'ca.crt': pki.cas.ca.certPem,
      'ca.key': pki.cas.ca.keyPem,
      'front-proxy-ca.crt': pki.cas['front-proxy-ca'].certPem,
      'front-proxy-ca.key': pki.cas['front-proxy-ca'].keyPem,
      'sa.pub': pki.sa.pubPem,
      'sa.key': pki.sa.keyPem,
      'etcd/ca.crt': pki.cas['etcd/ca'].certPem,
    };
    for (const [file, content] of Object.entries(files)) store.write(file, content, 0o600);
    expect(() => storedSharedSecrets(store)).toThrow('etcd/ca.key is missing');
    store.write('etcd/ca.key', pki.cas['etcd/ca'].keyPem, 0o600);
    expect(storedSharedSecrets(store)).toEqual(sharedSecrets(pki));
  });
});
