import { describe, expect, it } from 'vitest';
import { createHmac, randomBytes, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkHostKey, fingerprint, keyTypeOf, recordHostKey, knownKeyTypes } from './known-hosts.js';

/** An ssh-ed25519 public key blob from a real key pair. */
function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const type = Buffer.from('ssh-ed25519');
  const len = (b: Buffer) => Buffer.from([0, 0, 0, b.length]);
  return Buffer.concat([len(type), type, len(raw), raw]);
}

describe('known_hosts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kprov-kh-'));
  const key = ed25519Blob();
  const other = ed25519Blob();

  it('matches plain, port-qualified and hashed names', () => {
    const file = join(dir, 'plain');
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[10.0.0.9]:2222').digest('base64')}`;
    writeFileSync(file, `# comment\n10.0.0.1,master ssh-ed25519 ${key.toString('base64')}\n${hashed} ssh-ed25519 ${key.toString('base64')}\n`);
    expect(keyTypeOf(key)).toBe('ssh-ed25519');
    expect(checkHostKey(file, '10.0.0.1', 22, key)).toEqual({ status: 'known' });
    expect(checkHostKey(file, 'master', 22, key)).toEqual({ status: 'known' });
    expect(checkHostKey(file, '10.0.0.9', 2222, key)).toEqual({ status: 'known' });
    expect(checkHostKey(file, '10.0.0.1', 2222, key)).toEqual({ status: 'unknown' });
    expect(knownKeyTypes(file, '10.0.0.1', 22)).toEqual(['ssh-ed25519']);
  });

  it('reports a changed key with the expected fingerprint and line', () => {
    const file = join(dir, 'changed');
    writeFileSync(file, `10.0.0.1 ssh-ed25519 ${key.toString('base64')}\n`);
    expect(checkHostKey(file, '10.0.0.1', 22, other)).toEqual({ status: 'changed', expected: fingerprint(key), line: 1, file });
  });

  it('records new keys in OpenSSH format', () => {
    const file = join(dir, 'new');
    recordHostKey(file, '10.0.0.2', 2200, key);
    expect(readFileSync(file, 'utf8')).toBe(`[10.0.0.2]:2200 ssh-ed25519 ${key.toString('base64')}\n`);
    expect(checkHostKey(file, '10.0.0.2', 2200, key)).toEqual({ status: 'known' });
    expect(fingerprint(key)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});
