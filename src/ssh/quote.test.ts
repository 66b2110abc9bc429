import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { shq, shellJoin } from './quote.js';

// Run through the real POSIX shells the remote side may have: dash (Debian's /bin/sh) and bash.
const shells = ['/bin/sh', '/bin/dash', '/bin/bash'].filter((s) => existsSync(s));
const nasty = [
  "it's",
  'a b',
  '$(touch /tmp/kprov-pwned)',
  '`id`',
  'x;y',
  '"q"',
  '\\n',
  'new\nline',
  '',
  '*',
  '--flag',
  "'; rm -rf / #",
];

describe('shell quoting', () => {
  it.each(shells)('round-trips hostile strings through %s', (shell) => {
    for (const value of nasty) {
      const out = execFileSync(shell, ['-c', `printf '%s' ${shq(value)}`]).toString();
      expect(out).toBe(value);
    }
    expect(existsSync('/tmp/kprov-pwned')).toBe(false);
  });

  it('keeps simple words readable', () => {
    expect(shq('/etc/kubernetes/pki/ca.crt')).toBe('/etc/kubernetes/pki/ca.crt');
    expect(shellJoin(['echo', 'a b'])).toBe("echo 'a b'");
  });
});
