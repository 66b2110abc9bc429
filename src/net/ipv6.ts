/** Small, pure IPv6 helpers for dual-stack CIDR validation: addresses as 128-bit BigInts. */
import { isIPv6 } from 'node:net';

export interface Cidr6 {
  base: bigint;
  prefix: number;
  text: string;
}

const ALL = (1n << 128n) - 1n;

/** "fd00::1" -> 128-bit number; null when it is not an IPv6 address (an embedded IPv4 tail is allowed). */
export function parseIPv6(text: string): bigint | null {
  if (!isIPv6(text) || text.includes('%')) return null;
  let s = text.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const parts = v4[1].split('.').map(Number);
    const hex = (a: number, b: number) => ((a << 8) | b).toString(16);
    s = `${s.slice(0, -v4[1].length)}${hex(parts[0], parts[1])}:${hex(parts[2], parts[3])}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(missing).fill('0'), ...tailGroups];
  return groups.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (two or more) of zero groups as "::". */
export function formatIPv6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { start: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.len < 2) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.len).join(':')}`;
}

/** The address in RFC 5952 form (what the kubelet and the API print), or undefined when it is not IPv6. */
export function canonicalIPv6(text: string): string | undefined {
  const n = parseIPv6(text);
  return n === null ? undefined : formatIPv6(n);
}

/** Parse "fd00:10:244::/56". Host bits must be zero, as for IPv4 (Kubernetes' CIDR flags want the network). */
export function parseCidr6(text: string): Cidr6 | string {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return `"${text}" is not a CIDR (expected an IPv6 network like fd00:10:244::/56)`;
  const ip = parseIPv6(m[1]);
  const prefix = Number(m[2]);
  if (ip === null) return `"${m[1]}" is not an IPv6 address`;
  if (prefix < 1 || prefix > 128) return `prefix /${prefix} is out of range`;
  const hostMask = ALL >> BigInt(prefix);
  if ((ip & hostMask) !== 0n)
    return `"${text}" has host bits set (network address is ${formatIPv6(ip & ~hostMask & ALL)}/${prefix})`;
  return { base: ip, prefix, text: text.trim() };
}

export const cidr6Size = (c: Cidr6): bigint => 1n << BigInt(128 - c.prefix);

export function cidrs6Overlap(a: Cidr6, b: Cidr6): boolean {
  return a.base <= b.base + cidr6Size(b) - 1n && b.base <= a.base + cidr6Size(a) - 1n;
}

export const cidr6Contains = (c: Cidr6, ip: bigint): boolean => ip >= c.base && ip <= c.base + cidr6Size(c) - 1n;

/** Why an address cannot be a node's IPv6 address, or undefined when it can. */
export function ipv6NodeAddressProblem(ip: bigint): string | undefined {
  const within = (cidr: string) => cidr6Contains(parseCidr6(cidr) as Cidr6, ip);
  if (ip === 0n) return 'is the unspecified address';
  if (ip === 1n) return 'is the loopback address';
  if (within('fe80::/10')) return 'is link-local (the kubelet and flannel need a global or unique-local address)';
  if (within('ff00::/8')) return 'is a multicast address';
  if (within('::ffff:0:0/96')) return 'is an IPv4-mapped address (give the IPv4 address as node_ip)';
  return undefined;
}
