import { describe, expect, it } from 'vitest';
import { etcdutlRestoreArgs, restoreDataScript } from './restore-plan.js';

const members = [
  { name: 'master1', peerUrl: 'https://10.0.0.11:2380' },
  { name: 'master2', peerUrl: 'https://10.0.0.12:2380' },
];

describe('etcdutl snapshot restore for a member', () => {
  it('names the member, every member, the default token, and bumps revisions as the Kubernetes docs ask', () => {
    expect(etcdutlRestoreArgs(members[1], members, '/var/lib/kprov/restore/etcd-restored')).toEqual([
      'etcdutl',
      'snapshot',
      'restore',
      '/var/lib/kprov/restore/snapshot.db',
      '--data-dir=/var/lib/kprov/restore/etcd-restored',
      '--name=master2',
      '--initial-cluster=master1=https://10.0.0.11:2380,master2=https://10.0.0.12:2380',
      '--initial-cluster-token=etcd-cluster',
      '--initial-advertise-peer-urls=https://10.0.0.12:2380',
      '--bump-revision=1000000000',
      '--mark-compacted',
    ]);
  });

  it('refuses a member that is not in the cluster', () => {
    expect(() => etcdutlRestoreArgs({ name: 'x', peerUrl: 'https://10.0.0.9:2380' }, members, '/d')).toThrow(
      /not among the members/,
    );
  });

  it('moves the contents of the data directory (often a mount), never the directory, and records the snapshot', () => {
    const script = restoreDataScript('registry.k8s.io/etcd:3.7.0-0', members[0], members, 'f'.repeat(64));
    expect(script).toMatch(/^set -e\n/);
    expect(script).not.toMatch(/mv \/var\/lib\/etcd /);
    expect(script).toContain('mv /var/lib/etcd/member /var/lib/kprov/restore/etcd-before-restore/');
    expect(script).toContain(`echo ${'f'.repeat(64)} > /var/lib/kprov/restore/restored`);
    expect(script).toContain('ctr -n k8s.io run --rm');
  });
});
