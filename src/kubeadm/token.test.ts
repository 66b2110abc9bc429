import { describe, expect, it } from 'vitest';
import { formatToken, generateToken, parseToken, readTokenSecret, tokenSecret, TOKEN_PATTERN } from './token.js';

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
    for (const bad of [
      'ABCDEF.0123456789abcdef',
      'abcde.0123456789abcdef',
      'abcdef0123456789abcdef',
      'abcdef.0123456789abcde!',
    ])
      expect(() => parseToken(bad)).toThrow(/invalid bootstrap token/);
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
    expect(
      tokenSecret({ id: 'abcdef', secret: '0123456789abcdef' }, { ttlMs: 0 }).stringData.expiration,
    ).toBeUndefined();
    expect(() => tokenSecret({ id: 'abcdef', secret: '0123456789abcdef' }, { groups: ['system:masters'] })).toThrow(
      /invalid bootstrap token group/,
    );
  });
});

describe('token Secrets read back', () => {
  it('decode what tokenSecret wrote: id, secret, expiry, description, usages and groups', () => {
    const written = tokenSecret({ id: 'abcdef', secret: '0123456789abcdef' }, { description: 'ops', now: new Date(0) });
    const data = Object.fromEntries(
      Object.entries(written.stringData).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
    expect(readTokenSecret({ data })).toEqual({
      id: 'abcdef',
      secret: '0123456789abcdef',
      expiration: '1970-01-02T00:00:00Z',
      description: 'ops',
      usages: ['signing', 'authentication'],
      groups: ['system:bootstrappers:kubeadm:default-node-token'],
    });
  });
});
