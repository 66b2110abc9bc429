import { beforeEach, describe, expect, it } from 'vitest';
import { useScriptedTlsServer, type Answer } from './tls-server.testing.js';
import { EtcdClient } from './etcd.js';

// A stand-in for etcd's JSON gateway over real TLS: each test queues the answers it wants.
const fake = useScriptedTlsServer();
let answers: Record<string, Answer[]> = {};
let calls: string[] = [];
beforeEach(() => {
  answers = fake.state.answers;
  calls = fake.state.calls;
});

const client = () => new EtcdClient(fake.dial, { caPem: fake.caPem }, '127.0.0.1', { retryMs: 20_000 });
const busy = {
  status: 503,
  body: { error: 'etcdserver: request timed out', code: 14, message: 'etcdserver: request timed out' },
};
// The first ID is sent as a bare JSON number larger than 2^53, as a gateway might.
const twoMembers =
  '{"members":[' +
  '{"ID":17275535291836475377,"name":"master1","peerURLs":["https://10.0.0.1:2380"],' +
  '"clientURLs":["https://127.0.0.1:2379"]},' +
  '{"ID":"2","name":"master2","peerURLs":["https://10.0.0.2:2380"],' +
  '"clientURLs":["https://127.0.0.1:2379"],"isLearner":true}]}';

describe('EtcdClient', () => {
  // Regression (issue 8): master2's join asked for the member list while a new voter caught up, got
  // "HTTP 503: etcdserver: request timed out" and failed at once.
  it('retries a member list that etcd answers with 503 "request timed out"', async () => {
    Object.assign(answers, { '/v3/cluster/member/list': [busy, busy, { status: 200, body: twoMembers }] });
    const members = await client().members();
    expect(calls.filter((c) => c === '/v3/cluster/member/list')).toHaveLength(3);
    expect(members.map((m) => m.name)).toEqual(['master1', 'master2']);
    // uint64 IDs stay exact even when sent as JSON numbers.
    expect(members[0].ID).toBe('17275535291836475377');
  });

  it('does not retry a permanent refusal', async () => {
    Object.assign(answers, { '/v3/cluster/member/list': [{ status: 403, body: { message: 'permission denied' } }] });
    await expect(client().members()).rejects.toThrow(/HTTP 403: permission denied/);
    expect(calls).toHaveLength(1);
  });

  it('does not repeat a MemberAdd that etcd may have applied', async () => {
    Object.assign(answers, { '/v3/cluster/member/add': [busy] });
    await expect(client().addLearner('https://10.0.0.3:2380')).rejects.toThrow(/request timed out/);
    expect(calls).toHaveLength(1);
  });

  it('lists voters that do not answer with a leader, ignoring learners', async () => {
    Object.assign(answers, {
      '/v3/cluster/member/list': [{ status: 200, body: twoMembers }],
      '/v3/maintenance/status': [{ status: 200, body: { leader: '0', raftIndex: '9' } }],
    });
    expect(await client().unhealthyVoters()).toEqual(['master1 has no leader']);
    answers['/v3/maintenance/status'] = [{ status: 200, body: '{"leader":17275535291836475377,"raftIndex":"9"}' }];
    expect(await client().unhealthyVoters()).toEqual([]);
  });

  it('treats removing a member that is already gone as done', async () => {
    Object.assign(answers, {
      '/v3/cluster/member/remove': [{ status: 404, body: { message: 'etcdserver: member not found' } }],
    });
    await expect(client().remove('5')).resolves.toBeUndefined();
  });
});
