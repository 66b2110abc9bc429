import { createHash, createPrivateKey, randomBytes, sign } from 'node:crypto';
import forge from 'node-forge';

const { asn1 } = forge;
const T = asn1.Type;
const C = asn1.Class;

const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

export type ExtKeyUsage = 'serverAuth' | 'clientAuth';
export type KeyUsage = 'digitalSignature' | 'keyEncipherment' | 'keyCertSign';
const KEY_USAGE_BIT: Record<KeyUsage, number> = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5 };

export interface Subject {
  commonName: string;
  organizations?: string[];
}

export interface CertificateRequest {
  subject: Subject;
  publicKeyDer: Buffer;
  serial: bigint;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  keyUsage: KeyUsage[];
  extKeyUsage: ExtKeyUsage[];
  dnsNames: string[];
  ipAddresses: string[];
}

export interface Signer {
  subject: Subject;
  privateKeyPem: string;
  publicKeyDer: Buffer;
  /**
   * The signer certificate's own subject key identifier, when it has one: leaves must name exactly that as
   * their authority key identifier (as Go does), even for a CA made before kprov derived it from the key.
   */
  subjectKeyId?: Buffer;
  /**
   * The signer certificate's subject exactly as encoded: a leaf's issuer must equal it byte for byte (Go finds a
   * parent by comparing RawIssuer with RawSubject), whatever string types the CA was made with.
   */
  subjectDer?: Buffer;
}

/** A random serial in [1, 2^63-1), as kubeadm's pkiutil does. */
export function randomSerial(): bigint {
  const max = (1n << 63n) - 1n;
  let n = 0n;
  while (n === 0n) n = BigInt(`0x${randomBytes(8).toString('hex')}`) % max;
  return n;
}

/** forge's fromDer takes options (its typings know only the boolean form): keep BIT STRINGs as raw bytes. */
const fromDerKeepingBits = (bytes: forge.util.ByteStringBuffer) =>
  (asn1.fromDer as unknown as (b: forge.util.ByteStringBuffer, o: { decodeBitStrings: boolean }) => forge.asn1.Asn1)(
    bytes,
    {
      decodeBitStrings: false,
    },
  );

/**
 * Subject key identifier as Go's x509.CreateCertificate makes it for a CA: since Go 1.25 the SHA-256 of the
 * subjectPublicKey bits truncated to 160 bits (RFC 7093 section 2 method 1; before, SHA-1 as in RFC 5280). kubeadm
 * v1.35 and later are built with Go 1.25+ and `godebug default=go1.25` or newer in their go.mod, so their CAs carry
 * this one (checked against kubeadm v1.37.2 by test/e2e/kubeadm-dryrun.test.ts).
 */
export function subjectKeyId(publicKeyDer: Buffer): Buffer {
  // Keep the BIT STRING as bytes: by default forge decodes an RSA key's bits as nested ASN.1 (the modulus and
  // exponent), which left nothing to hash and gave every RSA CA the hash of empty input.
  const spki = fromDerKeepingBits(forge.util.createBuffer(publicKeyDer.toString('binary')));
  const bitString = (spki.value as forge.asn1.Asn1[])[1].value as string;
  return createHash('sha256').update(Buffer.from(bitString, 'binary').subarray(1)).digest().subarray(0, 20);
}

const bin = (b: Buffer) => b.toString('binary');
const seq = (items: forge.asn1.Asn1[]) => asn1.create(C.UNIVERSAL, T.SEQUENCE, true, items);
const oid = (o: string) => asn1.create(C.UNIVERSAL, T.OID, false, asn1.oidToDer(o).getBytes());
const octets = (b: Buffer | string) =>
  asn1.create(C.UNIVERSAL, T.OCTETSTRING, false, typeof b === 'string' ? b : bin(b));
const bool = (v: boolean) => asn1.create(C.UNIVERSAL, T.BOOLEAN, false, v ? '\xff' : '\x00');

