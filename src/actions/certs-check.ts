import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { UserError } from '../errors/index.js';
import { inspectCertificate, verifiesAgainst } from '../pki/inspect.js';
import { parseKubeconfig } from '../kubeadm/kubeconfig.js';

export interface CertReport {
  file: string;
  subject: string;
  issuer: string;
  sans: string[];
  notAfter: string;
  daysLeft: number;
  isCA: boolean;
  signedBy?: string;
  status: 'ok' | 'expired' | 'unverified';
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Every certificate below dir: .crt files and client certificates embedded in kubeconfigs (.conf). */
export function checkCertificates(dir: string, now = new Date()): CertReport[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`not a directory: ${dir}`);
  const found: { file: string; pem: string }[] = [];
  for (const file of walk(dir).sort()) {
    if (file.endsWith('.crt')) found.push({ file, pem: readFileSync(file, 'utf8') });
    else if (file.endsWith('.conf')) {
      try {
        const k = parseKubeconfig(readFileSync(file, 'utf8'));
        if (k.clientCertPem) found.push({ file: `${file} (client)`, pem: k.clientCertPem });
      } catch {
        // not a kubeconfig
      }
    }
  }
  const cas = found.filter((f) => inspectCertificate(f.pem).isCA);
  return found.map(({ file, pem }) => {
    const info = inspectCertificate(pem);
    const signer = cas.find((ca) => verifiesAgainst(pem, ca.pem));
    const daysLeft = Math.floor((info.notAfter.getTime() - now.getTime()) / 86_400_000);
    return {
      file: relative(dir, file),
      subject: info.subject,
      issuer: info.issuer,
      sans: [...info.dnsNames.map((d) => `DNS:${d}`), ...info.ipAddresses.map((i) => `IP:${i}`)],
      notAfter: info.notAfter.toISOString(),
      daysLeft,
      isCA: info.isCA,
      signedBy: signer ? relative(dir, signer.file) : undefined,
      status: daysLeft < 0 ? 'expired' : signer ? 'ok' : 'unverified',
    };
  });
}

export function formatCertReport(report: CertReport[]): string {
  const lines = report.map((r) =>
    [
      `${r.status === 'ok' ? '✔' : '✖'} ${r.file}${r.isCA ? ' (CA)' : ''}`,
      `    subject:  ${r.subject}`,
      `    issuer:   ${r.issuer}${r.signedBy ? ` (verified with ${r.signedBy})` : ' (NOT verified: no CA below this directory signs it)'}`,
      ...(r.sans.length ? [`    SANs:     ${r.sans.join(', ')}`] : []),
      `    expires:  ${r.notAfter} (${r.daysLeft} days)${r.status === 'expired' ? ' EXPIRED' : ''}`,
    ].join('\n'),
  );
  const bad = report.filter((r) => r.status !== 'ok').length;
  return `${lines.join('\n')}\n\n${report.length} certificates, ${bad} with problems\n`;
}
