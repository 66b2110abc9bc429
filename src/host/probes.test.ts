import { describe, expect, it } from 'vitest';
import { lastMessages } from './probes.js';

describe('lastMessages', () => {
  it('drops klog headers so a repeated error is one message, newest last', () => {
    const log = [
      'I1130 22:01:02.123456    4242 kubelet.go:100] Attempting to register node',
      'E1130 22:01:04.000001    4242 kubelet_node_status.go:99] "Unable to register node" err="connection refused"',
      'E1130 22:01:06.000001    4242 kubelet_node_status.go:99] "Unable to register node" err="connection refused"',
      '',
    ].join('\n');
    expect(lastMessages(log)).toEqual([
      'Attempting to register node',
      '"Unable to register node" err="connection refused"',
    ]);
    // The same log a few seconds later reads the same: no progress.
    expect(lastMessages(log.replace(/22:01/g, '22:02'))).toEqual(lastMessages(log));
  });
});
