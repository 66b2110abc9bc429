import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildKubeconfig } from './kubeconfig.js';
import { clusterInfoKubeconfig } from './discovery.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

// kubeadm v1.37.2's init --dry-run (test/e2e/kubeadm-dryrun.test.ts) writes no `preferences: {}`: client-go v0.34
// made it omitzero, and every minor kprov supports is newer.
describe('kubeconfigs have the top-level fields kubeadm writes', () => {
  it('a client kubeconfig: no empty preferences', () => {
    const text = buildKubeconfig({
      clusterName: 'kubernetes',
      server: 'https://10.0.0.10:6443',
      caPem: CA,
      userName: 'kubernetes-admin',
      clientCertPem: CA,
      clientKeyPem: 'key',
    });
    expect(Object.keys(parse(text))).toEqual([
      'apiVersion',
      'clusters',
      'contexts',
      'current-context',
      'kind',
      'users',
    ]);
    expect(text).not.toContain('preferences');
  });

  it('cluster-info: one unnamed cluster, null contexts and users, no preferences', () => {
    const b64 = Buffer.from(CA).toString('base64');
    expect(clusterInfoKubeconfig('https://10.0.0.10:6443', CA)).toBe(
      'apiVersion: v1\nclusters:\n  - cluster:\n' +
        `      certificate-authority-data: ${b64}\n      server: https://10.0.0.10:6443\n    name: ""\n` +
        'contexts: null\ncurrent-context: ""\nkind: Config\nusers: null\n',
    );
  });
});
