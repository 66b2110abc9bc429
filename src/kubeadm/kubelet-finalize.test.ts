import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildKubeconfig } from './kubeconfig.js';
import { finalizedKubeletConf } from './kubelet-finalize.js';

const embedded = buildKubeconfig({
  clusterName: 'kubernetes',
  server: 'https://10.0.0.10:6443',
  caPem: 'CA',
  userName: 'system:node:m1',
  clientCertPem: 'CERT',
  clientKeyPem: 'KEY',
});

describe('kubelet-finalize', () => {
  it("points kubelet.conf at the kubelet's rotating certificate, keeping cluster and context", () => {
    const out = parse(finalizedKubeletConf(embedded)!);
    expect(out.users).toEqual([
      {
        name: 'system:node:m1',
        user: {
          'client-certificate': '/var/lib/kubelet/pki/kubelet-client-current.pem',
          'client-key': '/var/lib/kubelet/pki/kubelet-client-current.pem',
        },
      },
    ]);
    expect(out.clusters).toEqual(parse(embedded).clusters);
    expect(out['current-context']).toBe('system:node:m1@kubernetes');
  });

  it('leaves a kubelet.conf that already refers to a file alone', () => {
    expect(finalizedKubeletConf(finalizedKubeletConf(embedded)!)).toBeUndefined();
  });
});
