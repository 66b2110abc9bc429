import { X509Certificate, createPrivateKey } from 'node:crypto';

/** The fields of a certificate kprov compares with what it wants. */
export interface CertInfo {
  commonName: string;
  organizations: string[];
  dnsNames: string[];
  ipAddresses: string[];
  extKeyUsage: string[];
  isCA: boolean;
  notBefore: Date;
  notAfter: Date;
  issuer: string;
  subject: string;
  serial: string;
}

const EKU_NAMES: Record<string, string> = { '1.3.6.1.5.5.7.3.1': 'serverAuth', '1.3.6.1.5.5.7.3.2': 'clientAuth' };

function normalizeIp(ip: string): string {
  // Node prints IPv6 in full form ("0:0:0:0:0:0:0:1"); compare in a canonical short form.
  if (!ip.includes(':')) return ip;
  return ip
    .split(':')
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')
    .replace(/(^|:)0(:0)+(:|$)/, '::')
    .replace(/:::/, '::');
}

export function inspectCertificate(pem: string): CertInfo {
  const cert = new X509Certificate(pem);
  const fields = (dn: string, key: string) =>
    dn
      .split('\n')
      .filter((l) => l.startsWith(`${key}=`))
      .map((l) => l.slice(key.length + 1));
  const sans = (cert.subjectAltName ?? '').split(', ').filter(Boolean);
  return {
    commonName: fields(cert.subject, 'CN')[0] ?? '',
    organizations: fields(cert.subject, 'O'),
    dnsNames: sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
    ipAddresses: sans.filter((s) => s.startsWith('IP Address:')).map((s) => normalizeIp(s.slice(11))),
    extKeyUsage: (cert.keyUsage ?? []).map((o) => EKU_NAMES[o] ?? o),
    isCA: cert.ca,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    issuer: cert.issuer.replace(/\n/g, ', '),
    subject: cert.subject.replace(/\n/g, ', '),
    serial: cert.serialNumber,
  };
}

export function verifiesAgainst(certPem: string, caPem: string): boolean {
  const cert = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

export function keyMatchesCert(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

export function publicKeyDerOfCert(certPem: string): Buffer {
  return new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
}

export { normalizeIp };
