import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Host } from '../../host/host.js';
import { parseFacts } from '../../host/facts.js';
import { ClusterAccess } from '../../kube/cluster-access.js';
import { API_SERVER_MANIFEST, CONTROLLER_MANAGER_MANIFEST } from '../../kubeadm/constants.js';
import { testConfig } from '../../kubeadm/fixtures.testing.js';
import { planCluster } from '../../kubeadm/plan.js';
import { MemoryStore } from '../../pki/store.js';
import { filesFor, planCredentials, type ClusterRun } from './run.js';

describe('files for a host, once its facts are in', async () => {
  const cfg = testConfig({ encryptionAlgorithm: 'ECDSA-P256' });
  const m1 = { name: 'm1', advertiseAddress: '10.0.0.10', controlPlane: true, worker: false };
  const plan = await planCluster(new MemoryStore(), cfg, [m1]);
  const run: ClusterRun = {
    cfg,
    plan,
    nodes: { m1 },
    first: 'm1',
    joined: [],
    access: new ClusterAccess(planCredentials(plan, 'm1')),
  };
  const hostWith = (facts: string) => ({ spec: { nodeName: 'm1' }, facts: parseFacts(facts) }) as unknown as Host;
  const volumes = (host: Host, path: string) =>
    parse(filesFor(run, host).find((f) => f.path === path)!.content).spec.volumes.map(
      (v: { hostPath: { path: string } }) => v.hostPath.path,
    );

  it("mount a RHEL master's CA-trust directories into the API server and the controller-manager", () => {
    const rhel = hostWith('os_id=rhel\nca_dir=/etc/pki/ca-trust\nca_dir=/etc/pki/tls/certs\n');
    for (const path of [API_SERVER_MANIFEST, CONTROLLER_MANAGER_MANIFEST]) {
      expect(volumes(rhel, path)).toEqual(expect.arrayContaining(['/etc/pki/ca-trust', '/etc/pki/tls/certs']));
      expect(volumes(rhel, path)).not.toContain('/usr/share/ca-certificates');
    }
  });

  it("leave a Debian master's manifests as planned", () => {
    const debian = hostWith(
      'os_id=debian\nca_dir=/etc/ca-certificates\nca_dir=/usr/share/ca-certificates\n' +
        'ca_dir=/usr/local/share/ca-certificates\n',
    );
    const planned = plan.files.m1.find((f) => f.path === API_SERVER_MANIFEST)!;
    expect(filesFor(run, debian).find((f) => f.path === API_SERVER_MANIFEST)).toEqual(planned);
  });
});
