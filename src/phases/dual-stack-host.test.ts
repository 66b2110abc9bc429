import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { HostSpec, Resolved } from '../config/settings.js';
import { Host } from '../host/host.js';
import { ipv6NodeProblems, IPV6_NETWORK_SCRIPT, parseFacts } from '../host/facts.js';
import { render } from '../templates/render.js';
import { FakeConnection, type Responder } from '../ssh/fake-connection.testing.js';
import { testContext } from './context.testing.js';
import { hostPrepPhase, SYSCTL_FILE } from './host-prep.js';
import { validateHostsPhase } from './connect.js';

/** What `ip` printed in a dual-stack lab container (Docker 20.10, --ipv6 network), in IPV6_NETWORK_SCRIPT's order. */
const LAB_NODE = [
  '913: eth0    inet6 fd6b:7072:6f76:1::2/64 scope global nodad \\       valid_lft forever preferred_lft forever',
  '---',
  'default via 172.23.0.1 dev eth0 ',
  '---',
  'default via fd6b:7072:6f76:1::1 dev eth0 metric 1024 pref medium',
].join('\n');

describe('dual-stack hosts: node_ip6 is theirs, and flannel finds its IPv6 route', () => {
  it('a lab node passes', () => {
    expect(ipv6NodeProblems('fd6b:7072:6f76:1::2', LAB_NODE, true)).toEqual([]);
  });

  it('node_ip6 must be one of the host addresses (compared in RFC 5952 form)', () => {
    expect(ipv6NodeProblems('fd6b:7072:6f76:1::9', LAB_NODE, true)).toEqual([
      'node_ip6 fd6b:7072:6f76:1::9 is not an address of this host (global IPv6 addresses: fd6b:7072:6f76:1::2)',
    ]);
    const longForm = LAB_NODE.replace('fd6b:7072:6f76:1::2/64', 'fd6b:7072:6f76:0001:0:0:0:2/64');
    expect(ipv6NodeProblems('fd6b:7072:6f76:1::2', longForm, true)).toEqual([]);
  });

  it('with flannel: an IPv6 default route, on the interface of the IPv4 one', () => {
    const noRoute = LAB_NODE.replace(/default via fd6b\S+ dev eth0.*$/, '');
    expect(ipv6NodeProblems('fd6b:7072:6f76:1::2', noRoute, true)).toEqual([
      'no IPv6 default route: flannel needs one for dual-stack (on the interface of the IPv4 default route)',
    ]);
    expect(ipv6NodeProblems('fd6b:7072:6f76:1::2', noRoute, false)).toEqual([]);
    const otherDev = LAB_NODE.replace('dev eth0 metric', 'dev eth1 metric');
    expect(ipv6NodeProblems('fd6b:7072:6f76:1::2', otherDev, true)).toEqual([
      'the IPv6 default route is on eth1 but the IPv4 one on eth0: flannel needs both on the same interface',
    ]);
  });

  it('Validate hosts asks only dual-stack hosts, and stops the one whose address is missing', async () => {
    const facts = parseFacts('os_id=debian\narch=x86_64\ninit=systemd\npkg=apt\nmachine_id=m\nhostname=h\ncpus=2');
    const make = (name: string, nodeIp6?: string) => {
      const conn = new FakeConnection(name, (cmd) => (cmd === IPV6_NETWORK_SCRIPT ? { stdout: LAB_NODE } : undefined));
      const host = new Host({ name, nodeIp6 } as HostSpec, conn.asConnection(), false);
      host.facts = { ...facts, hostname: name, machineId: name };
      return { conn, host };
    };
    const good = make('m1', 'fd6b:7072:6f76:1::2');
    const bad = make('w1', 'fd6b:7072:6f76:1::3');
    const ipv4 = make('w2');
    const resolved = { cluster: { cni: 'flannel' } } as Resolved;
    const { ctx } = testContext([good.host, bad.host, ipv4.host], resolved);
    const problems = await validateHostsPhase.runAll!([good.host, bad.host, ipv4.host], ctx);
    expect([...problems]).toEqual([
      [
        'w1',
        'node_ip6 fd6b:7072:6f76:1::3 is not an address of this host (global IPv6 addresses: fd6b:7072:6f76:1::2)',
      ],
    ]);
    expect(ipv4.conn.execs).toEqual([]);
  });
});

