import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../pki/store.js';
import { ensurePki } from './pki.js';
import { caCertHash, clusterInfoConfigMap, signDetached, verifyClusterInfo, verifyDetached } from './discovery.js';
import { generateToken } from './token.js';
import { testConfig } from './fixtures.testing.js';

describe('detached JWS', () => {
  it('matches the cluster-bootstrap test vector', () => {
    const token = { id: 'joshua', secret: 'my voice is my passcode' };
    const content = 'Hello from the other side. I must have called a thousand times.';
    expect(signDetached(content, token)).toBe(
      'eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8',
    );
    expect(verifyDetached(content, signDetached(content, token), token)).toBe(true);
    expect(verifyDetached(content + ' ', signDetached(content, token), token)).toBe(false);
    expect(verifyDetached(content, signDetached(content, token), { ...token, secret: 'wrong' })).toBe(false);
  });
});

describe('cluster-info discovery', async () => {
  const { pki } = await ensurePki(new MemoryStore(), testConfig({ encryptionAlgorithm: 'ECDSA-P256' }), [
    { name: 'm1', advertiseAddress: '10.0.0.10', controlPlane: true, worker: false },
  ]);
  const token = generateToken();
  const cm = clusterInfoConfigMap('https://10.0.0.10:6443', pki.cas.ca.certPem);
  // What kube-controller-manager's bootstrapsigner adds for each signing token.
  const data = { ...cm.data, [`jws-kubeconfig-${token.id}`]: signDetached(cm.data.kubeconfig, token) };
  const pin = caCertHash(pki.cas.ca.certPem);

  it('verifies a signed cluster-info with the CA pin', () => {
    expect(verifyClusterInfo(data, token, [pin])).toEqual({
      server: 'https://10.0.0.10:6443',
      caPem: pki.cas.ca.certPem,
    });
  });

  it('rejects a wrong token, a missing signature, tampering and a wrong pin', () => {
    expect(() => verifyClusterInfo(data, { ...token, secret: 'x'.repeat(16) }, [pin])).toThrow(
      /signature does not verify/,
    );
    expect(() => verifyClusterInfo(cm.data, token, [pin])).toThrow(/no signature for token id/);
    const tampered = { ...data, kubeconfig: data.kubeconfig.replace('10.0.0.10', '10.6.6.6') };
    expect(() => verifyClusterInfo(tampered, token, [pin])).toThrow(/signature does not verify/);
    expect(() => verifyClusterInfo(data, token, [`sha256:${'0'.repeat(64)}`])).toThrow(
      /does not match the pinned hash/,
    );
    expect(() => verifyClusterInfo(data, token, ['md5:abc'])).toThrow(/invalid CA cert hash/);
  });
});
