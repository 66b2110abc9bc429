import type { Facts } from '../host/facts.js';
import { shellJoin } from '../ssh/quote.js';

/** Package names differ between distribution families. */
const NAMES: Record<string, { apt: string; rpm: string }> = {
  containerd: { apt: 'containerd', rpm: 'containerd' },
  runc: { apt: 'runc', rpm: 'runc' },
  iptables: { apt: 'iptables', rpm: 'iptables' },
  // mount and losetup: Debian's mount package, util-linux on the RHEL family.
  mount: { apt: 'mount', rpm: 'util-linux' },
};

export function packageNames(facts: Facts, logical: string[]): string[] {
  const family = facts.packageManager === 'apt' ? 'apt' : 'rpm';
  return logical.map((p) => NAMES[p]?.[family] ?? p);
}

/** A read-only command printing the names of the given packages that are not installed. */
export function missingPackagesCommand(facts: Facts, names: string[]): string {
  if (facts.packageManager === 'apt') {
    return names
      .map((n) => `dpkg-query -W -f='\${Status}' ${n} 2>/dev/null | grep -q 'install ok installed' || echo ${n}`)
      .join('; ');
  }
  return names.map((n) => `rpm -q ${n} >/dev/null 2>&1 || echo ${n}`).join('; ');
}

/**
 * Install packages non-interactively. apt refreshes its lists only when they are missing or older
 * than a day, and waits for another apt run to release its lock instead of failing.
 */
export function installCommand(facts: Facts, names: string[]): string {
  const list = shellJoin(names);
  if (facts.packageManager === 'apt') {
    return [
      'export DEBIAN_FRONTEND=noninteractive',
      `if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; ` +
        'then apt-get -o DPkg::Lock::Timeout=300 update -q; fi',
      `apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends ${list}`,
    ].join(' && ');
  }
  const pm = facts.packageManager === 'yum' ? 'yum' : 'dnf';
  return `${pm} install -y ${list}`;
}
