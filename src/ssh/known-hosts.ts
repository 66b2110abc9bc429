import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** One known_hosts entry: hosts it names (plain or hashed), key type and base64 key blob. */
interface Entry {
  hosts: string[];
  type: string;
  key: string;
  line: number;
}

/** The name OpenSSH writes for a host: plain for port 22, [host]:port otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH-style fingerprint: SHA256:<base64 without padding>. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type is the first length-prefixed string inside the SSH key blob. */
export function keyTypeOf(keyBlob: Buffer): string {
  const len = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + len).toString('ascii');
}

function hostMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return digest === hash;
  }
  if (pattern.includes('*') || pattern.includes('?')) {
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    return re.test(name);
  }
  return pattern === name;
}

function readEntries(file: string): Entry[] {
  if (!existsSync(file)) return [];
  const entries: Entry[] = [];
  readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    if (fields[0].startsWith('@')) return; // @cert-authority / @revoked markers are not supported: ignore safely
    if (fields.length < 3) return;
    entries.push({ hosts: fields[0].split(','), type: fields[1], key: fields[2], line: i + 1 });
  });
  return entries;
}

export type HostKeyVerdict =
  | { status: 'known' }
  | { status: 'unknown' }
  | { status: 'changed'; expected: string; line: number; file: string };

/** Compare a presented host key with known_hosts. A name with keys of other types is "unknown" for this type. */
export function checkHostKey(file: string, host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const type = keyTypeOf(keyBlob);
  const presented = keyBlob.toString('base64');
  const matching = readEntries(file).filter((e) => e.hosts.some((p) => !p.startsWith('!') && hostMatches(p, name)));
  if (matching.some((e) => e.type === type && e.key === presented)) return { status: 'known' };
  const sameType = matching.find((e) => e.type === type);
  if (sameType) {
    return { status: 'changed', expected: fingerprint(Buffer.from(sameType.key, 'base64')), line: sameType.line, file };
  }
  return { status: 'unknown' };
}

/** Key types known for a host, so the client can ask the server for one of those first (as OpenSSH does). */
export function knownKeyTypes(file: string, host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  return [...new Set(readEntries(file).filter((e) => e.hosts.some((p) => hostMatches(p, name))).map((e) => e.type))];
}

export function recordHostKey(file: string, host: string, port: number, keyBlob: Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${knownHostsName(host, port)} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}\n`, { mode: 0o600 });
}
