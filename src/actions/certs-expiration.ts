import type { Resolved } from '../config/settings.js';
import { connectPhase } from '../phases/connect.js';
import type { CertExpiry } from '../status/model.js';
import { runOnHosts, type RunOptions } from './session.js';
import { hostProbePhase } from './status.js';

export interface HostCertificates {
  host: string;
  certificates: CertExpiry[];
  unreadable: string[];
}

/** Every certificate and kubeconfig client certificate on the hosts (masters unless --hosts says otherwise). */
export async function certificateExpiry(resolved: Resolved, opts: RunOptions) {
  const found: HostCertificates[] = [];
  const probe = hostProbePhase((host, p) => {
    found.push({ host: host.name, certificates: p.certificates, unreadable: p.unreadable });
  });
  const only = opts.only ?? resolved.hosts.filter((h) => h.controlPlane).map((h) => h.name);
  const outcome = await runOnHosts(resolved, [connectPhase, probe], { ...opts, only, quiet: true }, 'certs');
  found.sort((a, b) => a.host.localeCompare(b.host));
  return { found, outcome };
}

const DAY = 86_400_000;
/** Names as kubeadm prints them: relative to /etc/kubernetes/pki, or /etc/kubernetes for kubeconfigs. */
const shortName = (path: string) => path.replace(/^\/etc\/kubernetes\/(pki\/)?/, '');

/** kubeadm certs check-expiration's table: each certificate, its expiry, residual time and CA, per host. */
export function formatExpiry(found: HostCertificates[], now = new Date()): string {
  const rows = [['HOST', 'CERTIFICATE', 'EXPIRES', 'RESIDUAL TIME', 'CERTIFICATE AUTHORITY', 'EXTERNALLY MANAGED']];
  for (const h of found) {
    for (const c of h.certificates) {
      const left = Date.parse(c.notAfter) - now.getTime();
      const residual =
        left <= 0
          ? '<expired>'
          : left >= 365 * DAY
            ? `${Math.floor(left / (365 * DAY))}y`
            : `${Math.floor(left / DAY)}d`;
      const name = shortName(c.path);
      rows.push([h.host, name, c.notAfter.replace(/:\d\d\.\d{3}Z$/, 'Z'), residual, c.issuer ?? '', 'no']);
    }
    for (const u of h.unreadable) rows.push([h.host, shortName(u), '<cannot parse>', '', '', '']);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('   ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}
