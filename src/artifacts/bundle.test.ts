import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundle } from './bundle.js';

function makeBundle(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kprov-bundle-'));
  mkdirSync(join(dir, 'bin'));
  for (const b of ['kubelet', 'kubectl']) writeFileSync(join(dir, 'bin', b), `#!/bin/sh\necho ${b}\n`);
  const sum = (p: string) =>
    createHash('sha256')
      .update(readFileSync(join(dir, p)))
      .digest('hex');
  writeFileSync(
    join(dir, 'SHA256SUMS'),
    ['bin/kubelet', 'bin/kubectl'].map((p) => `${sum(p)}  ${p}`).join('\n') + '\n',
  );
  return dir;
}

describe('artifact bundle checksums', () => {
  it('accepts a bundle that matches its SHA256SUMS and reports a mismatch with the line', () => {
    const dir = makeBundle();
    expect(loadBundle(dir).binaries.kubelet).toBe(join(dir, 'bin', 'kubelet'));
    writeFileSync(join(dir, 'bin', 'kubectl'), 'tampered\n');
    expect(() => loadBundle(dir)).toThrow(
      /checksum mismatch for bin\/kubectl: expected [0-9a-f]{64}, got [0-9a-f]{64}/,
    );
  });

  it('does not hash a file again while its size, mtime and inode are those it was checked with', () => {
    const dir = makeBundle();
    const cache = join(dir, 'checked.json');
    loadBundle(dir, cache);
    const checked = JSON.parse(readFileSync(cache, 'utf8'));
    expect(Object.keys(checked).sort()).toEqual([join(dir, 'bin', 'kubectl'), join(dir, 'bin', 'kubelet')]);
    // Same size and the old mtime: trusted from the cache (rsync's quick check)...
    const kubectl = join(dir, 'bin', 'kubectl');
    const stamp = execFileSync('stat', ['-c', '%y', kubectl], { encoding: 'utf8' }).trim();
    const original = readFileSync(kubectl, 'utf8');
    writeFileSync(kubectl, original.replace('kubectl', 'KUBECTL'));
    execFileSync('touch', ['-d', stamp, kubectl]);
    expect(() => loadBundle(dir, cache)).not.toThrow();
    // ...but any other change of size or mtime is hashed and caught.
    writeFileSync(kubectl, original + 'extra\n');
    expect(() => loadBundle(dir, cache)).toThrow(/checksum mismatch for bin\/kubectl/);
  });
});