function integer(n: bigint): forge.asn1.Asn1 {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  return asn1.create(C.UNIVERSAL, T.INTEGER, false, forge.util.hexToBytes(hex));
}

/** The characters ASN.1 PrintableString allows (what Go's encoding/asn1 checks before choosing it). */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A name attribute as Go's encoding/asn1 writes a string: PrintableString when it can, UTF8String otherwise. */
export function nameValue(value: string): forge.asn1.Asn1 {
  return PRINTABLE.test(value)
    ? asn1.create(C.UNIVERSAL, T.PRINTABLESTRING, false, value)
    : asn1.create(C.UNIVERSAL, T.UTF8, false, forge.util.encodeUtf8(value));
}

function name(s: Subject): forge.asn1.Asn1 {
  // Go orders O before CN; each attribute is its own RDN.
  const rdn = (type: string, value: string) =>
    asn1.create(C.UNIVERSAL, T.SET, true, [seq([oid(type), nameValue(value)])]);
  return seq([...(s.organizations ?? []).map((o) => rdn(OID.organizationName, o)), rdn(OID.commonName, s.commonName)]);
}

function time(d: Date): forge.asn1.Asn1 {
  return d.getUTCFullYear() < 2050
    ? asn1.create(C.UNIVERSAL, T.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(C.UNIVERSAL, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

function extension(id: string, critical: boolean, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  const parts = [oid(id)];
  if (critical) parts.push(bool(true));
  parts.push(octets(asn1.toDer(value).getBytes()));
  return seq(parts);
}

function keyUsageBits(usages: KeyUsage[]): forge.asn1.Asn1 {
  let bits = 0;
  for (const u of usages) bits |= 0x80 >> KEY_USAGE_BIT[u];
  // DER BIT STRING: first byte = number of unused trailing bits.
  let unused = 0;
  while (unused < 8 && !(bits & (1 << unused))) unused++;
  return asn1.create(
    C.UNIVERSAL,
    T.BITSTRING,
    false,
    String.fromCharCode(bits === 0 ? 0 : unused) + String.fromCharCode(bits),
  );
}

function ipBytes(ip: string): string {
  if (ip.includes(':')) {
    // Expand IPv6 (with ::) into 16 bytes.
    const [head, tail = ''] = ip.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    return groups.map((g) => forge.util.hexToBytes(g.padStart(4, '0'))).join('');
  }
  return ip
    .split('.')
    .map((p) => String.fromCharCode(Number(p)))
    .join('');
}

function signatureAlgorithm(privateKeyPem: string): { der: forge.asn1.Asn1; kind: 'rsa' | 'ec' } {
  const kind = createPrivateKey(privateKeyPem).asymmetricKeyType === 'ec' ? 'ec' : 'rsa';
  // RSA: parameters NULL; ECDSA: parameters absent (RFC 5758).
  return kind === 'ec'
    ? { der: seq([oid(OID.ecdsaWithSHA256)]), kind }
    : { der: seq([oid(OID.sha256WithRSA), asn1.create(C.UNIVERSAL, T.NULL, false, '')]), kind };
}

/**
 * Build and sign an X.509 v3 certificate. DER is assembled with node-forge's ASN.1 encoder; signing uses
 * node's native crypto so RSA and ECDSA keys are both supported. Self-signed when signer is undefined.
 */
export function createCertificate(
  req: CertificateRequest,
  signer: Signer | undefined,
  selfPrivateKeyPem?: string,
): string {
  const issuer = signer?.subject ?? req.subject;
  const signingKey = signer?.privateKeyPem ?? selfPrivateKeyPem;
  if (!signingKey) throw new Error('a self-signed certificate needs its own private key');
  const sigAlg = signatureAlgorithm(signingKey);
  const ski = subjectKeyId(req.publicKeyDer);

  const extensions: forge.asn1.Asn1[] = [extension(OID.keyUsage, true, keyUsageBits(req.keyUsage))];
  if (req.extKeyUsage.length > 0)
    extensions.push(extension(OID.extKeyUsage, false, seq(req.extKeyUsage.map((u) => oid(OID[u])))));
  extensions.push(extension(OID.basicConstraints, true, seq(req.isCA ? [bool(true)] : [])));
  if (req.isCA) extensions.push(extension(OID.subjectKeyIdentifier, false, octets(ski)));
  if (signer) {
    const aki = signer.subjectKeyId ?? subjectKeyId(signer.publicKeyDer);
    extensions.push(
      extension(OID.authorityKeyIdentifier, false, seq([asn1.create(C.CONTEXT_SPECIFIC, 0, false, bin(aki))])),
    );
  }
  if (req.dnsNames.length + req.ipAddresses.length > 0) {
    const names = [
      ...req.dnsNames.map((d) => asn1.create(C.CONTEXT_SPECIFIC, 2, false, d)),
      ...req.ipAddresses.map((ip) => asn1.create(C.CONTEXT_SPECIFIC, 7, false, ipBytes(ip))),
    ];
    extensions.push(extension(OID.subjectAltName, false, seq(names)));
  }

  const tbs = seq([
    asn1.create(C.CONTEXT_SPECIFIC, 0, true, [integer(2n)]),
    integer(req.serial),
    sigAlg.der,
    signer?.subjectDer ? asn1.fromDer(forge.util.createBuffer(bin(signer.subjectDer))) : name(issuer),
    seq([time(req.notBefore), time(req.notAfter)]),
    name(req.subject),
    asn1.fromDer(forge.util.createBuffer(bin(req.publicKeyDer))),
    asn1.create(C.CONTEXT_SPECIFIC, 3, true, [seq(extensions)]),
  ]);
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  const signature = sign('sha256', tbsDer, signingKey);
  const cert = seq([tbs, sigAlg.der, asn1.create(C.UNIVERSAL, T.BITSTRING, false, '\x00' + bin(signature))]);
  const der = Buffer.from(asn1.toDer(cert).getBytes(), 'binary');
  return toPem('CERTIFICATE', der);
}

export function toPem(label: string, der: Buffer): string {
  const body = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** A certificate's subject, as the DER bytes it carries. */
export function subjectDerOfCert(certPem: string): Buffer {
  const der = forge.pem.decode(certPem)[0]?.body;
  if (!der) throw new Error('not a PEM certificate');
  const tbs = ((fromDerKeepingBits(forge.util.createBuffer(der)).value as forge.asn1.Asn1[])[0].value ??
    []) as forge.asn1.Asn1[];
  // tbsCertificate: [0] version, serial, signature algorithm, issuer, validity, subject, ...
  const fields = tbs[0]?.tagClass === C.CONTEXT_SPECIFIC ? tbs.slice(1) : tbs;
  return Buffer.from(asn1.toDer(fields[4]).getBytes(), 'binary');
}

/** The subject key identifier extension of a certificate, if present. */
export function subjectKeyIdOfCert(certPem: string): Buffer | undefined {
  const der = forge.pem.decode(certPem)[0]?.body;
  if (!der) return undefined;
  const cert = fromDerKeepingBits(forge.util.createBuffer(der));
  const tbs = (cert.value as forge.asn1.Asn1[])[0];
  // Extensions are the [3] EXPLICIT field of tbsCertificate: a SEQUENCE of (OID, critical?, OCTET STRING).
  const tagged = (tbs.value as forge.asn1.Asn1[]).find((f) => f.tagClass === C.CONTEXT_SPECIFIC && f.type === 3);
  const list = tagged ? ((tagged.value as forge.asn1.Asn1[])[0].value as forge.asn1.Asn1[]) : [];
  for (const ext of list) {
    const parts = ext.value as forge.asn1.Asn1[];
    if (asn1.derToOid(forge.util.createBuffer(parts[0].value as string)) !== OID.subjectKeyIdentifier) continue;
    const inner = asn1.fromDer(forge.util.createBuffer(parts[parts.length - 1].value as string));
    return Buffer.from(inner.value as string, 'binary');
  }
  return undefined;
}
