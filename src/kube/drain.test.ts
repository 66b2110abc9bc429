import { describe, expect, it } from 'vitest';
import { KubeClient } from './client.js';
import { DrainBlocked, drain, evictable } from './drain.js';
import { useScriptedTlsServer } from './tls-server.testing.js';
import type { Pod } from './types.js';

const fake = useScriptedTlsServer();

const fastClock = () => {
  const c = { t: 0, now: () => c.t, sleep: async (ms: number) => void (c.t += ms) };
  return c;
};
const api = () => new KubeClient(fake.dial, { caPem: fake.caPem }, '127.0.0.1', 10_000, 0);
const pod = (name: string, extra: Partial<Pod['metadata']> = {}): Pod => ({
  metadata: { name, namespace: 'default', ...extra },
  status: { phase: 'Running' },
});
const list = (...pods: Pod[]) => ({ status: 200, body: { items: pods } });
const PODS = '/api/v1/pods?fieldSelector=spec.nodeName=w1';
const EVICT = (name: string) => `/api/v1/namespaces/default/pods/${name}/eviction`;

describe('drain', () => {
  it('leaves DaemonSet pods, static pods and finished pods alone', () => {
    const ds = pod('ds', { ownerReferences: [{ kind: 'DaemonSet', name: 'x' }] });
    const mirror = pod('etcd', { annotations: { 'kubernetes.io/config.mirror': 'abc' } });
    const done = { ...pod('job'), status: { phase: 'Succeeded' } };
    expect(evictable([ds, mirror, done, pod('web')]).map((p) => p.metadata.name)).toEqual(['web']);
  });

  it('cordons, evicts through the Eviction API and asks again while a PodDisruptionBudget refuses', async () => {
    fake.state.answers['/api/v1/nodes/w1'] = [{ status: 200, body: { metadata: { name: 'w1' }, spec: {} } }];
    fake.state.answers[PODS] = [list(pod('web-a'), pod('web-b')), list(pod('web-b')), list()];
    fake.state.answers[EVICT('web-a')] = [{ status: 201, body: {} }];
    fake.state.answers[EVICT('web-b')] = [
      { status: 429, body: { message: "Cannot evict pod as it would violate the pod's disruption budget." } },
      { status: 201, body: {} },
    ];
    await drain(api(), 'w1', { timeoutMs: 60_000, clock: fastClock() });
    expect(fake.state.calls.filter((c) => c === EVICT('web-b'))).toHaveLength(2);
    expect(fake.state.calls).toContain('/api/v1/nodes/w1');
  });

  it('gives up after the timeout, naming the pods that stay and the budget that blocks them', async () => {
    fake.state.answers['/api/v1/nodes/w1'] = [
      { status: 200, body: { metadata: { name: 'w1' }, spec: { unschedulable: true } } },
    ];
    fake.state.answers[PODS] = [list(pod('web-b'))];
    fake.state.answers[EVICT('web-b')] = [
      { status: 429, body: { message: 'would violate the disruption budget web-pdb' } },
    ];
    const err = await drain(api(), 'w1', { timeoutMs: 30_000, clock: fastClock() }).catch((e) => e);
    expect(err).toBeInstanceOf(DrainBlocked);
    expect(err.message).toBe(
      'cannot drain w1: 1 pod(s) still there (default/web-b); ' +
        'default/web-b: would violate the disruption budget web-pdb',
    );
  });

  it('moves two pods of one ReplicaSet one at a time, the second once the set is whole again', async () => {
    fake.state.answers['/api/v1/nodes/w1'] = [{ status: 200, body: { metadata: { name: 'w1' }, spec: {} } }];
    const owned = (name: string, leaving = false) =>
      pod(name, {
        ownerReferences: [{ kind: 'ReplicaSet', name: 'dns' }],
        ...(leaving ? { deletionTimestamp: '2026-12-01T00:00:00Z' } : {}),
      });
    fake.state.answers[PODS] = [
      list(owned('dns-a'), owned('dns-b')),
      list(owned('dns-a', true), owned('dns-b')),
      list(owned('dns-b')),
      list(owned('dns-b')),
      list(owned('dns-b', true)),
      list(),
    ];
    const rs = (ready: number) => ({ status: 200, body: { spec: { replicas: 2 }, status: { readyReplicas: ready } } });
    fake.state.answers['/apis/apps/v1/namespaces/default/replicasets/dns'] = [rs(2), rs(1), rs(2)];
    fake.state.answers[EVICT('dns-a')] = [{ status: 201, body: {} }];
    fake.state.answers[EVICT('dns-b')] = [{ status: 201, body: {} }];
    await drain(api(), 'w1', { timeoutMs: 60_000, clock: fastClock() });
    const evictions = fake.state.calls.filter((c) => c.endsWith('/eviction'));
    expect(evictions).toEqual([EVICT('dns-a'), EVICT('dns-b')]);
    // dns-b went only after the set reported both replicas ready again (the third answer).
    const rsReads = fake.state.calls.filter((c) => c.includes('/replicasets/dns'));
    expect(rsReads).toHaveLength(3);
    expect(fake.state.calls.lastIndexOf(rsReads[2])).toBeLessThan(fake.state.calls.indexOf(EVICT('dns-b')));
  });
});
