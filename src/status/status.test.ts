import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClusterStatus, evaluate, leaseExpired } from './model.js';
import { HOST_PROBE_SCRIPT, parseHostProbe } from './probe.js';
import { formatStatus } from './view.js';

const now = '2026-11-30T12:00:00.000Z';
const healthy = (): ClusterStatus => ({
  time: now,
  hosts: [
    {
      name: 'm1',
      address: '10.0.0.10',
      roles: ['control-plane'],
      reachable: true,
      kubelet: { active: 'active', version: 'v1.37.2' },
      containerd: { active: 'active', version: '1.6.20' },
      staticPods: ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((name) => ({
        name,
        state: 'CONTAINER_RUNNING',
        ready: true,
      })),
      readyz: { status: 200 },
      certificates: [{ path: '/etc/kubernetes/pki/apiserver.crt', notAfter: '2027-11-30T12:00:00.000Z' }],
    },
    { name: 'w1', address: '10.0.0.11', roles: ['worker'], reachable: true, kubelet: { active: 'active' } },
  ],
  api: {
    via: 'm1',
    nodes: [
      { name: 'm1', ready: true, unschedulable: false, kubeletVersion: 'v1.37.2' },
      { name: 'w1', ready: true, unschedulable: false },
    ],
    leases: ['kube-controller-manager', 'kube-scheduler'].map((name) => ({
      name,
      holder: `m1_${name}`,
      renewTime: '2026-11-30T11:59:58.000Z',
      leaseDurationSeconds: 15,
      transitions: 0,
    })),
    tokens: [{ id: 'abcdef', expiration: '2026-12-01T00:00:00Z', usages: ['authentication', 'signing'] }],
  },
  etcd: {
    reached: true,
    leaderId: '1',
    members: [
      {
        id: '1',
        name: 'm1',
        peerUrl: 'https://10.0.0.10:2380',
        learner: false,
        answered: true,
        leader: true,
        raftTerm: '2',
        raftIndex: '1234',
        dbSizeBytes: 2097152,
      },
    ],
    alarms: [],
  },
});

describe('kprov status: health rules', () => {
  it('a healthy cluster has no problems', () => {
    expect(evaluate(healthy())).toEqual({ problems: [], notes: [] });
  });

  it('names every reason a cluster is degraded', () => {
    const s = healthy();
    s.hosts[1] = { ...s.hosts[1], reachable: false, error: 'cannot connect to root@10.0.0.11:22: timed out' };
    s.hosts[0].staticPods![3] = { name: 'kube-scheduler', state: 'CONTAINER_EXITED' };
    s.hosts[0].readyz = { status: 500, detail: '[-]etcd failed' };
    s.hosts[0].certificates!.push({ path: '/etc/kubernetes/admin.conf', notAfter: '2026-11-01T00:00:00.000Z' });
    s.api!.nodes[1].ready = false;
    s.api!.leases[0].renewTime = '2026-11-30T11:59:00.000Z';
    s.etcd!.members.push({
      id: '2',
      name: '',
      peerUrl: 'https://10.0.0.12:2380',
      learner: true,
      answered: false,
      error: 'not started',
    });
    s.etcd!.alarms.push({ memberId: '1', alarm: 'NOSPACE' });
    expect(evaluate(s).problems).toEqual([
      'm1: kube-scheduler is exited',
      'm1: API server /readyz answered 500 ([-]etcd failed)',
      'm1: /etc/kubernetes/admin.conf expired on 2026-11-01T00:00:00.000Z',
      'w1: unreachable (cannot connect to root@10.0.0.11:22: timed out)',
      'w1: node not Ready',
      'kube-controller-manager: no leader holds its lease (last: m1_kube-controller-manager)',
      'etcd member https://10.0.0.12:2380 is a learner (not yet promoted)',
      'etcd member https://10.0.0.12:2380 does not answer: not started',
      'etcd alarm NOSPACE on member 1',
    ]);
  });

  it('notes certificates close to expiry and expired tokens without calling the cluster degraded', () => {
    const s = healthy();
    s.hosts[0].certificates = [{ path: '/etc/kubernetes/pki/ca.crt', notAfter: '2026-12-10T12:00:00.000Z' }];
    s.api!.tokens[0].expiration = '2026-11-29T00:00:00Z';
    const { problems, notes } = evaluate(s);
    expect(problems).toEqual([]);
    expect(notes).toEqual([
      'm1: /etc/kubernetes/pki/ca.crt expires in 10 days (2026-12-10T12:00:00.000Z)',
      'bootstrap token abcdef expired on 2026-11-29T00:00:00Z',
    ]);
  });

  it('a lease is lost once renewTime + leaseDuration has passed', () => {
    const lease = { name: 'x', holder: 'm1', renewTime: '2026-11-30T11:59:40.000Z', leaseDurationSeconds: 15 };
    expect(leaseExpired(lease, new Date('2026-11-30T11:59:50.000Z'))).toBe(false);
    expect(leaseExpired(lease, new Date('2026-11-30T11:59:56.000Z'))).toBe(true);
    expect(leaseExpired({ name: 'x' }, new Date(now))).toBe(true);
  });

  it('prints the leader, the lease holders and the verdict', () => {
    const text = formatStatus(healthy());
    expect(text).toMatch(/^cluster status at 2026-11-30T12:00:00.000Z: healthy\n/);
    expect(text).toContain('ETCD (leader: m1, raft term 2)');
    expect(text).toMatch(
      /kube-controller-manager +m1_kube-controller-manager +renewed 2s ago +lease 15s +0 transitions/,
    );
    expect(text).toMatch(
      /m1 +10\.0\.0\.10 +control-plane +kubelet active v1\.37\.2 +containerd active 1\.6\.20 +certs until 2027-11-30/,
    );
  });
});

