import { readdirSync, lstatSync, realpathSync, statSync, existsSync, type Stats } from 'node:fs';
import { join, relative } from 'node:path';
import { UserError } from '../errors/index.js';
import { inspectCertificate, verifiesAgainst, type CertInfo } from '../pki/inspect.js';
import { readInputText } from '../config/read-input.js';
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
  status: 'ok' | 'expired' | 'unverified' | 'invalid';
  /** Why a file could not be checked (status invalid): unreadable, a dangling symlink, not PEM. */
  error?: string;
}

/**
 * Files below dir. A symlinked directory is followed once (by its real path, so a loop ends);
 * entries that cannot be read are returned as problems.
 */
function walk(dir: string, problems: { file: string; error: string }[], seen = new Set<string>()): string[] {
  try {
    const real = realpathSync(dir);
    if (seen.has(real)) return [];
    seen.add(real);
  } catch (err) {
    problems.push({ file: dir, error: `cannot read (${(err as NodeJS.ErrnoException).code ?? err})` });
    return [];
  }
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    problems.push({ file: dir, error: `cannot list directory (${(err as NodeJS.ErrnoException).code ?? err})` });
    return [];
  }
  return names.flatMap((name) => {
    const p = join(dir, name);
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch (err) {
      problems.push({ file: p, error: `cannot read (${(err as NodeJS.ErrnoException).code ?? err})` });
      return [];
    }
    if (st.isDirectory()) return walk(p, problems, seen);
    if (st.isSymbolicLink()) {
      try {
        if (statSync(p).isDirectory()) return walk(p, problems, seen);
      } catch {
        // dangling or looping: reported when read, if it is a certificate or kubeconfig
      }
    }
    return [p];
  });
}

const failed = (file: string, error: string): CertReport => ({
  file,
  subject: '',
  issuer: '',
  sans: [],
  notAfter: '',
  daysLeft: 0,
  isCA: false,
  status: 'invalid',
  error,
});

/** Every certificate below dir: .crt files and client certificates embedded in kubeconfigs (.conf). */
export function checkCertificates(dir: string, now = new Date()): CertReport[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`not a directory: ${dir}`);
  const problems: { file: string; error: string }[] = [];
  const found: { file: string; pem: string; info: CertInfo }[] = [];
  const read = (file: string): string | undefined => {
    try {
      return readInputText(file, 'certificate file');
    } catch (err) {
      const error = err instanceof UserError ? err.message.replace(/^certificate file: /, '') : String(err);
      problems.push({ file, error });
      return undefined;
    }
  };
  for (const file of walk(dir, problems).sort()) {
    if (file.endsWith('.crt')) {
      const pem = read(file);
      if (pem === undefined) continue;
      try {
        found.push({ file, pem, info: inspectCertificate(pem) });
      } catch (err) {
        problems.push({ file, error: `not a PEM certificate (${(err as Error).message})` });
      }
    } else if (file.endsWith('.conf')) {
      const text = read(file);
      if (text === undefined) continue;
      let clientCertPem: string | undefined;
      try {
        clientCertPem = parseKubeconfig(text).clientCertPem;
      } catch {
        continue; // not a kubeconfig
      }
      if (!clientCertPem) continue;
      try {
        found.push({ file: `${file} (client)`, pem: clientCertPem, info: inspectCertificate(clientCertPem) });
      } catch (err) {
        const error = `client certificate is not a valid certificate (${(err as Error).message})`;
        problems.push({ file: `${file} (client)`, error });
      }
    }
  }
  const verifies = (pem: string, caPem: string) => {
    try {
      return verifiesAgainst(pem, caPem);
    } catch {
      return false;
    }
  };
  const cas = found.filter((f) => f.info.isCA);
  const reports = found.map(({ file, pem, info }): CertReport => {
    const signer = cas.find((ca) => verifies(pem, ca.pem));
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
  const all = [...reports, ...problems.map((p) => failed(relative(dir, p.file) || '.', p.error))];
  return all.sort((x, y) => (x.file < y.file ? -1 : x.file > y.file ? 1 : 0));
}

export function formatCertReport(report: CertReport[]): string {
  const lines = report.map((r) =>
    r.status === 'invalid'
      ? `✖ ${r.file}\n    problem:  ${r.error}`
      : [
          `${r.status === 'ok' ? '✔' : '✖'} ${r.file}${r.isCA ? ' (CA)' : ''}`,
          `    subject:  ${r.subject}`,
          `    issuer:   ${r.issuer}` +
            (r.signedBy ? ` (verified with ${r.signedBy})` : ' (NOT verified: no CA below this directory signs it)'),
          ...(r.sans.length ? [`    SANs:     ${r.sans.join(', ')}`] : []),
          `    expires:  ${r.notAfter} (${r.daysLeft} days)${r.status === 'expired' ? ' EXPIRED' : ''}`,
        ].join('\n'),
  );
  const bad = report.filter((r) => r.status !== 'ok').length;
  return `${lines.join('\n')}\n\n${report.length} certificates, ${bad} with problems\n`;
}
