import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BACKUP_FORMAT, certificateSha256, packBackup } from '../backup/archive.js';
import { clusterStateDirFor } from '../config/state-dir.js';
import { runCli } from './run.testing.js';

const dir = mkdtempSync(join(tmpdir(), 'kprov-backup-cli-'));
const write = (name: string, text: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const pem = (body: string) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(body).toString('base64')}\n-----END CERTIFICATE-----\n`;

const key = join(dir, 'id');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
const pub = write('op.pub', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@x\n');
// Port 1 on loopback: nothing listens, every connection is refused at once.
const inventory = write(
  'hosts.ini',
  `[masters]\nm1 ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_private_key_file=${key}\n` +
    `[all:vars]\nsudo_user_public_key=${pub}\n`,
);

/** A snapshot that passes its own hash: a database page and its sha256. */
const db = Buffer.alloc(4096, 7);
const snapshot = Buffer.concat([db, createHash('sha256').update(db).digest()]);
function archive(caPem: string, passphrase?: string) {
  return packBackup(
    {
      manifest: {
        format: BACKUP_FORMAT,
        created: '2026-12-01T00:00:00.000Z',
        clusterName: 'kubernetes',
        kubernetesVersion: 'v1.37.2',
        caSha256: certificateSha256(caPem),
        etcd: {
          takenFrom: 'm1',
          minRevision: '5',
          snapshotSha256: createHash('sha256').update(snapshot).digest('hex'),
          dbBytes: 4096,
          members: [{ name: 'm1', peerUrl: 'https://127.0.0.1:2380' }],
        },
      },
      snapshot,
      state: [{ name: 'pki/ca.crt', content: Buffer.from(caPem), mode: 0o644 }],
    },
    passphrase,
  );
}

beforeEach(() => {
  vi.stubEnv('KPROV_HOME', mkdtempSync(join(dir, 'home-')));
  vi.stubEnv('KPROV_BACKUP_PASSPHRASE', '');
});
afterEach(() => vi.unstubAllEnvs());

/** Saved state as kprov init leaves it, with this CA. */
function savedState(caPem: string) {
  const state = clusterStateDirFor(inventory, 'kubernetes');
  mkdirSync(join(state, 'pki'), { recursive: true });
  writeFileSync(join(state, 'pki', 'ca.crt'), caPem);
  writeFileSync(join(state, 'admin.conf'), 'apiVersion: v1\n');
}

describe('kprov backup and restore refuse bad input with exit 2, before touching a host', () => {
  it('backup without a cluster, or onto an existing file', async () => {
    const none = await runCli('backup', inventory, '--out', join(dir, 'b1'));
    expect([none.code, none.err]).toEqual([2, expect.stringContaining('run kprov init first')]);
    savedState(pem('ca'));
    const taken = await runCli('backup', inventory, '--out', inventory);
    expect([taken.code, taken.err]).toEqual([2, expect.stringContaining('already exists')]);
  });

  it('restore from a missing file, a foreign file, or an encrypted one without its passphrase', async () => {
    const missing = await runCli('restore', inventory, '--from', join(dir, 'nope'));
    expect([missing.code, missing.err]).toEqual([2, expect.stringContaining('no such file')]);
    const junk = await runCli('restore', inventory, '--from', inventory);
    expect([junk.code, junk.err]).toEqual([2, expect.stringContaining('not a kprov backup')]);
    const sealed = write('sealed', archive(pem('ca'), 'secret'));
    const locked = await runCli('restore', inventory, '--from', sealed);
    expect([locked.code, locked.err]).toEqual([2, expect.stringContaining('set KPROV_BACKUP_PASSPHRASE')]);
    vi.stubEnv('KPROV_BACKUP_PASSPHRASE', 'wrong');
    const wrong = await runCli('restore', inventory, '--from', sealed);
    expect([wrong.code, wrong.err]).toEqual([2, expect.stringContaining('does not decrypt')]);
  });

  it("restore of another cluster's backup (a different CA) unless told", async () => {
    savedState(pem('this cluster'));
    const other = write('other', archive(pem('another cluster')));
    const r = await runCli('restore', inventory, '--from', other);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--allow-different-ca');
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});

describe('kprov restore with a master unreachable', () => {
  it('changes nothing, says so and exits 1', async () => {
    savedState(pem('ca'));
    const r = await runCli(
      'restore',
      inventory,
      '--from',
      write('good', archive(pem('ca'))),
      '--log-file',
      join(dir, 'r.log'),
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain('restore preflight failed (nothing was changed)');
    expect(r.err).toMatch(/m1: \[connect\] cannot connect/);
  });
});