describe('host prerequisites: IPv6 forwarding on dual-stack nodes only', () => {
  const IPV4_SYSCTL = [
    '# Managed by kprov: kernel settings Kubernetes networking needs.',
    'net.bridge.bridge-nf-call-iptables = 1',
    'net.bridge.bridge-nf-call-ip6tables = 1',
    'net.ipv4.ip_forward = 1',
    '',
  ].join('\n');

  /** host-prep on a node whose sysctl file is missing, or already what kprov writes (installed). */
  async function prep(nodeIp6: string | undefined, sysctlNow: string, installed?: string) {
    const responder: Responder = (cmd, o) => {
      if (o.step === 'inspect modules') return { stdout: 'overlay=yes\nbr_netfilter=yes\n' };
      if (o.step === 'compare files' && installed !== undefined && cmd.includes(SYSCTL_FILE)) {
        return { stdout: `644 root root ${createHash('sha256').update(installed).digest('hex')}\n` };
      }
      if (o.step === 'compare files') return { stdout: 'missing\n' };
      if (o.step === 'inspect sysctl') return { stdout: sysctlNow };
      return undefined;
    };
    const conn = new FakeConnection('n1', responder);
    const host = new Host({ name: 'n1', nodeIp6 } as HostSpec, conn.asConnection(), false);
    host.facts = parseFacts('swaps=0');
    const { ctx } = testContext([host]);
    await hostPrepPhase.runHost!(host, ctx);
    const sysctl = [...conn.uploads.values()].map(String).find((c) => c.includes('ip_forward'));
    return { conn, sysctl };
  }

  it('an IPv4 node gets the file and the check it always had', async () => {
    expect(render('host/sysctl-k8s.conf', {})).toBe(IPV4_SYSCTL);
    expect(render('host/sysctl-k8s.conf', { ipv6: false })).toBe(IPV4_SYSCTL);
    const { conn, sysctl } = await prep(undefined, '1 1 ');
    expect(sysctl).toBe(IPV4_SYSCTL);
    expect(conn.execs.find((e) => e.step === 'inspect sysctl')!.command).toBe(
      "sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables 2>/dev/null | tr '\\n' ' '",
    );
  });

  it('a dual-stack node also forwards IPv6, and applies the file while it does not', async () => {
    const DUAL_SYSCTL =
      `${IPV4_SYSCTL}# Dual-stack: nodes forward their pods' IPv6 traffic too.\n` +
      'net.ipv6.conf.all.forwarding = 1\n';
    const { conn, sysctl } = await prep('fd00:10:0:1::10', '1 1 0 ');
    expect(sysctl).toBe(DUAL_SYSCTL);
    expect(conn.execs.find((e) => e.step === 'inspect sysctl')!.command).toBe(
      'sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.ipv6.conf.all.forwarding 2>/dev/null' +
        " | tr '\\n' ' '",
    );
    // The file in place but IPv6 forwarding off (a reboot before systemd-sysctl, say): applied again.
    const off = await prep('fd00:10:0:1::10', '1 1 0 ', DUAL_SYSCTL);
    expect(off.sysctl).toBeUndefined();
    expect(off.conn.execs.some((e) => e.step === 'apply sysctl')).toBe(true);
    const on = await prep('fd00:10:0:1::10', '1 1 1 ', DUAL_SYSCTL);
    expect(on.conn.execs.some((e) => e.step === 'apply sysctl')).toBe(false);
  });
});
