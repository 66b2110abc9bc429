import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** One known_hosts entry: hosts it names (plain or hashed), key type and base64 key blob. */
interface Entry {
  hosts: string[];
  /** @revoked or @cert-authority, as OpenSSH writes them before the host patterns. */
  marker?: 'revoked' | 'cert-authority';
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
    const re = new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    );
    return re.test(name);
  }
  return pattern === name;
}

/**
 * Whether a line's host patterns name this host, as OpenSSH decides: some pattern matches and no negated
 * pattern (!pattern) does; a negated match makes the whole line not apply.
 */
function lineApplies(patterns: string[], name: string): boolean {
  if (patterns.some((p) => p.startsWith('!') && hostMatches(p.slice(1), name))) return false;
  return patterns.some((p) => !p.startsWith('!') && hostMatches(p, name));
}

function readEntries(file: string): Entry[] {
  if (!existsSync(file)) return [];
  const entries: Entry[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const fields = line.split(/\s+/);
      let marker: Entry['marker'];
      if (fields[0].startsWith('@')) {
        const m = fields.shift()!;
        if (m !== '@revoked' && m !== '@cert-authority') return; // OpenSSH ignores lines with unknown markers too
        marker = m === '@revoked' ? 'revoked' : 'cert-authority';
      }
      if (fields.length < 3) return;
      const entry: Entry = { hosts: fields[0].split(','), type: fields[1], key: fields[2], line: i + 1 };
      entries.push(marker ? { ...entry, marker } : entry);
    });
  return entries;
}

export type HostKeyVerdict =
  | { status: 'known'; warnings?: string[] }
  | { status: 'unknown' }
  | { status: 'changed'; expected: string; line: number; file: string }
  | { status: 'revoked'; line: number; file: string }
  | { status: 'cert-authority-only'; line: number; file: string };

/**
 * Compare a presented host key with known_hosts, as OpenSSH does: a key listed @revoked for the host is refused
 * even if also listed as known; lines a negated pattern excludes do not apply; @cert-authority lines are not
 * supported (kprov does not verify host certificates): reported, and refused when they are all there is.
 * A name with keys of other types only is "unknown" for this type.
 */
export function checkHostKey(file: string, host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const type = keyTypeOf(keyBlob);
  const presented = keyBlob.toString('base64');
  const applying = readEntries(file).filter((e) => lineApplies(e.hosts, name));
  const revoked = applying.find((e) => e.marker === 'revoked' && e.key === presented);
  if (revoked) return { status: 'revoked', line: revoked.line, file };
  const matching = applying.filter((e) => !e.marker);
  const authorities = applying.filter((e) => e.marker === 'cert-authority');
  const unsupported = '@cert-authority lines are not supported (kprov does not verify host certificates); ignored';
  const warnings = authorities.map((e) => `${file}:${e.line}: ${unsupported}`);
  if (matching.some((e) => e.type === type && e.key === presented)) {
    return warnings.length ? { status: 'known', warnings } : { status: 'known' };
  }
  const sameType = matching.find((e) => e.type === type);
  if (sameType) {
    return { status: 'changed', expected: fingerprint(Buffer.from(sameType.key, 'base64')), line: sameType.line, file };
  }
  if (matching.length === 0 && authorities.length > 0) {
    return { status: 'cert-authority-only', line: authorities[0].line, file };
  }
  return { status: 'unknown' };
}

/** Key types known for a host, so the client can ask the server for one of those first (as OpenSSH does). */
export function knownKeyTypes(file: string, host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  const usable = readEntries(file).filter((e) => !e.marker && lineApplies(e.hosts, name));
  return [...new Set(usable.map((e) => e.type))];
}

export function recordHostKey(file: string, host: string, port: number, keyBlob: Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${knownHostsName(host, port)} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}\n`, {
    mode: 0o600,
  });
}
