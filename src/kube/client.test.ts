import { describe, expect, it } from 'vitest';
import { connect, createServer } from 'node:net';
import { KubeClient } from './client.js';
import { useScriptedTlsServer } from './tls-server.testing.js';

const fake = useScriptedTlsServer();

const client = (retryMs = 20_000) => new KubeClient(fake.dial, { caPem: fake.caPem }, '127.0.0.1', 10_000, retryMs);
const node = { kind: 'Node', metadata: { name: 'w1' } };

describe('KubeClient retries', () => {
  // Regression (issue 8): an API server behind a busy etcd answers 503 or 500 "etcdserver: request timed out";
  // one such answer failed a whole host.
  it('asks again on 503 and on a 500 carrying an etcd timeout', async () => {
    fake.state.answers['/api/v1/nodes/w1'] = [
      { status: 503, body: { message: 'the server is currently unable to handle the request' } },
      { status: 500, body: { message: 'etcdserver: request timed out' } },
      { status: 200, body: node },
    ];
    expect(await client().get('/api/v1/nodes/w1')).toEqual(node);
    expect(fake.state.calls).toHaveLength(3);
  });

  it('does not retry a definite answer (404, 403, a plain 500)', async () => {
    fake.state.answers['/api/v1/nodes/w1'] = [{ status: 404, body: {} }];
    expect(await client().get('/api/v1/nodes/w1')).toBeUndefined();
    fake.state.answers['/api/v1/nodes/w2'] = [{ status: 500, body: { message: 'admission webhook denied' } }];
    await expect(client().get('/api/v1/nodes/w2')).rejects.toThrow(/HTTP 500: admission webhook denied/);
    expect(fake.state.calls).toHaveLength(2);
  });

  it('returns the last transient answer when retrying runs out', async () => {
    fake.state.answers['/readyz'] = [{ status: 503, body: '[-]etcd failed' }];
    const r = await client(1500).request('GET', '/readyz');
    expect(r.status).toBe(503);
    expect(fake.state.calls.length).toBeGreaterThan(1);
  });

  it('retries a connection that cannot be made', async () => {
    let dials = 0;
    const flaky = new KubeClient(
      async () => {
        if (++dials < 3) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        return fake.dial();
      },
      { caPem: fake.caPem },
      '127.0.0.1',
    );
    fake.state.answers['/api/v1/nodes/w1'] = [{ status: 200, body: node }];
    expect(await flaky.get('/api/v1/nodes/w1')).toEqual(node);
    expect(dials).toBe(3);
  });
});

describe('KubeClient deadline', () => {
  // Regression: kprov status hung for minutes on a paused master's etcd: the TCP tunnel opened, the TLS handshake
  // never finished, and a socket timeout did not cover it.
  it('gives up on a peer that accepts the connection but never answers', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const started = Date.now();
    const mute = new KubeClient(async () => connect(port, '127.0.0.1'), { caPem: fake.caPem }, '127.0.0.1', 500, 0);
    await expect(mute.get('/readyz')).rejects.toThrow(/GET \/readyz: no answer in 0.5s/);
    expect(Date.now() - started).toBeLessThan(5000);
    silent.close();
  });

  it('gives up on a tunnel that never opens', async () => {
    const stuck = new KubeClient(() => new Promise<never>(() => {}), { caPem: fake.caPem }, '127.0.0.1', 300, 0);
    await expect(stuck.get('/readyz')).rejects.toThrow(/no answer in 0.3s/);
  });
});
