import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readTar, writeTar } from '../artifacts/tar.js';
import { BACKUP_FORMAT, isEncryptedBackup, packBackup, unpackBackup, type BackupContents } from './archive.js';

function contents(): BackupContents {
  const snapshot = Buffer.from('database bytes and a hash');
  return {
    manifest: {
      format: BACKUP_FORMAT,
      created: '2026-12-01T00:00:00.000Z',
      clusterName: 'kubernetes',
      kubernetesVersion: 'v1.37.2',
      caSha256: 'ab'.repeat(32),
      etcd: {
        takenFrom: 'master1',
        minRevision: '570',
        snapshotSha256: createHash('sha256').update(snapshot).digest('hex'),
        dbBytes: 1,
        members: [{ name: 'master1', peerUrl: 'https://10.0.0.1:2380' }],
      },
    },
    snapshot,
    state: [
      { name: 'admin.conf', content: Buffer.from('kubeconfig'), mode: 0o600 },
      { name: 'pki/ca.key', content: Buffer.from('KEY'), mode: 0o600 },
    ],
  };
}

describe('backup archive', () => {
  it('is a gzipped tar that system tar lists and extracts: manifest, snapshot, state', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kprov-backup-'));
    const file = join(dir, 'b.tar.gz');
    writeFileSync(file, packBackup(contents()));
    expect(execFileSync('tar', ['tzf', file], { encoding: 'utf8' }).split('\n').filter(Boolean)).toEqual([
      'kprov-backup.json',
      'etcd/snapshot.db',
      'state/admin.conf',
      'state/pki/ca.key',
    ]);
    execFileSync('tar', ['xzf', file, '-C', dir]);
    expect(readFileSync(join(dir, 'state/pki/ca.key'), 'utf8')).toBe('KEY');
  });

  it('round-trips, plain and encrypted', () => {
    const c = contents();
    expect(unpackBackup(packBackup(c))).toEqual(c);
    const sealed = packBackup(c, 'correct horse');
    expect(isEncryptedBackup(sealed)).toBe(true);
    expect(sealed.includes(Buffer.from('KEY'))).toBe(false);
    expect(unpackBackup(sealed, 'correct horse')).toEqual(c);
  });

  it('refuses an encrypted archive without a passphrase, or with a wrong one', () => {
    const sealed = packBackup(contents(), 'correct horse');
    expect(() => unpackBackup(sealed)).toThrow(/encrypted: set KPROV_BACKUP_PASSPHRASE/);
    expect(() => unpackBackup(sealed, 'wrong')).toThrow(/does not decrypt/);
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1] ^= 1;
    expect(() => unpackBackup(flipped, 'correct horse')).toThrow(/does not decrypt/);
  });

  it('refuses a foreign file, a snapshot other than the one recorded, and state outside its folder', () => {
    expect(() => unpackBackup(Buffer.from('hello'))).toThrow(/not a kprov backup/);
    const c = contents();
    expect(() => unpackBackup(packBackup({ ...c, snapshot: Buffer.from('other') }))).toThrow(/the manifest says/);
    const tar = readTar(gunzipSync(packBackup(c)));
    tar.push({ name: 'state/../../etc/cron.d/x', content: Buffer.from('x'), mode: 0o644 });
    expect(() => unpackBackup(gzipSync(writeTar(tar)))).toThrow(/refusing a state file/);
    const wrongFormat = { ...c, manifest: { ...c.manifest, format: 'other' as typeof BACKUP_FORMAT } };
    expect(() => unpackBackup(packBackup(wrongFormat))).toThrow(/format "other"/);
  });
});

describe('writeTar', () => {
  it('writes names longer than 100 bytes through the ustar prefix, as system tar reads them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kprov-tar-'));
    const name = `${'d'.repeat(80)}/${'e'.repeat(60)}/file.txt`;
    writeFileSync(join(dir, 't.tar'), writeTar([{ name, content: Buffer.from('x'), mode: 0o640 }]));
    expect(execFileSync('tar', ['tvf', join(dir, 't.tar')], { encoding: 'utf8' })).toContain(name);
    expect(readTar(readFileSync(join(dir, 't.tar')))).toEqual([{ name, content: Buffer.from('x'), mode: 0o640 }]);
    expect(() => writeTar([{ name: 'x'.repeat(120), content: Buffer.alloc(0), mode: 0o600 }])).toThrow(/too long/);
  });
});
