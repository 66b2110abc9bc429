import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HostSpec } from '../config/settings.js';
import { Host } from '../host/host.js';
import { RunLog } from '../log/logger.js';
import { SshConnection } from '../ssh/connection.js';
import { jumpFor } from './connect.js';
import type { RunContext } from './phase.js';

const bastion = { host: '10.0.0.254', port: 22, user: 'jump' };

function hostBehindJump(name: string, over: Partial<HostSpec> = {}): Host {
  const spec = {
    name,
    user: 'root',
    jump: bastion,
    knownHostsFile: '/home/op/.ssh/known_hosts',
    hostKeyChecking: 'strict',
    ...over,
  };
  return new Host(spec as HostSpec, {} as SshConnection, false);
}

describe('jump-host connections', () => {
  afterEach(() => vi.restoreAllMocks());

  it('are shared only by hosts with the same trust policy', async () => {
    const connected: SshConnection[] = [];
    vi.spyOn(SshConnection.prototype, 'connect').mockImplementation(async function (this: SshConnection) {
      connected.push(this);
    });
    const a = hostBehindJump('a', { hostKeyChecking: 'accept-new' });
    const b = hostBehindJump('b');
    const c = hostBehindJump('c');
    const d = hostBehindJump('d', { knownHostsFile: '/etc/kprov/known_hosts' });
    const e = hostBehindJump('e', { privateKeyFile: '/home/op/.ssh/other' });
    const ctx = { log: new RunLog(undefined), connectTimeoutMs: 1000, hosts: [a, b, c, d, e] } as unknown as RunContext;
    const [ja, jb, jc, jd, je] = await Promise.all([a, b, c, d, e].map((h) => jumpFor(h, ctx)));
    // The strict host does not reuse the connection the accept-new host may have trusted on first use.
    expect(jb).not.toBe(ja);
    expect(jb!.endpoint.hostKeyChecking).toBe('strict');
    expect(jc).toBe(jb);
    expect(jd).not.toBe(jb);
    expect(jd!.endpoint.knownHostsFile).toBe('/etc/kprov/known_hosts');
    expect(je).not.toBe(jb);
    expect(connected).toHaveLength(4);
  });
});
