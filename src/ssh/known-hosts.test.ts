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
    const hmac = createHmac('sha1', salt).update('[10.0.0.9]:2222').digest('base64');
    const hashed = `|1|${salt.toString('base64')}|${hmac}`;
    writeFileSync(
      file,
      `# comment\n10.0.0.1,master ssh-ed25519 ${key.toString('base64')}\n` +
        `${hashed} ssh-ed25519 ${key.toString('base64')}\n`,
    );
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
    expect(checkHostKey(file, '10.0.0.1', 22, other)).toEqual({
      status: 'changed',
      expected: fingerprint(key),
      line: 1,
      file,
    });
  });

  it('records new keys in OpenSSH format', () => {
    const file = join(dir, 'new');
    recordHostKey(file, '10.0.0.2', 2200, key);
    expect(readFileSync(file, 'utf8')).toBe(`[10.0.0.2]:2200 ssh-ed25519 ${key.toString('base64')}\n`);
    expect(checkHostKey(file, '10.0.0.2', 2200, key)).toEqual({ status: 'known' });
    expect(fingerprint(key)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('refuses a key listed @revoked for the host (or *), even if it is also listed as known', () => {
    const file = join(dir, 'revoked');
    const b64 = key.toString('base64');
    writeFileSync(file, `10.0.0.1 ssh-ed25519 ${b64}\n@revoked * ssh-ed25519 ${b64}\n`);
    expect(checkHostKey(file, '10.0.0.1', 22, key)).toEqual({ status: 'revoked', line: 2, file });
    const named = join(dir, 'revoked-named');
    writeFileSync(named, `10.0.0.1,10.0.0.2 ssh-ed25519 ${b64}\n@revoked 10.0.0.2 ssh-ed25519 ${b64}\n`);
    expect(checkHostKey(named, '10.0.0.2', 22, key)).toEqual({ status: 'revoked', line: 2, file: named });
    // Revoked for another host only: this one still knows it.
    expect(checkHostKey(named, '10.0.0.1', 22, key)).toEqual({ status: 'known' });
    // A revoked key is never offered as a known key type.
    writeFileSync(named, `@revoked 10.0.0.3 ssh-ed25519 ${b64}\n`);
    expect(knownKeyTypes(named, '10.0.0.3', 22)).toEqual([]);
  });

  it('a negated pattern takes the host off the line, for checking and for key types', () => {
    const file = join(dir, 'negated');
    writeFileSync(file, `10.0.0.*,!10.0.0.66 ssh-ed25519 ${key.toString('base64')}\n`);
    expect(checkHostKey(file, '10.0.0.5', 22, key)).toEqual({ status: 'known' });
    expect(checkHostKey(file, '10.0.0.66', 22, key)).toEqual({ status: 'unknown' });
    expect(checkHostKey(file, '10.0.0.66', 22, other)).toEqual({ status: 'unknown' });
    expect(knownKeyTypes(file, '10.0.0.66', 22)).toEqual([]);
    expect(knownKeyTypes(file, '10.0.0.5', 22)).toEqual(['ssh-ed25519']);
  });

  it('reports @cert-authority lines as unsupported: a warning beside a known key, refused with no other key', () => {
    const file = join(dir, 'ca');
    const ca = `@cert-authority *.lab ssh-ed25519 ${other.toString('base64')}`;
    writeFileSync(file, `${ca}\nm1.lab ssh-ed25519 ${key.toString('base64')}\n`);
    const known = checkHostKey(file, 'm1.lab', 22, key);
    expect(known.status).toBe('known');
    const warning = '@cert-authority lines are not supported (kprov does not verify host certificates); ignored';
    expect(known.status === 'known' && known.warnings).toEqual([`${file}:1: ${warning}`]);
    expect(checkHostKey(file, 'm2.lab', 22, key)).toEqual({ status: 'cert-authority-only', line: 1, file });
    expect(knownKeyTypes(file, 'm2.lab', 22)).toEqual([]);
  });
});
