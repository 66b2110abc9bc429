import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { readTar, writeTar, type TarEntry } from '../artifacts/tar.js';

/** What a backup holds besides its files, as kprov-backup.json inside the archive. */
export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  created: string;
  clusterName: string;
  kubernetesVersion: string;
  /** sha256 of the cluster CA certificate (DER): restore compares it with the hosts' CA. */
  caSha256: string;
  etcd: {
    /** The member the snapshot was taken from. */
    takenFrom: string;
    /** etcd's revision just before the snapshot was taken (the snapshot holds at least this one). */
    minRevision: string;
    /** sha256 of etcd/snapshot.db (database and etcd's own hash of it). */
    snapshotSha256: string;
    dbBytes: number;
    members: { name: string; peerUrl: string }[];
  };
}

export const BACKUP_FORMAT = 'kprov-backup/v1';
export const MANIFEST_NAME = 'kprov-backup.json';
export const SNAPSHOT_NAME = 'etcd/snapshot.db';
/** kprov's saved state (PKI, admin.conf) sits under this folder in the archive. */
export const STATE_PREFIX = 'state/';

/** Encrypted archives start with this line; the rest is salt, IV, GCM tag and the ciphertext of the gzip. */
const ENCRYPTED_MAGIC = Buffer.from('kprov-backup-aes-256-gcm\n');
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 2 ** 20 };

export class BackupFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupFormatError';
  }
}

export interface BackupContents {
  manifest: BackupManifest;
  snapshot: Buffer;
  /** The saved state's files, by path relative to the state directory. */
  state: TarEntry[];
}

/** One archive: a gzipped tar any tar can list, encrypted (AES-256-GCM, scrypt key) when a passphrase is given. */
export function packBackup(contents: BackupContents, passphrase?: string): Buffer {
  const tar = writeTar([
    { name: MANIFEST_NAME, content: Buffer.from(`${JSON.stringify(contents.manifest, null, 2)}\n`), mode: 0o600 },
    { name: SNAPSHOT_NAME, content: contents.snapshot, mode: 0o600 },
    ...contents.state.map((e) => ({ ...e, name: STATE_PREFIX + e.name })),
  ]);
  const gz = gzipSync(tar);
  if (passphrase === undefined) return gz;
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', scryptSync(passphrase, salt, 32, SCRYPT), iv);
  const body = Buffer.concat([cipher.update(gz), cipher.final()]);
  return Buffer.concat([ENCRYPTED_MAGIC, salt, iv, cipher.getAuthTag(), body]);
}

export const isEncryptedBackup = (archive: Buffer) =>
  archive.subarray(0, ENCRYPTED_MAGIC.length).equals(ENCRYPTED_MAGIC);

/** The contents of an archive packBackup made; anything else (or a wrong passphrase) is a BackupFormatError. */
export function unpackBackup(archive: Buffer, passphrase?: string): BackupContents {
  let gz = archive;
  if (isEncryptedBackup(archive)) {
    if (passphrase === undefined) {
      throw new BackupFormatError('the backup is encrypted: set KPROV_BACKUP_PASSPHRASE to its passphrase');
    }
    const at = ENCRYPTED_MAGIC.length;
    const [salt, iv, tag] = [
      archive.subarray(at, at + 16),
      archive.subarray(at + 16, at + 28),
      archive.subarray(at + 28, at + 44),
    ];
    const decipher = createDecipheriv('aes-256-gcm', scryptSync(passphrase, salt, 32, SCRYPT), iv);
    decipher.setAuthTag(tag);
    try {
      gz = Buffer.concat([decipher.update(archive.subarray(at + 44)), decipher.final()]);
    } catch {
      throw new BackupFormatError('the backup does not decrypt: wrong KPROV_BACKUP_PASSPHRASE, or the file is damaged');
    }
  }
  let entries: TarEntry[];
  try {
    entries = readTar(gunzipSync(gz));
  } catch (err) {
    throw new BackupFormatError(`not a kprov backup (${(err as Error).message})`);
  }
  const member = (name: string) => entries.find((e) => e.name === name)?.content;
  const manifestText = member(MANIFEST_NAME);
  const snapshot = member(SNAPSHOT_NAME);
  if (!manifestText || !snapshot)
    throw new BackupFormatError(`not a kprov backup: ${MANIFEST_NAME} or ${SNAPSHOT_NAME} is missing`);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(manifestText.toString('utf8')) as BackupManifest;
  } catch (err) {
    throw new BackupFormatError(`${MANIFEST_NAME}: ${(err as Error).message}`);
  }
  if (manifest.format !== BACKUP_FORMAT) {
    throw new BackupFormatError(
      `${MANIFEST_NAME}: format ${JSON.stringify(manifest.format)}, expected ${BACKUP_FORMAT}`,
    );
  }
  const sha = createHash('sha256').update(snapshot).digest('hex');
  if (sha !== manifest.etcd.snapshotSha256) {
    throw new BackupFormatError(
      `${SNAPSHOT_NAME} has sha256 ${sha}, the manifest says ${manifest.etcd.snapshotSha256}`,
    );
  }
  const state = entries
    .filter((e) => e.name.startsWith(STATE_PREFIX))
    .map((e) => ({ ...e, name: e.name.slice(STATE_PREFIX.length) }));
  for (const e of state) {
    if (e.name.split('/').some((part) => part === '..' || part === '') || e.name.startsWith('/')) {
      throw new BackupFormatError(`refusing a state file named ${JSON.stringify(e.name)}`);
    }
  }
  return { manifest, snapshot, state };
}

/** sha256 of a PEM certificate's DER bytes (the fingerprint openssl x509 -fingerprint -sha256 prints). */
export function certificateSha256(pem: string): string {
  const b64 = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)?.[1];
  if (!b64) throw new Error('not a PEM certificate');
  return createHash('sha256')
    .update(Buffer.from(b64.replace(/\s+/g, ''), 'base64'))
    .digest('hex');
}
