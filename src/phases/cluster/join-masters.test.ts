import { describe, expect, it } from 'vitest';
import { addLearnerWhenHealthy, learnerProgress } from './join-masters.js';
import { EtcdError, type EtcdClient } from '../../kube/etcd.js';
import type { EtcdMember } from '../../kubeadm/etcd-members.js';
import type { Host } from '../../host/host.js';
import { silentLog } from '../../log/logger.js';

const clock = () => {
  const c = { t: 0, now: () => c.t, sleep: async (ms: number) => void (c.t += ms) };
  return c;
};
const host = { name: 'master3', spec: { nodeName: 'master3' }, changes: [] as string[] } as unknown as Host;
const peer = 'https://10.0.0.3:2380';

/** An etcd whose answers follow a script: health problems per round, and whether MemberAdd times out. */
function scriptedEtcd(health: string[][], addTimesOutOnce: boolean) {
  const members: EtcdMember[] = [{ ID: '1', name: 'master1', peerURLs: ['https://10.0.0.1:2380'] }];
  const calls: string[] = [];
  let round = 0;
  let timedOut = false;
  const etcd = {
    unhealthyVoters: async () => {
      calls.push('health');
      return health[Math.min(round++, health.length - 1)];
    },
    members: async () => (calls.push('list'), [...members]),
    addLearner: async (url: string) => {
      calls.push('add');
      const member = { ID: '3', peerURLs: [url], isLearner: true };
      members.push(member);
      if (addTimesOutOnce && !timedOut) {
        timedOut = true; // applied, but the answer was lost
        throw new EtcdError('cluster/member/add', 503, 'etcdserver: request timed out');
      }
      return { member, members: [...members] };
    },
  } as unknown as EtcdClient;
  return { etcd, calls };
}

describe('control-plane join: MemberAdd', () => {
  // Regression (issue 8): MemberAdd was tried while another member was still catching up.
  it('waits until every voter is healthy before adding a learner', async () => {
    const { etcd, calls } = scriptedEtcd(
      [['master2 has no leader'], ['master2 does not answer: ECONNRESET'], []],
      false,
    );
    const r = await addLearnerWhenHealthy(etcd, host, 'master3', peer, silentLog(), clock());
    expect(calls).toEqual(['health', 'health', 'health', 'list', 'add']);
    expect(r.added).toBe(true);
    expect(r.member.isLearner).toBe(true);
  });

  it('does not add the member twice when a timed-out MemberAdd was applied', async () => {
    const { etcd, calls } = scriptedEtcd([[]], true);
    const r = await addLearnerWhenHealthy(etcd, host, 'master3', peer, silentLog(), clock());
    expect(calls.filter((c) => c === 'add')).toHaveLength(1);
    expect(r.added).toBe(false);
    expect(r.member.peerURLs).toEqual([peer]);
  });

  it('fails with what etcd last said when the cluster never becomes healthy', async () => {
    const { etcd } = scriptedEtcd([['master2 has no leader']], false);
    await expect(addLearnerWhenHealthy(etcd, host, 'master3', peer, silentLog(), clock())).rejects.toThrow(
      /no progress for \d+s.*not every voter is healthy: master2 has no leader/,
    );
  });
});

describe('control-plane join: learner progress', () => {
  // Regression: a learner whose etcd took 128 s to start showed the same "cannot open tunnel" the whole time, so the
  // wait saw no progress and came within a minute of failing; the kubelet starting the pod is what moves.
  it("reads the kubelet's state while the learner's etcd does not answer yet", async () => {
    const etcd = {
      at: () => ({
        withTimeout: () => ({
          status: async () => {
            throw new Error('cannot open tunnel to 10.0.0.3:2379: Connection refused');
          },
        }),
      }),
    } as unknown as EtcdClient;
    const kubelet = {
      name: 'master3',
      sudo: async () => ({ stdout: 'active/running\nI1201 00:21:30.000000 1 kubelet.go:1] Creating container etcd\n' }),
    } as unknown as Host;
    expect(await learnerProgress(etcd, kubelet, '10.0.0.3')).toBe(
      'etcd on master3 does not answer yet (cannot open tunnel to 10.0.0.3:2379: Connection refused); ' +
        'kubelet active/running, last messages: Creating container etcd',
    );
  });
});
