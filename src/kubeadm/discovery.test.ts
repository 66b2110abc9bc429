import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../pki/store.js';
import { ensurePki } from './pki.js';
import { caCertHash, clusterInfoConfigMap, signDetached, verifyClusterInfo, verifyDetached } from './discovery.js';
import { formatToken, generateToken, parseToken, tokenSecret, TOKEN_PATTERN } from './token.js';
import { decrypt, encrypt, generateCertificateKey, kubeadmCertsSecret, decryptKubeadmCerts } from './upload-certs.js';
import { testConfig } from './fixtures.testing.js';

describe('detached JWS', () => {
  it('matches the cluster-bootstrap test vector', () => {
    const token = { id: 'joshua', secret: 'my voice is my passcode' };
    const content = 'Hello from the other side. I must have called a thousand times.';
    expect(signDetached(content, token)).toBe('eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8');
    expect(verifyDetached(content, signDetached(content, token), token)).toBe(true);
    expect(verifyDetached(content + ' ', signDetached(content, token), token)).toBe(false);
    expect(verifyDetached(content, signDetached(content, token), { ...token, secret: 'wrong' })).toBe(false);
  });
});

describe('bootstrap tokens', () => {
  it('match the pattern and do not repeat', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const t = formatToken(generateToken());
      expect(t).toMatch(TOKEN_PATTERN);
      seen.add(t);
    }
    expect(seen.size).toBe(20_000);
  });

  it('parse and reject malformed tokens', () => {
    expect(parseToken('abcdef.0123456789abcdef')).toEqual({ id: 'abcdef', secret: '0123456789abcdef' });
    for (const bad of ['ABCDEF.0123456789abcdef', 'abcde.0123456789abcdef', 'abcdef0123456789abcdef', 'abcdef.0123456789abcde!']) expect(() => parseToken(bad)).toThrow(/invalid bootstrap token/);
  });

  it('make the kube-system Secret kubeadm makes', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const s = tokenSecret({ id: 'abcdef', secret: '0123456789abcdef' }, { now });
    expect(s).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'bootstrap-token-abcdef', namespace: 'kube-system' },
      type: 'bootstrap.kubernetes.io/token',
      stringData: {
        'token-id': 'abcdef',
        'token-secret': '0123456789abcdef',
        expiration: '2026-01-02T00:00:00Z',
        'usage-bootstrap-signing': 'true',
        'usage-bootstrap-authentication': 'true',
        'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
      },
    });
    expect(tokenSecret({ id: 'abcdef', secret: '0123456789abcdef' }, { ttlMs: 0 }).stringData.expiration).toBeUndefined();
    expect(() => tokenSecret({ id: 'abcdef', secret: '0123456789abcdef' }, { groups: ['system:masters'] })).toThrow(/invalid bootstrap token group/);
  });
});

describe('cluster-info discovery', async () => {
  const { pki } = await ensurePki(new MemoryStore(), testConfig({ encryptionAlgorithm: 'ECDSA-P256' }), [{ name: 'm1', advertiseAddress: '10.0.0.10', controlPlane: true, worker: false }]);
  const token = generateToken();
  const cm = clusterInfoConfigMap('https://10.0.0.10:6443', pki.cas.ca.certPem);
  // What kube-controller-manager's bootstrapsigner adds for each signing token.
  const data = { ...cm.data, [`jws-kubeconfig-${token.id}`]: signDetached(cm.data.kubeconfig, token) };
  const pin = caCertHash(pki.cas.ca.certPem);

  it('verifies a signed cluster-info with the CA pin', () => {
    expect(verifyClusterInfo(data, token, [pin])).toEqual({ server: 'https://10.0.0.10:6443', caPem: pki.cas.ca.certPem });
  });

  it('rejects a wrong token, a missing signature, tampering and a wrong pin', () => {
    expect(() => verifyClusterInfo(data, { ...token, secret: 'x'.repeat(16) }, [pin])).toThrow(/signature does not verify/);
    expect(() => verifyClusterInfo(cm.data, token, [pin])).toThrow(/no signature for token id/);
    const tampered = { ...data, kubeconfig: data.kubeconfig.replace('10.0.0.10', '10.6.6.6') };
    expect(() => verifyClusterInfo(tampered, token, [pin])).toThrow(/signature does not verify/);
    expect(() => verifyClusterInfo(data, token, [`sha256:${'0'.repeat(64)}`])).toThrow(/does not match the pinned hash/);
    expect(() => verifyClusterInfo(data, token, ['md5:abc'])).toThrow(/invalid CA cert hash/);
  });
});

describe('upload-certs', async () => {
  const { pki } = await ensurePki(new MemoryStore(), testConfig({ encryptionAlgorithm: 'ECDSA-P256' }), [{ name: 'm1', advertiseAddress: '10.0.0.10', controlPlane: true, worker: false }]);

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
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'ca.key', 'etcd-ca.crt', 'etcd-ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'sa.key', 'sa.pub']);
    const plain = decryptKubeadmCerts(secret.data, key);
    expect(plain['ca.key']).toBe(pki.cas.ca.keyPem);
    expect(plain['etcd-ca.crt']).toBe(pki.cas['etcd/ca'].certPem);
  });
});
