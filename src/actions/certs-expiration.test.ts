import { describe, expect, it } from 'vitest';
import { formatExpiry } from './certs-expiration.js';

describe('certs check-expiration table', () => {
  it('lists each certificate per host with expiry, residual time and CA, as kubeadm does', () => {
    const now = new Date('2026-11-30T12:00:00.000Z');
    const text = formatExpiry(
      [
        {
          host: 'master1',
          certificates: [
            { path: '/etc/kubernetes/admin.conf', notAfter: '2027-11-30T12:00:00.000Z', issuer: 'kubernetes' },
            { path: '/etc/kubernetes/pki/etcd/server.crt', notAfter: '2026-12-20T12:00:00.000Z', issuer: 'etcd-ca' },
            { path: '/etc/kubernetes/pki/apiserver.crt', notAfter: '2026-11-01T00:00:00.000Z', issuer: 'kubernetes' },
          ],
          unreadable: ['/etc/kubernetes/pki/broken.crt'],
        },
      ],
      now,
    );
    const rows = text
      .trimEnd()
      .split('\n')
      .map((l) => l.split(/ {3,}/));
    expect(rows).toEqual([
      ['HOST', 'CERTIFICATE', 'EXPIRES', 'RESIDUAL TIME', 'CERTIFICATE AUTHORITY', 'EXTERNALLY MANAGED'],
      ['master1', 'admin.conf', '2027-11-30T12:00Z', '1y', 'kubernetes', 'no'],
      ['master1', 'etcd/server.crt', '2026-12-20T12:00Z', '20d', 'etcd-ca', 'no'],
      ['master1', 'apiserver.crt', '2026-11-01T00:00Z', '<expired>', 'kubernetes', 'no'],
      ['master1', 'broken.crt', '<cannot parse>'],
    ]);
  });
});
