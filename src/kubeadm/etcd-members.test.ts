import { describe, expect, it } from 'vitest';
import { initialClusterFor, initialClusterInManifest, memberByPeerUrl, peerUrlOf } from './etcd-members.js';
import { etcdManifest, toYaml } from './manifests.js';
import { testConfig } from './fixtures.testing.js';

// What etcd's MemberAdd answered in a real lab run: master3 had joined first, master2 is being added.
const afterAdd = [
  {
    ID: '1033796535975940116',
    name: 'master1',
    peerURLs: ['https://172.18.0.2:2380'],
    clientURLs: ['https://172.18.0.2:2379'],
  },
  {
    ID: '15701705000980190988',
    name: 'master3',
    peerURLs: ['https://172.18.0.5:2380'],
    clientURLs: ['https://172.18.0.5:2379'],
  },
  { ID: '18187139608432824727', peerURLs: ['https://172.18.0.4:2380'], isLearner: true },
];

describe('etcd membership for a joining control-plane node', () => {
  it('builds --initial-cluster from the started members and the joining one, in etcd order', () => {
    expect(initialClusterFor(afterAdd, { name: 'master2', peerUrl: 'https://172.18.0.4:2380' })).toBe(
      'master1=https://172.18.0.2:2380,master3=https://172.18.0.5:2380,master2=https://172.18.0.4:2380',
    );
  });

  it('leaves out other members that never started, and adds itself when the list lacks it', () => {
    const members = [afterAdd[0], { ID: '7', peerURLs: ['https://10.0.0.9:2380'], isLearner: true }];
    expect(initialClusterFor(members, { name: 'm2', peerUrl: 'https://10.0.0.2:2380' })).toBe(
      'master1=https://172.18.0.2:2380,m2=https://10.0.0.2:2380',
    );
  });

  it('finds a member by peer URL and keeps uint64 IDs exact', () => {
    expect(memberByPeerUrl(afterAdd, 'https://172.18.0.4:2380')?.ID).toBe('18187139608432824727');
    expect(memberByPeerUrl(afterAdd, 'https://172.18.0.9:2380')).toBeUndefined();
  });

  it('brackets IPv6 peer addresses', () => {
    expect(peerUrlOf('fd00::2')).toBe('https://[fd00::2]:2380');
    expect(peerUrlOf('10.0.0.2')).toBe('https://10.0.0.2:2380');
  });

  it('reads --initial-cluster back from a rendered manifest, so re-runs keep what the member joined with', () => {
    const cfg = testConfig();
    const node = { name: 'master2', advertiseAddress: '172.18.0.4', controlPlane: true, worker: false };
    const initialCluster = initialClusterFor(afterAdd, { name: 'master2', peerUrl: peerUrlOf('172.18.0.4') });
    const yaml = toYaml(etcdManifest(cfg, node, { initialCluster }));
    expect(initialClusterInManifest(yaml)).toBe(initialCluster);
    expect(yaml).toContain('--initial-cluster-state=existing');
    expect(toYaml(etcdManifest(cfg, node))).not.toContain('initial-cluster-state');
  });
});
