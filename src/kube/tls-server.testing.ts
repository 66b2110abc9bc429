import { afterAll, beforeAll, beforeEach } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';

export type Answer = { status: number; body: unknown };

/**
 * A local HTTPS server (a real TLS certificate from openssl for 127.0.0.1) that answers each path from a
 * queue: the last answer repeats. Stands in for the API server or etcd's JSON gateway in unit tests.
 */
export async function scriptedTlsServer() {
  const dir = mkdtempSync(join(tmpdir(), 'kprov-tls-test-'));
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=test'];
  args.push(
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-days',
    '1',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  );
  execFileSync('openssl', args, { stdio: 'ignore' });
  const caPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
  // auth: each call's Authorization header, in step with calls (undefined when none was sent).
  const state = { answers: {} as Record<string, Answer[]>, calls: [] as string[], auth: [] as (string | undefined)[] };
  const server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: caPem }, (req, res) => {
    state.calls.push(req.url ?? '');
    state.auth.push(req.headers.authorization);
    const queue = state.answers[req.url ?? ''] ?? [];
    const a = queue.length > 1 ? queue.shift()! : (queue[0] ?? { status: 404, body: { message: 'no such path' } });
    const text = typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
    res.writeHead(a.status, { 'Content-Type': 'application/json' }).end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    caPem,
    state,
    dial: async (): Promise<Duplex> => connect(port, '127.0.0.1'),
    close: () => server.close(),
  };
}

/** The scripted server for one test file: started once, its answers and calls cleared before each test. */
export function useScriptedTlsServer(): Awaited<ReturnType<typeof scriptedTlsServer>> {
  const holder = {} as Awaited<ReturnType<typeof scriptedTlsServer>>;
  beforeAll(async () => void Object.assign(holder, await scriptedTlsServer()));
  afterAll(() => holder.close());
  beforeEach(() => {
    holder.state.answers = {};
    holder.state.calls.length = 0;
    holder.state.auth.length = 0;
  });
  return holder;
}
