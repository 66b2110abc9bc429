import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeConnection } from './fake-connection.testing.js';
import { shq } from './quote.js';
import { kubeconfigFileFor } from '../actions/init.js';
import { applyFiles, planFiles, ROOT_STAGING_DIR, sha256Of, takeUpload, type DesiredFile } from './files.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('installing files through a root-only copy', () => {
  const sudoers: DesiredFile = {
    path: '/etc/sudoers.d/90-kprov-ubuntu',
    content: 'ubuntu ALL=(ALL) NOPASSWD:ALL\n',
    mode: 0o440,
    validate: 'visudo -cf %s',
  };

  it("validates and installs root's checked copy, never the login user's upload, and removes the upload", async () => {
    const conn = new FakeConnection('m1');
    await applyFiles(conn.asConnection(), [sudoers], [{ path: sudoers.path, kind: 'create' }], true);
    const [upload] = [...conn.uploads.keys()];
    const install = conn.execs.find((e) => e.step === 'install files')!;
    expect(install.sudo).toBe(true);
    const root = new RegExp(`${ROOT_STAGING_DIR}/[0-9a-f]{16}`);
    const dir = install.command.match(root)![0];
    // The root-only directory is made fresh (mkdir fails if the name exists) and closed to everyone else.
    expect(install.command).toContain(`mkdir -m 0700 ${shq(dir)}`);
    // The upload is copied once, removed, and the copy's sha256 must be what was sent.
    expect(install.command).toContain(`cp ${shq(upload)} ${shq(`${dir}/0`)}; rc=$?; rm -f ${shq(upload)}`);
    expect(install.command).toContain(`= ${sha(String(sudoers.content))} ]`);
    // visudo checks the copy, and the copy is what gets installed.
    expect(install.command).toContain(`visudo -cf ${shq(`${dir}/0`)}`);
    expect(install.command).not.toMatch(new RegExp(`visudo -cf '?${upload}`));
    expect(install.command).toContain(
      `install -m 0440 -o root -g root ${shq(`${dir}/0`)} /etc/sudoers.d/.90-kprov-ubuntu.kprov-new`,
    );
    // A hidden temporary name: the kubelet would read /etc/kubernetes/manifests/etcd.yaml.kprov-new as a pod.
    expect(install.command.indexOf(`visudo`)).toBeLessThan(install.command.indexOf('install -m'));
    // No command reads the upload after the copy: its only other mention is the cleanup.
    const clean = conn.execs.find((e) => e.step === 'clean staging')!;
    expect(clean).toMatchObject({ sudo: true, command: `rm -rf ${shq(upload)} ${shq(dir)}` });
  });

  it('the copy step refuses an upload swapped after it was sent, and removes it', () => {
    const d = mkdtempSync(join(tmpdir(), 'kprov-stage-'));
    const upload = join(d, 'upload');
    writeFileSync(upload, 'ubuntu ALL=(ALL) NOPASSWD:ALL\n');
    // What a loop as the login user does between upload and install:
    writeFileSync(upload, 'ubuntu ALL=(ALL) NOPASSWD:ALL\nDefaults:deployer !authenticate\n');
    const r = spawnSync(
      'sh',
      ['-c', takeUpload(upload, join(d, 'copy'), sha('ubuntu ALL=(ALL) NOPASSWD:ALL\n'), 'sudoers')],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(5);
    expect(r.stderr).toContain('the upload of sudoers changed before it was installed');
    expect(existsSync(upload)).toBe(false);
    writeFileSync(upload, 'same\n');
    const ok = spawnSync('sh', ['-c', takeUpload(upload, join(d, 'copy2'), sha('same\n'), 'x')]);
    expect(ok.status).toBe(0);
    expect(readFileSync(join(d, 'copy2'), 'utf8')).toBe('same\n');
    expect(existsSync(upload)).toBe(false);
  });

  it('a mode/owner fix refuses a symbolic link', async () => {
    const conn = new FakeConnection('m1', (cmd) =>
      cmd.includes('sha256sum') ? { stdout: `644 root root ${sha('x')}\n` } : undefined,
    );
    const f: DesiredFile = { path: '/etc/x', content: 'x', mode: 0o600 };
    const changes = await planFiles(conn.asConnection(), [f], true);
    expect(changes).toEqual([{ path: '/etc/x', kind: 'mode' }]);
    await applyFiles(conn.asConnection(), [f], changes, true);
    expect(conn.execs.at(-1)!.command).toContain('[ ! -L /etc/x ]');
    expect(conn.uploads.size).toBe(0);
  });
});

