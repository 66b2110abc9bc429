import { describe, expect, it } from 'vitest';
import {
  canonicalIPv6,
  cidrs6Overlap,
  formatIPv6,
  ipv6NodeAddressProblem,
  parseCidr6,
  parseIPv6,
  type Cidr6,
} from './ipv6.js';

const cidr = (text: string) => parseCidr6(text) as Cidr6;

describe('IPv6 helpers', () => {
  it('parse addresses in every spelling, embedded IPv4 included; refuse anything else', () => {
    expect(parseIPv6('::')).toBe(0n);
    expect(parseIPv6('::1')).toBe(1n);
    expect(parseIPv6('fd00:10:244::1')).toBe((0xfd00n << 112n) | (0x10n << 96n) | (0x244n << 80n) | 1n);
    expect(parseIPv6('FD00:0010:0244:0000:0000:0000:0000:0001')).toBe(parseIPv6('fd00:10:244::1'));
    expect(parseIPv6('::ffff:10.0.0.1')).toBe((0xffffn << 32n) | 0x0a000001n);
    for (const bad of ['10.0.0.1', 'fd00::1::2', 'fd00:::1', 'fe80::1%eth0', 'g::1', '1:2:3:4:5:6:7:8:9', ' ::1']) {
      expect(parseIPv6(bad), bad).toBeNull();
    }
  });

  it('write addresses as RFC 5952 does: lowercase, no leading zeros, the longest zero run as ::', () => {
    expect(formatIPv6(0n)).toBe('::');
    expect(formatIPv6(1n)).toBe('::1');
    expect(canonicalIPv6('FD6B:7072:6F76:0001:0000:0000:0000:0002')).toBe('fd6b:7072:6f76:1::2');
    // A single zero group is not shortened; of two runs the longer (then the first) one is.
    expect(canonicalIPv6('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIPv6('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1');
    expect(canonicalIPv6('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIPv6('fd00::')).toBe('fd00::');
    expect(canonicalIPv6('10.0.0.1')).toBeUndefined();
  });

  it('parse CIDRs as Kubernetes wants them: host bits zero, prefix 1-128', () => {
    expect(cidr('fd00:10:244::/56')).toEqual({
      base: parseIPv6('fd00:10:244::'),
      prefix: 56,
      text: 'fd00:10:244::/56',
    });
    expect(parseCidr6('fd00:10:244::1/56')).toBe(
      '"fd00:10:244::1/56" has host bits set (network address is fd00:10:244::/56)',
    );
    expect(parseCidr6('fd00::/0')).toBe('prefix /0 is out of range');
    expect(parseCidr6('fd00::/129')).toBe('prefix /129 is out of range');
    expect(parseCidr6('10.0.0.0/8')).toBe('"10.0.0.0" is not an IPv6 address');
    expect(parseCidr6('fd00::')).toMatch(/is not a CIDR/);
  });

  it('overlap is any shared address', () => {
    expect(cidrs6Overlap(cidr('fd00:10:244::/56'), cidr('fd00:10:244:ff::/64'))).toBe(true);
    expect(cidrs6Overlap(cidr('fd00:10:244::/56'), cidr('fd00:10:96::/112'))).toBe(false);
    expect(cidrs6Overlap(cidr('fd00::/8'), cidr('fd00:10:96::/112'))).toBe(true);
  });

  it("a node's address is global or unique-local", () => {
    const problem = (ip: string) => ipv6NodeAddressProblem(parseIPv6(ip)!);
    expect(problem('fd6b:7072:6f76:1::2')).toBeUndefined();
    expect(problem('2001:db8::10')).toBeUndefined();
    expect(problem('::')).toMatch(/unspecified/);
    expect(problem('::1')).toMatch(/loopback/);
    expect(problem('fe80::42:acff:fe17:2')).toMatch(/link-local/);
    expect(problem('ff02::1')).toMatch(/multicast/);
    expect(problem('::ffff:10.0.0.1')).toMatch(/IPv4-mapped/);
  });
});
