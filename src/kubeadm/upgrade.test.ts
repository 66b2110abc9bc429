import { describe, expect, it } from 'vitest';
import { etcdTarget, formatPlan, upgradePlan, upgradeProblem, type ClusterVersions } from './upgrade.js';

const at136 = (over: Partial<ClusterVersions> = {}): ClusterVersions => ({
  cluster: 'v1.36.3',
  masters: {
    master1: {
      etcd: '3.6.8-0',
      'kube-apiserver': 'v1.36.3',
      'kube-controller-manager': 'v1.36.3',
      'kube-scheduler': 'v1.36.3',
    },
  },
  kubelets: { master1: 'v1.36.3', worker1: 'v1.36.3' },
  kubeProxy: 'v1.36.3',
  coredns: 'v1.14.2',
  ...over,
});

describe('upgrade rules (kubeadm policy)', () => {
  it('allows the next minor and patches; refuses skipped minors and downgrades, naming the way', () => {
    expect(upgradeProblem(at136(), 'v1.37.2')).toBeUndefined();
    expect(upgradeProblem(at136(), 'v1.36.5')).toBeUndefined();
    const v135 = at136({ cluster: 'v1.35.4' });
    v135.masters.master1['kube-apiserver'] = 'v1.35.4';
    expect(upgradeProblem(v135, 'v1.37.2')).toBe(
      'the cluster runs v1.35.4; upgrades go one minor at a time (v1.35.4 -> v1.36 -> ...), ' +
        'so upgrade to a v1.36 release first',
    );
    expect(upgradeProblem(at136(), 'v1.35.4')).toMatch(/runs v1.36.3; v1.35.4 would be a downgrade/);
    expect(upgradeProblem(at136(), 'v1.36.1')).toMatch(/downgrade/);
  });

  it('judges an interrupted upgrade by its oldest control-plane component', () => {
    const half = at136({ cluster: 'v1.37.2' });
    half.masters.master2 = { ...half.masters.master1 };
    half.masters.master1['kube-apiserver'] = 'v1.37.2';
    expect(upgradeProblem(half, 'v1.37.2')).toBeUndefined();
  });

  it('refuses a target older than a kubelet (kubelets never lead the API server)', () => {
    expect(upgradeProblem(at136({ kubelets: { worker1: 'v1.37.2' } }), 'v1.36.5')).toBe(
      'kubelets newer than v1.36.5: worker1 (v1.37.2)',
    );
  });

  it('never moves etcd backwards', () => {
    expect(etcdTarget('3.6.8-0', 'v1.37.2')).toBe('3.7.0-0');
    expect(etcdTarget('3.7.1-0', 'v1.37.2')).toBe('3.7.1-0');
    expect(etcdTarget(undefined, 'v1.36.3')).toBe('3.6.8-0');
  });
});

describe('upgrade plan', () => {
  it('lists every component per node in upgrade order and prints it as kubeadm upgrade plan does', () => {
    const rows = upgradePlan(at136(), 'v1.37.2');
    expect(rows.map((r) => `${r.component}@${r.node}`)).toEqual([
      'etcd@master1',
      'kube-apiserver@master1',
      'kube-controller-manager@master1',
      'kube-scheduler@master1',
      'kube-proxy@',
      'CoreDNS@',
      'kubelet@master1',
      'kubelet@worker1',
    ]);
    expect(formatPlan(at136(), 'v1.37.2', rows)).toBe(
      [
        'Cluster version: v1.36.3',
        'Target version:  v1.37.2',
        '',
        'COMPONENT                 NODE      CURRENT   TARGET',
        'etcd                      master1   3.6.8-0   3.7.0-0',
        'kube-apiserver            master1   v1.36.3   v1.37.2',
        'kube-controller-manager   master1   v1.36.3   v1.37.2',
        'kube-scheduler            master1   v1.36.3   v1.37.2',
        'kube-proxy                          v1.36.3   v1.37.2',
        'CoreDNS                             v1.14.2   v1.14.6',
        'kubelet                   master1   v1.36.3   v1.37.2',
        'kubelet                   worker1   v1.36.3   v1.37.2',
        '',
      ].join('\n'),
    );
  });

  it('is empty once everything runs the target, and says so', () => {
    const done: ClusterVersions = {
      cluster: 'v1.37.2',
      masters: {
        master1: {
          etcd: '3.7.0-0',
          'kube-apiserver': 'v1.37.2',
          'kube-controller-manager': 'v1.37.2',
          'kube-scheduler': 'v1.37.2',
        },
      },
      kubelets: { master1: 'v1.37.2' },
      kubeProxy: 'v1.37.2',
      coredns: 'v1.14.6',
    };
    expect(upgradePlan(done, 'v1.37.2')).toEqual([]);
    expect(formatPlan(done, 'v1.37.2', [])).toMatch(/Nothing to upgrade: every component runs v1.37.2/);
  });
});
