import { $ } from 'zx';

const q = $({ quiet: true, stdio: ['ignore', 'pipe', 'pipe'] });

/** IPv4 networks in use on this machine (its addresses and routes), so a new lab bridge overlaps none of them. */
export async function hostIpv4InUse(): Promise<string[]> {
  const used: string[] = [];
  const addrs = await q({ nothrow: true })`ip -4 -o addr show`;
  for (const m of addrs.stdout.matchAll(/\binet (\S+)/g)) used.push(m[1]);
  const routes = await q({ nothrow: true })`ip -4 route show table all`;
  for (const l of routes.stdout.split('\n')) {
    const dest = l.replace(/^(local|broadcast|unicast) /, '').split(' ')[0];
    if (dest && dest !== 'default' && /^\d/.test(dest)) used.push(dest);
  }
  return used;
}
