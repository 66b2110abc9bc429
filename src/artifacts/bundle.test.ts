import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerdModule, elfMachine, goModInfo, loadBundle } from './bundle.js';
import { CONTAINERD2, goBinary } from './bundle.testing.js';

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

describe('reading containerd from its binary', () => {
  it('finds the module lines Go links in and containerd among them', () => {
    const info = goModInfo(goBinary(CONTAINERD2));
    expect(info).toBe(CONTAINERD2);
    expect(containerdModule(info!)).toEqual({ major: 2, version: 'v2.4.2' });
    // containerd 1.x has no /vN suffix; a build from its own tree records "(devel)".
    expect(containerdModule('mod\tgithub.com/containerd/containerd\t(devel)\t\n')).toEqual({ major: 1 });
    expect(containerdModule('dep\tgithub.com/containerd/containerd/api\tv1.12.0\n')).toBeUndefined();
    expect(goModInfo(Buffer.from('not a go binary'))).toBeUndefined();
  });

  it('names the machine of an ELF executable as uname -m does', () => {
    expect(elfMachine(goBinary('', 62))).toBe('x86_64');
    expect(elfMachine(goBinary('', 183))).toBe('aarch64');
    expect(elfMachine(Buffer.from('#!/bin/sh\necho hi\n'))).toBeUndefined();
  });
});

function runtimeBundle(opts: { cni?: string[]; skip?: string; machine?: number } = {}): string {
  const dir = makeBundle();
  mkdirSync(join(dir, 'runtime', 'bin'), { recursive: true });
  for (const b of ['containerd', 'containerd-shim-runc-v2', 'ctr', 'runc'].filter((b) => b !== opts.skip)) {
    const mods = b === 'runc' ? 'mod\tgithub.com/opencontainers/runc\tv1.3.7\t\n' : CONTAINERD2;
    writeFileSync(join(dir, 'runtime', 'bin', b), goBinary(mods, b === 'runc' ? (opts.machine ?? 62) : 62));
  }
  mkdirSync(join(dir, 'cni'));
  for (const p of opts.cni ?? ['bridge', 'host-local', 'loopback', 'portmap'])
    writeFileSync(join(dir, 'cni', p), goBinary(''));
  return dir;
}

describe('a bundle with a container runtime', () => {
  it('reads the runtime: its binaries, containerd major and version, and their machine', () => {
    const dir = runtimeBundle();
    const { runtime, cniPlugins } = loadBundle(dir);
    expect(runtime).toEqual({
      binaries: {
        containerd: join(dir, 'runtime/bin/containerd'),
        'containerd-shim-runc-v2': join(dir, 'runtime/bin/containerd-shim-runc-v2'),
        ctr: join(dir, 'runtime/bin/ctr'),
        runc: join(dir, 'runtime/bin/runc'),
      },
      containerdMajor: 2,
      containerdVersion: 'v2.4.2',
      arch: 'x86_64',
    });
    expect(cniPlugins.map((p) => p.slice(dir.length + 1)).sort()).toEqual([
      'cni/bridge',
      'cni/host-local',
      'cni/loopback',
      'cni/portmap',
    ]);
    expect(loadBundle(makeBundle()).runtime).toBeUndefined();
  });

  it('refuses an incomplete runtime, one without the CNI plugins it stands in for, and mixed machines', () => {
    expect(() => loadBundle(runtimeBundle({ skip: 'runc' }))).toThrow(
      /has an incomplete runtime: runtime\/bin\/ lacks runc/,
    );
    expect(() => loadBundle(runtimeBundle({ cni: ['bridge', 'loopback'] }))).toThrow(
      /has a runtime but its cni\/ lacks host-local, portmap/,
    );
    expect(() => loadBundle(runtimeBundle({ machine: 183 }))).toThrow(/mixes architectures: x86_64, aarch64/);
    const notElf = runtimeBundle();
    writeFileSync(join(notElf, 'runtime/bin/ctr'), '#!/bin/sh\n');
    expect(() => loadBundle(notElf)).toThrow(/runtime\/bin\/ctr .* is not a Linux executable/);
  });

  it('for prepare, needs no Kubernetes binaries and checks only the runtime and CNI plugins', () => {
    const dir = runtimeBundle();
    rmSync(join(dir, 'bin', 'kubelet'));
    expect(() => loadBundle(dir)).toThrow(/has no bin\/kubelet/);
    // kubelet is listed in SHA256SUMS but gone: prepare does not look at it.
    expect(loadBundle(dir, undefined, 'prepare').runtime?.containerdMajor).toBe(2);
    const sum = createHash('sha256').update('other').digest('hex');
    writeFileSync(join(dir, 'SHA256SUMS'), `${sum}  runtime/bin/runc\n`, { flag: 'a' });
    expect(() => loadBundle(dir, undefined, 'prepare')).toThrow(/checksum mismatch for runtime\/bin\/runc/);
  });
});
