import { describe, expect, it, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { MemoryStore } from '../pki/store.js';
import { subjectDerOfCert } from '../pki/x509.js';
import { inspectCertificate, verifiesAgainst } from '../pki/inspect.js';
import { ensurePki, type PkiResult } from './pki.js';
import { ALL_CERT_SPECS, CA_SPECS, LEAF_SPECS } from './certlist.js';
import { caCertHash } from './discovery.js';
import type { NodeConfig } from './config.js';
import { testConfig } from './fixtures.testing.js';
import type { KeyAlgorithm } from '../pki/keys.js';

/** A certificate's issuer as the DER bytes it carries (tbsCertificate's fourth field after the version). */
function issuerDer(pem: string): Buffer {
  const cert = forge.asn1.fromDer(forge.util.createBuffer(forge.pem.decode(pem)[0].body));
  const tbs = (cert.value as forge.asn1.Asn1[])[0].value as forge.asn1.Asn1[];
  return Buffer.from(forge.asn1.toDer(tbs[3]).getBytes(), 'binary');
}

const master: NodeConfig = { name: 'master1', advertiseAddress: '10.0.0.10', controlPlane: true, worker: false };

const dir = mkdtempSync(join(tmpdir(), 'kprov-pki-'));
const openssl = (...args: string[]) =>
  execFileSync('openssl', args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

/** The content of a DER SEQUENCE's last element (a SubjectPublicKeyInfo's subjectPublicKey BIT STRING). */
function lastElementContent(der: Buffer): Buffer {
  const header = (at: number) => {
    const first = der[at + 1];
    if (first < 0x80) return { len: first, start: at + 2 };
    const n = first & 0x7f;
    return { len: der.readUIntBE(at + 2, n), start: at + 2 + n };
  };
  let { start: at } = header(0);
  for (;;) {
    const { len, start } = header(at);
    if (start + len >= der.length) return der.subarray(start, start + len);
    at = start + len;
  }
}
function file(name: string, content: string): string {
  const p = join(dir, name.replace(/\//g, '_'));
  writeFileSync(p, content);
  return p;
}

// The fact sheet's table (kubeadm-facts.md section 1): CN, O, extended key usages, SANs for master1.
const EXPECTED: Record<string, { cn: string; o: string[]; eku: string[]; dns?: string[]; ip?: string[] }> = {
  apiserver: {
    cn: 'kube-apiserver',
    o: [],
    eku: ['serverAuth'],
    dns: [
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
      'master1',
    ],
    ip: ['10.96.0.1', '10.0.0.10'],
  },
  'apiserver-kubelet-client': {
    cn: 'kube-apiserver-kubelet-client',
    // v1.36+: bound to system:kubelet-api-admin by name instead (v1.35: O=kubeadm:cluster-admins).
    o: [],
    eku: ['clientAuth'],
  },
  'front-proxy-client': { cn: 'front-proxy-client', o: [], eku: ['clientAuth'] },
  'etcd/server': {
    cn: 'master1',
    o: [],
    eku: ['serverAuth', 'clientAuth'],
    dns: ['localhost', 'master1'],
    ip: ['10.0.0.10', '127.0.0.1', '::1'],
  },
  'etcd/peer': {
    cn: 'master1',
    o: [],
    eku: ['serverAuth', 'clientAuth'],
    dns: ['localhost', 'master1'],
    ip: ['10.0.0.10', '127.0.0.1', '::1'],
  },
  'etcd/healthcheck-client': { cn: 'kube-etcd-healthcheck-client', o: [], eku: ['clientAuth'] },
  'apiserver-etcd-client': { cn: 'kube-apiserver-etcd-client', o: [], eku: ['clientAuth'] },
};

describe('certificate list invariants', () => {
  it('every CA precedes its leaves and every signer exists', () => {
    const seen = new Set<string>();
    for (const spec of ALL_CERT_SPECS) {
      if (spec.caName)
        expect(seen.has(spec.caName), `${spec.baseName} is signed by ${spec.caName}, which must come first`).toBe(true);
      seen.add(spec.baseName);
    }
    for (const leaf of LEAF_SPECS) expect(CA_SPECS.map((c) => c.baseName)).toContain(leaf.caName);
    expect(Object.keys(EXPECTED).sort()).toEqual(LEAF_SPECS.map((s) => s.baseName).sort());
  });
});

describe.each(['RSA-2048', 'ECDSA-P256'] as KeyAlgorithm[])('PKI with %s', (alg) => {
  let result: PkiResult;
  let store: MemoryStore;
  beforeAll(async () => {
    store = new MemoryStore();
    result = await ensurePki(store, testConfig({ encryptionAlgorithm: alg }), [master]);
  });

  it('openssl verifies every leaf against its CA', () => {
    expect(result.problems).toEqual([]);
    for (const spec of LEAF_SPECS) {
      const ca = file(`${alg}-${spec.caName}.crt`, result.pki.cas[spec.caName!].certPem);
      const leaf = file(`${alg}-${spec.baseName}.crt`, result.pki.leaves.master1[spec.baseName].certPem);
      expect(openssl('verify', '-CAfile', ca, leaf).trim()).toBe(`${leaf}: OK`);
      expect(
        verifiesAgainst(result.pki.leaves.master1[spec.baseName].certPem, result.pki.cas[spec.caName!].certPem),
      ).toBe(true);
    }
  });

  // Regression (issue 12.1): every RSA CA carried SKI da39a3ee… (SHA-1 of nothing), so with two CAs in one
  // trust bundle (a CA rotation) openssl picked the wrong issuer and failed the leaf. Since then the method followed
  // upstream: kubeadm v1.35+ is built with Go 1.25+, whose CreateCertificate uses SHA-256 truncated to 160 bits.
  it('CA key identifiers are the truncated SHA-256 of the key bits, as kubeadm v1.35+ (Go 1.25+) makes them', () => {
    const skis = new Set<string>();
    for (const name of ['ca', 'front-proxy-ca', 'etcd/ca']) {
      const ca = result.pki.cas[name];
      const ours = openssl(
        'x509',
        '-noout',
        '-ext',
        'subjectKeyIdentifier',
        '-in',
        file(`${alg}-ski-${name}.crt`, ca.certPem),
      )
        .split('\n')[1]
        .trim()
        .replace(/:/g, '')
        .toLowerCase();
      // The subjectPublicKey BIT STRING is the SubjectPublicKeyInfo's last element; its first byte counts unused bits.
      const spki = new X509Certificate(ca.certPem).publicKey.export({ type: 'spki', format: 'der' });
      const bitString = lastElementContent(spki).subarray(1);
      expect(ours, name).toBe(createHash('sha256').update(bitString).digest('hex').slice(0, 40));
      expect(ours).not.toBe(createHash('sha256').update(Buffer.alloc(0)).digest('hex').slice(0, 40));
      skis.add(ours);
    }
    expect(skis.size).toBe(3);
  });

  it('a leaf verifies against a trust bundle holding two CAs (as during a CA rotation)', async () => {
    const other = await ensurePki(new MemoryStore(), testConfig({ encryptionAlgorithm: alg }), [master]);
    const bundle = file(`${alg}-two-cas.crt`, result.pki.cas.ca.certPem + other.pki.cas.ca.certPem);
    for (const pki of [result.pki, other.pki]) {
      const leaf = file(`${alg}-rotation-leaf.crt`, pki.leaves.master1.apiserver.certPem);
      expect(openssl('verify', '-CAfile', bundle, leaf).trim()).toBe(`${leaf}: OK`);
    }
  });

  it('CN, O, SANs and usages match the fact sheet', () => {
    for (const [base, want] of Object.entries(EXPECTED)) {
      const info = inspectCertificate(result.pki.leaves.master1[base].certPem);
      expect(info.commonName, base).toBe(want.cn);
      expect(info.organizations, base).toEqual(want.o);
      expect(info.extKeyUsage.sort(), base).toEqual([...want.eku].sort());
      expect(info.dnsNames, base).toEqual(want.dns ?? []);
      expect(info.ipAddresses, base).toEqual(want.ip ?? []);
      expect(info.isCA).toBe(false);
      const text = openssl(
        'x509',
        '-in',
        file(`${alg}-${base}-t.crt`, result.pki.leaves.master1[base].certPem),
        '-noout',
        '-text',
      );
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      const days = (info.notAfter.getTime() - info.notBefore.getTime()) / 86_400_000;
      expect(days).toBeCloseTo(365 + 5 / 1440, 3);
    }
    for (const [base, cn] of [
      ['ca', 'kubernetes'],
      ['front-proxy-ca', 'front-proxy-ca'],
      ['etcd/ca', 'etcd-ca'],
    ]) {
      const text = openssl(
        'x509',
        '-in',
        file(`${alg}-${base}-t.crt`, result.pki.cas[base].certPem),
        '-noout',
        '-text',
      );
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment, Certificate Sign/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
      expect(text).toContain(`Subject: CN = ${cn}`);
      expect(text).toContain(`DNS:${cn}`);
      const info = inspectCertificate(result.pki.cas[base].certPem);
      expect(Math.round((info.notAfter.getTime() - info.notBefore.getTime()) / 86_400_000)).toBe(3650);
    }
  });

  it('keys are written in kubeadm formats with owner-only modes', () => {
    const keyHeader = alg === 'ECDSA-P256' ? '-----BEGIN EC PRIVATE KEY-----' : '-----BEGIN RSA PRIVATE KEY-----';
    for (const [path, f] of store.files) {
      if (path.endsWith('.key')) {
        expect(f.content.startsWith(keyHeader), path).toBe(true);
        expect(f.mode, path).toBe(0o600);
      }
      if (path.endsWith('.crt')) expect(f.mode, path).toBe(0o644);
    }
    expect(store.read('sa.pub')!.startsWith('-----BEGIN PUBLIC KEY-----')).toBe(true);
  });

  it('the CA hash equals the openssl pipeline', () => {
    const ca = file(`${alg}-hash-ca.crt`, result.pki.cas.ca.certPem);
    const pub = openssl('x509', '-pubkey', '-noout', '-in', ca);
    const der = execFileSync('openssl', [alg === 'ECDSA-P256' ? 'ec' : 'rsa', '-pubin', '-outform', 'der'], {
      input: pub,
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const digest = execFileSync('openssl', ['dgst', '-sha256', '-hex'], { input: der, encoding: 'utf8' })
      .trim()
      .split('= ')[1];
    expect(caCertHash(result.pki.cas.ca.certPem)).toBe(`sha256:${digest}`);
  });

  it('reuses everything on a second run', async () => {
    const again = await ensurePki(store, testConfig({ encryptionAlgorithm: alg }), [master]);
    expect(again.events.every((e) => e.action === 'reused')).toBe(true);
    expect(again.pki.leaves.master1.apiserver.certPem).toBe(result.pki.leaves.master1.apiserver.certPem);
  });
});

describe('PKI reuse rules', () => {
  // kprov before the fix gave RSA CAs the key identifier da39a3ee…; their new leaves must still name exactly that.
  it('signs leaves of an existing CA with the authority key identifier that CA carries', async () => {
    const key = file('old-ca.key', openssl('genrsa', '2048'));
    const oldSki = 'DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09';
    const ca = openssl(
      'req',
      '-new',
      '-x509',
      '-key',
      key,
      '-subj',
      '/CN=kubernetes',
      '-days',
      '3650',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
      '-addext',
      `subjectKeyIdentifier=${oldSki.replace(/:/g, '')}`,
      '-addext',
      'authorityKeyIdentifier=none',
    );
    const store = new MemoryStore();
    store.write('ca.crt', ca, 0o644);
    store.write('ca.key', readFileSync(key, 'utf8'), 0o600);
    const { pki } = await ensurePki(store, testConfig(), [master]);
    expect(pki.cas.ca.certPem).toBe(ca);
    const leaf = file('old-ca-leaf.crt', pki.leaves.master1.apiserver.certPem);
    expect(openssl('x509', '-noout', '-ext', 'authorityKeyIdentifier', '-in', leaf)).toContain(oldSki);
    expect(openssl('verify', '-CAfile', file('old-ca.crt', ca), leaf).trim()).toBe(`${leaf}: OK`);
  });

  // Regression (issue 12.5): names were UTF8String where Go (kubeadm) writes PrintableString.
  it('writes subject names as PrintableString, as Go does for printable strings', async () => {
    const { pki } = await ensurePki(new MemoryStore(), testConfig(), [master]);
    const types = (pem: string, which: string) =>
      openssl('x509', '-noout', `-${which}`, '-nameopt', 'multiline,show_type', '-in', file(`nt-${which}.crt`, pem));
    const client = pki.leaves.master1['apiserver-etcd-client'].certPem;
    expect(types(client, 'subject')).toContain(
      'commonName                = PRINTABLESTRING:kube-apiserver-etcd-client',
    );
    expect(types(pki.cas.ca.certPem, 'subject')).toContain('PRINTABLESTRING:kubernetes');
    expect(types(pki.cas.ca.certPem, 'subject')).not.toContain('UTF8STRING');
  });

  // Go finds a leaf's parent by comparing RawIssuer with the CA's RawSubject byte for byte.
  it("gives a leaf its CA's subject bytes as issuer, for a CA made with UTF8String names too", async () => {
    const key = file('utf8-ca.key', openssl('genrsa', '2048'));
    const ca = openssl(
      'req',
      '-new',
      '-x509',
      '-utf8',
      '-key',
      key,
      '-subj',
      '/CN=kubernetes',
      '-days',
      '3650',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
    );
    expect(openssl('x509', '-noout', '-subject', '-nameopt', 'show_type', '-in', file('utf8-ca.crt', ca))).toContain(
      'UTF8STRING:kubernetes',
    );
    const store = new MemoryStore();
    store.write('ca.crt', ca, 0o644);
    store.write('ca.key', readFileSync(key, 'utf8'), 0o600);
    const { pki } = await ensurePki(store, testConfig(), [master]);
    const leaf = pki.leaves.master1.apiserver.certPem;
    const x = (pem: string) => new X509Certificate(pem);
    expect(issuerDer(leaf).equals(subjectDerOfCert(ca))).toBe(true);
    expect(x(leaf).checkIssued(x(ca))).toBe(true);
    const leafFile = file('utf8-ca-leaf.crt', leaf);
    expect(openssl('verify', '-CAfile', file('utf8-ca.crt', ca), leafFile).trim()).toBe(`${leafFile}: OK`);
  });

  it('reports a certificate that no longer matches the configuration instead of replacing it', async () => {
    const store = new MemoryStore();
    await ensurePki(store, testConfig(), [master]);
    const before = store.read('nodes/master1/apiserver.crt');
    const r = await ensurePki(store, testConfig({ apiServerCertSANs: ['api.example.com'] }), [master]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(
      /^nodes\/master1\/apiserver\.crt: DNS SANs are \[.*\], want \[.*api\.example\.com.*\]/,
    );
    expect(store.read('nodes/master1/apiserver.crt')).toBe(before);
  });

  it('renews leaves close to expiry with the same key, keeps the CA', async () => {
    const store = new MemoryStore();
    const first = await ensurePki(store, testConfig({ encryptionAlgorithm: 'ECDSA-P256' }), [master]);
    const later = new Date(Date.now() + 340 * 86_400_000);
    const r = await ensurePki(store, testConfig({ encryptionAlgorithm: 'ECDSA-P256' }), [master], later);
    expect(r.problems).toEqual([]);
    expect(
      r.events
        .filter((e) => e.action === 'renewed')
        .map((e) => e.path)
        .sort(),
    ).toEqual(LEAF_SPECS.map((s) => `nodes/master1/${s.baseName}.crt`).sort());
    expect(r.pki.cas.ca.certPem).toBe(first.pki.cas.ca.certPem);
    expect(r.pki.leaves.master1.apiserver.keyPem).toBe(first.pki.leaves.master1.apiserver.keyPem);
    expect(inspectCertificate(r.pki.leaves.master1.apiserver.certPem).notAfter.getTime()).toBeGreaterThan(
      inspectCertificate(first.pki.leaves.master1.apiserver.certPem).notAfter.getTime(),
    );
  });

  it('refuses half a CA', async () => {
    const store = new MemoryStore();
    await ensurePki(store, testConfig({ encryptionAlgorithm: 'ECDSA-P256' }), [master]);
    store.files.delete('front-proxy-ca.key');
    const r = await ensurePki(store, testConfig({ encryptionAlgorithm: 'ECDSA-P256' }), [master]);
    expect(r.problems).toContain(
      'front-proxy-ca: found .crt without .key; ' +
        'restore the missing file (a CA cannot be regenerated without breaking the cluster)',
    );
  });
});
