import { render } from '../templates/render.js';
import type { Phase } from './phase.js';

export const SYSCTL_FILE = '/etc/sysctl.d/99-kubernetes-cri.conf';
export const MODULES_FILE = '/etc/modules-load.d/k8s.conf';

/**
 * Kernel and OS prerequisites: swap off (now and after reboot), overlay and br_netfilter available,
 * and the forwarding/bridge sysctls persisted. A module built into the kernel counts as loaded.
 */
export const hostPrepPhase: Phase = {
  title: 'Host prerequisites',
  async runHost(host) {
    const facts = host.requireFacts();
    if (facts.swapActive) {
      await host.change('turn swap off', () => host.sudo('swapoff -a', { step: 'swap off' }));
    }
    const fstab = await host.sudo(
      `grep -Eq '^[^#].*[[:space:]]swap[[:space:]]' /etc/fstab 2>/dev/null && echo swap || true`,
      { step: 'inspect fstab' },
    );
    if (fstab.stdout.includes('swap')) {
      await host.change('comment out swap entries in /etc/fstab', () =>
        host.sudo(`sed -i.kprov-bak -E '/^[^#].*[[:space:]]swap[[:space:]]/ s/^/# disabled by kprov: /' /etc/fstab`, {
          step: 'disable swap in fstab',
        }),
      );
    }

    await host.ensureFiles([{ path: MODULES_FILE, content: render('host/modules-load-k8s.conf', {}), mode: 0o644 }]);
    const modules = await host.sudo(
      'grep -qw overlay /proc/filesystems && echo overlay=yes || echo overlay=no; ' +
        '[ -d /proc/sys/net/bridge ] && echo br_netfilter=yes || echo br_netfilter=no',
      { step: 'inspect modules' },
    );
    for (const [mod, check] of [
      ['overlay', 'grep -qw overlay /proc/filesystems'],
      ['br_netfilter', '[ -d /proc/sys/net/bridge ]'],
    ] as const) {
      if (!modules.stdout.includes(`${mod}=yes`)) {
        await host.change(`load kernel module ${mod}`, () =>
          host.sudo(
            `modprobe ${mod} 2>/dev/null || ${check} || ` +
              `{ echo "kernel module ${mod} is neither loadable nor built in" >&2; exit 1; }`,
            { step: `load ${mod}` },
          ),
        );
      }
    }

    // A dual-stack node (node_ip6) also forwards IPv6; an IPv4 node's file and checks are what they always were.
    const ipv6 = host.spec.nodeIp6 !== undefined;
    const sysctlChanged = await host.ensureFiles([
      { path: SYSCTL_FILE, content: render('host/sysctl-k8s.conf', { ipv6 }), mode: 0o644 },
    ]);
    const keys = `net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables${ipv6 ? ' net.ipv6.conf.all.forwarding' : ''}`;
    const current = await host.sudo(`sysctl -n ${keys} 2>/dev/null | tr '\\n' ' '`, {
      step: 'inspect sysctl',
      allowFailure: true,
    });
    if (sysctlChanged.length > 0 || current.stdout.trim() !== (ipv6 ? '1 1 1' : '1 1')) {
      await host.change(`apply ${SYSCTL_FILE}`, () =>
        host.sudo(`sysctl -e -p ${SYSCTL_FILE} >/dev/null`, { step: 'apply sysctl' }),
      );
    }
  },
};