describe("a user's ~/.kube belongs to the user", () => {
  const admin = 'apiVersion: v1\nkind: Config\n';
  const file = kubeconfigFileFor('ubuntu', '/home/ubuntu', admin);

  it('creates ~/.kube as the user, 0700', async () => {
    const conn = new FakeConnection('m1', (_cmd, o) =>
      o.step === 'compare files' ? { stdout: 'dir:missing missing\n' } : undefined,
    );
    const changes = await planFiles(conn.asConnection(), [file], true);
    expect(changes).toEqual([{ path: '/home/ubuntu/.kube/config', kind: 'create' }]);
    await applyFiles(conn.asConnection(), [file], changes, true);
    const install = conn.execs.find((e) => e.step === 'install files')!.command;
    expect(install).toContain('mkdir -p -m 0700 /home/ubuntu/.kube; } && { [ ! -L /home/ubuntu/.kube ]');
    expect(install).toContain('chown ubuntu:ubuntu /home/ubuntu/.kube && chmod 0700 /home/ubuntu/.kube');
    expect(install).toContain('install -m 0600 -o ubuntu -g ubuntu');
  });

  it('a re-run fixes a root-owned ~/.kube left by an earlier run, though the file itself is right', async () => {
    const conn = new FakeConnection('m1', (_cmd, o) =>
      o.step === 'compare files' ? { stdout: `dir:700:root:root 600 ubuntu ubuntu ${sha(admin)}\n` } : undefined,
    );
    const changes = await planFiles(conn.asConnection(), [file], true);
    expect(changes).toEqual([{ path: '/home/ubuntu/.kube/config', kind: 'mode' }]);
    await applyFiles(conn.asConnection(), [file], changes, true);
    expect(conn.execs.at(-1)!.command).toContain(
      'chown ubuntu:ubuntu /home/ubuntu/.kube && chmod 0700 /home/ubuntu/.kube',
    );
    expect(conn.uploads.size).toBe(0);
  });

  it('a right ~/.kube is left alone', async () => {
    const conn = new FakeConnection('m1', () => ({
      stdout: `dir:700:ubuntu:ubuntu 600 ubuntu ubuntu ${sha(admin)}\n`,
    }));
    expect(await planFiles(conn.asConnection(), [file], true)).toEqual([]);
  });
});

describe('hashing on the host', () => {
  it('gives the same sha256 with OpenSSL and with coreutils alone', () => {
    const d = mkdtempSync(join(tmpdir(), 'kprov-sha-'));
    const file = join(d, "a file's name");
    writeFileSync(file, 'content\n'.repeat(1000));
    const bin = join(d, 'bin');
    mkdirSync(bin);
    for (const tool of ['sha256sum', 'cut'])
      symlinkSync(
        execFileSync('sh', ['-c', `command -v ${tool}`])
          .toString()
          .trim(),
        join(bin, tool),
      );
    const hash = (path: string) =>
      spawnSync('/bin/sh', ['-c', sha256Of(shq(file))], { env: { PATH: path }, encoding: 'utf8' }).stdout.trim();
    expect(hash(process.env.PATH!)).toBe(sha('content\n'.repeat(1000)));
    expect(hash(bin)).toBe(sha('content\n'.repeat(1000)));
  });
});