describe('kprov status: host probe', () => {
  it('reads services, whether each control-plane component runs, and certificate expiry (openssl agrees)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kprov-status-'));
    const crt = join(dir, 'c.crt');
    const req = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x'];
    execFileSync('openssl', [...req, '-days', '30', '-keyout', join(dir, 'k'), '-out', crt], { stdio: 'ignore' });
    const enddate = execFileSync('openssl', ['x509', '-noout', '-enddate', '-in', crt], { encoding: 'utf8' });
    const out = [
      'kubelet_active=active',
      'containerd_active=inactive',
      'kubelet_version=v1.37.2',
      'containerd_version=1.6.20',
      'static_pod etcd RUNNING',
      'static_pod kube-apiserver RUNNING',
      'static_pod kube-controller-manager EXITED',
      'static_pod kube-scheduler missing',
      `cert /etc/kubernetes/pki/c.crt ${readFileSync(crt).toString('base64')}`,
      'cert /etc/kubernetes/admin.conf bm90IGEgY2VydA==',
    ].join('\n');
    const p = parseHostProbe(out);
    expect(p.kubelet).toEqual({ active: 'active', version: 'v1.37.2' });
    expect(p.containerd).toEqual({ active: 'inactive', version: '1.6.20' });
    expect(p.staticPods).toEqual([
      { name: 'etcd', state: 'CONTAINER_RUNNING' },
      { name: 'kube-apiserver', state: 'CONTAINER_RUNNING' },
      { name: 'kube-controller-manager', state: 'CONTAINER_EXITED' },
      { name: 'kube-scheduler', state: 'missing' },
    ]);
    const notAfter = new Date(enddate.trim().split('=')[1]).toISOString();
    expect(p.certificates).toEqual([{ path: '/etc/kubernetes/pki/c.crt', notAfter, issuer: 'x' }]);
    expect(p.unreadable).toEqual(['/etc/kubernetes/admin.conf']);
  });

  it('the probe script is valid POSIX sh (dash parses it)', () => {
    expect(() => execFileSync('dash', ['-n', '-c', HOST_PROBE_SCRIPT])).not.toThrow();
  });

  it('a worker (no static pods) reports none', () => {
    expect(parseHostProbe('kubelet_active=active\n').staticPods).toBeUndefined();
  });
});
