/** Small, pure IPv4 helpers for CIDR validation and address arithmetic. */

export interface Cidr {
  base: number; // network address as an unsigned 32-bit number
  prefix: number;
  text: string;
}

export function parseIPv4(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function isIPv4(text: string): boolean {
  return parseIPv4(text) !== null;
}

/** Parse "a.b.c.d/n". Host bits must be zero, as Kubernetes requires for its CIDR flags. */
export function parseCidr(text: string): Cidr | string {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) return `"${text}" is not a CIDR (expected a.b.c.d/n)`;
  const ip = parseIPv4(m[1]);
  const prefix = Number(m[2]);
  if (ip === null) return `"${m[1]}" is not an IPv4 address`;
  if (prefix < 1 || prefix > 32) return `prefix /${prefix} is out of range`;
  const mask = prefix === 32 ? 0xffffffff : ~(0xffffffff >>> prefix) >>> 0;
  if ((ip & mask) >>> 0 !== ip)
    return `"${text}" has host bits set (network address is ${formatIPv4((ip & mask) >>> 0)}/${prefix})`;
  return { base: ip, prefix, text: text.trim() };
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const aEnd = a.base + cidrSize(a) - 1;
  const bEnd = b.base + cidrSize(b) - 1;
  return a.base <= bEnd && b.base <= aEnd;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip <= c.base + cidrSize(c) - 1;
}

/** The n-th address of a CIDR (kubeadm: API service IP is n=1, cluster DNS is n=10). */
export function nthAddress(c: Cidr, n: number): string {
  return formatIPv4(c.base + n);
}
