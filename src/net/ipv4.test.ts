import { describe, expect, it } from 'vitest';
import { cidrContains, cidrsOverlap, formatIPv4, isIPv4, nthAddress, parseCidr, parseIPv4, type Cidr } from './ipv4.js';

const cidr = (text: string) => parseCidr(text) as Cidr;

describe('IPv4 helpers', () => {
  it('parse and format addresses, rejecting anything else', () => {
    expect(parseIPv4('10.96.0.1')).toBe(0x0a600001);
    expect(formatIPv4(0xffffffff)).toBe('255.255.255.255');
    for (const bad of ['256.0.0.1', '10.0.0', '10.0.0.1.2', ' 10.0.0.1', 'fd00::1', '1e1.0.0.1']) {
      expect(isIPv4(bad), bad).toBe(false);
    }
  });

  it('parse CIDRs as Kubernetes wants them: host bits zero, prefix 1-32', () => {
    expect(cidr('10.244.0.0/16')).toEqual({ base: 0x0af40000, prefix: 16, text: '10.244.0.0/16' });
    expect(parseCidr('10.244.1.0/16')).toBe('"10.244.1.0/16" has host bits set (network address is 10.244.0.0/16)');
    expect(parseCidr('10.0.0.0/0')).toBe('prefix /0 is out of range');
    expect(parseCidr('10.0.0.0/33')).toBe('prefix /33 is out of range');
    expect(parseCidr('10.0.0.0')).toMatch(/is not a CIDR/);
    expect(parseCidr('10.0.0.300/24')).toMatch(/is not an IPv4 address/);
    expect(cidr('10.0.0.7/32').prefix).toBe(32);
  });

  it('tell overlapping networks and containment, including the edges', () => {
    expect(cidrsOverlap(cidr('10.96.0.0/12'), cidr('10.244.0.0/16'))).toBe(false);
    expect(cidrsOverlap(cidr('10.0.0.0/8'), cidr('10.244.0.0/16'))).toBe(true);
    expect(cidrsOverlap(cidr('10.0.0.0/24'), cidr('10.0.1.0/24'))).toBe(false);
    expect(cidrContains(cidr('10.96.0.0/12'), parseIPv4('10.111.255.255')!)).toBe(true);
    expect(cidrContains(cidr('10.96.0.0/12'), parseIPv4('10.112.0.0')!)).toBe(false);
  });

  it("give kubeadm's service addresses: the API at .1, cluster DNS at .10", () => {
    expect(nthAddress(cidr('10.96.0.0/12'), 1)).toBe('10.96.0.1');
    expect(nthAddress(cidr('10.96.0.0/12'), 10)).toBe('10.96.0.10');
  });
});
