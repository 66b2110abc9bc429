import { describe, expect, it } from 'vitest';
import { HostError } from '../../errors/index.js';
import type { Host } from '../../host/host.js';
import { silentLog } from '../../log/logger.js';
import { awaitOnHost, untilTrue } from './waits.js';

/** A host whose kubelet is stuck on one message (what kubeletProbe reads). */
const host = {
  name: 'master1',
  sudo: async () => ({ stdout: 'active/running\nfailed to pull image "pause:3.10"', stderr: '', code: 0 }),
} as unknown as Host;
const quick = { stallMs: 60, deadlineMs: 120, everyMs: 10 };

describe('awaitOnHost', () => {
  it("returns the check's result once it has one", async () => {
    let calls = 0;
    const r = await awaitOnHost(host, silentLog(), {
      what: 'the thing',
      step: 'wait',
      timing: quick,
      check: async () => (++calls < 3 ? undefined : 'done'),
    });
    expect(r).toBe('done');
  });

  it("fails as the host's error at its step, with what the check saw, what the kubelet did, and the hint", async () => {
    const err = await awaitOnHost(host, silentLog(), {
      what: 'etcd to answer its health check',
      step: 'start etcd',
      hint: 'Check: journalctl -u kubelet',
      timing: quick,
      check: untilTrue(async () => 'does not answer yet (connection refused)'),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(HostError);
    expect(err.host).toBe('master1');
    expect(err.step).toBe('start etcd');
    expect(err.message).toContain('etcd to answer its health check');
    expect(err.message).toContain('does not answer yet (connection refused)');
    expect(err.message).toContain('failed to pull image');
    expect(err.message).toMatch(/\. Check: journalctl -u kubelet$/);
  });
});
