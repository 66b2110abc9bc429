import { describe, expect, it } from 'vitest';
import { createServer, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLog } from '../log/logger.js';
import { SshConnection } from './connection.js';

describe('SSH connect to a host that accepts TCP but never speaks SSH (hung or paused)', () => {
  it('fails with a clear timeout after its attempts, not a crash on the late "connection lost" error', async () => {
    const sockets: Socket[] = [];
    // Accept, say nothing, then drop the connection a little after the client gives up: the second error.
    const server = createServer((s) => {
      sockets.push(s);
      setTimeout(() => s.destroy(), 400);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'kprov-ssh-'));
    writeFileSync(join(dir, 'known_hosts'), '');
    const conn = new SshConnection(
      {
        name: 'hung',
        host: '127.0.0.1',
        port,
        user: 'root',
        knownHostsFile: join(dir, 'known_hosts'),
        hostKeyChecking: 'strict',
      },
      new RunLog(undefined),
    );
    try {
      await expect(conn.connect({ connectTimeoutMs: 200, connectAttempts: 2 })).rejects.toThrow(
        /cannot connect to root@127\.0\.0\.1:\d+: timed out after 0\.2s \(2 attempts\)/,
      );
      // Give the dropped sockets time to deliver their late errors: the process must still be here.
      await new Promise((r) => setTimeout(r, 800));
      expect(sockets.length).toBe(2);
    } finally {
      server.close();
    }
  });
});

describe('an aborted connection', () => {
  it('stops running commands (TERM, then close), refuses new ones, can still remove its staging files', async () => {
    const commands: string[] = [];
    const signalled: string[] = [];
    const fakeClient = {
      exec(line: string, cb: (err: Error | undefined, stream: unknown) => void) {
        commands.push(line);
        const stream = Object.assign(new EventEmitter(), {
          stderr: new EventEmitter(),
          write() {},
          end() {
            // Cleanup commands finish at once; the first one runs until it is stopped.
            if (commands.length > 1) setTimeout(() => stream.emit('close', 0), 1);
          },
          signal(s: string) {
            signalled.push(s);
          },
          close() {
            setTimeout(() => stream.emit('close', null), 1);
          },
        });
        cb(undefined, stream);
      },
      end() {},
    };
    const endpoint = { name: 'm1', host: 'h', port: 22, user: 'root', knownHostsFile: '/dev/null' };
    const conn = new SshConnection({ ...endpoint, hostKeyChecking: 'strict' }, new RunLog(undefined));
    (conn as unknown as { client: unknown }).client = fakeClient;
    conn.trackStaging('/tmp/.kprov-1');
    conn.trackStaging('/var/lib/kprov/staging/abc');
    const long = conn.exec('apt-get install -y containerd', { step: 'install packages' });
    conn.abort();
    await expect(long).rejects.toThrow('interrupted');
    expect(signalled).toEqual(['TERM']);
    await expect(conn.exec('true')).rejects.toThrow('interrupted');
    expect(await conn.cleanupStaging()).toEqual(['/tmp/.kprov-1', '/var/lib/kprov/staging/abc']);
    expect(commands.at(-1)).toContain('rm -rf /tmp/.kprov-1 /var/lib/kprov/staging/abc');
    expect(conn.pendingStaging()).toEqual([]);
  });
});
