import { createPrivateKey, createPublicKey } from 'node:crypto';
import { generateKey, keyPairFromPem, publicKeyPem, type KeyAlgorithm, type KeyPair } from '../pki/keys.js';
import { createCertificate, randomSerial, subjectKeyIdOfCert, subjectDerOfCert, type KeyUsage } from '../pki/x509.js';
import {
  inspectCertificate,
  keyMatchesCert,
  normalizeIp,
  publicKeyDerOfCert,
  verifiesAgainst,
} from '../pki/inspect.js';
import type { PkiStore } from '../pki/store.js';
import { CA_SPECS, LEAF_SPECS, type CertSpec } from './certlist.js';
import type { ClusterConfig, NodeConfig } from './config.js';
import { CA_VALIDITY_MS, CERT_BACKDATE_MS, LEAF_VALIDITY_MS, PKI_DIR, RENEW_BEFORE_MS } from './constants.js';

export interface CertKey {
  certPem: string;
  keyPem: string;
}

export interface Pki {
  cas: Record<string, CertKey>;
  sa: { keyPem: string; pubPem: string };
  /** Leaf certificates by node name, then baseName. */
  leaves: Record<string, Record<string, CertKey>>;
}

export type PkiEvent = { path: string; action: 'created' | 'reused' | 'renewed' };

export interface PkiResult {
  pki: Pki;
  events: PkiEvent[];
  /** Certificates that exist but are not what the configuration asks for: reported, never silently replaced. */
  problems: string[];
}

const CA_USAGE: KeyUsage[] = ['digitalSignature', 'keyEncipherment', 'keyCertSign'];
const LEAF_USAGE: KeyUsage[] = ['digitalSignature', 'keyEncipherment'];

export const caPath = (baseName: string) => baseName;
export const leafPath = (node: string, baseName: string) => `nodes/${node}/${baseName}`;

/** Certificates and keys are generated in parallel: keys are the slow part. */
async function keysFor(count: number, algorithm: KeyAlgorithm): Promise<KeyPair[]> {
  return Promise.all(Array.from({ length: count }, () => generateKey(algorithm)));
}

function want(spec: CertSpec, cfg: ClusterConfig, node: NodeConfig) {
  const sans = spec.sans?.(cfg, node) ?? { dnsNames: [], ipAddresses: [] };
  return {
    commonName: spec.commonName(node),
    organizations: spec.organizationsFor?.(cfg) ?? spec.organizations,
    acceptedOrganizations: spec.acceptedOrganizations ?? [],
    dnsNames: sans.dnsNames,
    ipAddresses: sans.ipAddresses,
    usages: spec.usages,
  };
}

/** Differences between an existing certificate and what it should be, as words; empty if it matches. */
export function certDifferences(certPem: string, w: ReturnType<typeof want>): string[] {
  const info = inspectCertificate(certPem);
  const diffs: string[] = [];
  const same = (a: string[], b: string[]) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
  if (info.commonName !== w.commonName) diffs.push(`CN is ${info.commonName}, want ${w.commonName}`);
  const orgsOk = [w.organizations, ...(w.acceptedOrganizations ?? [])].some((o) => same(info.organizations, o));
  if (!orgsOk) diffs.push(`O is [${info.organizations}], want [${w.organizations}]`);
  if (!same(info.dnsNames, w.dnsNames)) diffs.push(`DNS SANs are [${info.dnsNames}], want [${w.dnsNames}]`);
  const ips = w.ipAddresses.map(normalizeIp);
  if (!same(info.ipAddresses, ips)) diffs.push(`IP SANs are [${info.ipAddresses}], want [${ips}]`);
  if (!same(info.extKeyUsage, w.usages)) diffs.push(`extended key usage is [${info.extKeyUsage}], want [${w.usages}]`);
  return diffs;
}

function signer(ca: CertKey) {
  const info = inspectCertificate(ca.certPem);
  return {
    subject: { commonName: info.commonName, organizations: info.organizations },
    privateKeyPem: ca.keyPem,
    publicKeyDer: publicKeyDerOfCert(ca.certPem),
    subjectKeyId: subjectKeyIdOfCert(ca.certPem),
    subjectDer: subjectDerOfCert(ca.certPem),
  };
}

function issue(
  spec: CertSpec,
  cfg: ClusterConfig,
  node: NodeConfig,
  key: KeyPair,
  ca: CertKey | undefined,
  now: Date,
): string {
  const w = want(spec, cfg, node);
  const isCA = !ca;
  return createCertificate(
    {
      subject: { commonName: w.commonName, organizations: w.organizations },
      publicKeyDer: key.publicKeyDer,
      serial: randomSerial(),
      notBefore: new Date(now.getTime() - CERT_BACKDATE_MS),
      notAfter: new Date(now.getTime() + (isCA ? CA_VALIDITY_MS : LEAF_VALIDITY_MS)),
      isCA,
      keyUsage: isCA ? CA_USAGE : LEAF_USAGE,
      extKeyUsage: w.usages,
      dnsNames: w.dnsNames,
      ipAddresses: w.ipAddresses,
    },
    ca ? signer(ca) : undefined,
    key.privateKeyPem,
  );
}

/**
 * Make sure every CA, the service-account key pair and every control-plane node's leaf certificates exist
 * in the store. Existing material is reused; leaves near expiry are renewed with their key; anything that
 * exists but does not match the configuration is reported in problems and left alone.
 */
export async function ensurePki(
  store: PkiStore,
  cfg: ClusterConfig,
  controlPlane: NodeConfig[],
  now = new Date(),
  /** Leaves renewed with their key whatever their expiry (`certs renew`), by path on the master. */
  renewNow: (hostPath: string) => boolean = () => false,
): Promise<PkiResult> {
  const events: PkiEvent[] = [];
  const problems: string[] = [];
  const cas: Record<string, CertKey> = {};

  // CAs: reuse, or create all that are missing; half a CA (cert without key) is a problem.
  const missingCas: CertSpec[] = [];
  for (const spec of CA_SPECS) {
    const cert = store.read(`${caPath(spec.baseName)}.crt`);
    const key = store.read(`${caPath(spec.baseName)}.key`);
    if (cert && key) {
      if (!keyMatchesCert(cert, key)) problems.push(`${spec.baseName}.crt does not match ${spec.baseName}.key`);
      else if (inspectCertificate(cert).notAfter.getTime() - now.getTime() < RENEW_BEFORE_MS)
        problems.push(
          `CA ${spec.baseName}.crt expires on ${inspectCertificate(cert).notAfter.toISOString()}: ` +
            'CA rotation is not automatic',
        );
      cas[spec.baseName] = { certPem: cert, keyPem: key };
      events.push({ path: `${spec.baseName}.crt`, action: 'reused' });
    } else if (cert || key) {
      problems.push(
        `${spec.baseName}: found ${cert ? '.crt without .key' : '.key without .crt'}; ` +
          'restore the missing file (a CA cannot be regenerated without breaking the cluster)',
      );
    } else {
      missingCas.push(spec);
    }
  }
  if (problems.length > 0) {
    // Without every CA intact nothing can be signed: stop here and let the caller report.
    return { pki: { cas, sa: { keyPem: '', pubPem: '' }, leaves: {} }, events, problems };
  }
  const caKeys = await keysFor(missingCas.length, cfg.encryptionAlgorithm);
  missingCas.forEach((spec, i) => {
    const certPem = issue(spec, cfg, controlPlane[0], caKeys[i], undefined, now);
    cas[spec.baseName] = { certPem, keyPem: caKeys[i].privateKeyPem };
    store.write(`${spec.baseName}.crt`, certPem, 0o644);
    store.write(`${spec.baseName}.key`, caKeys[i].privateKeyPem, 0o600);
    events.push({ path: `${spec.baseName}.crt`, action: 'created' });
  });

  // Service-account signing key: reused if present (kubeadm does the same).
  let saKey = store.read('sa.key');
  if (!saKey) {
    saKey = (await generateKey(cfg.encryptionAlgorithm)).privateKeyPem;
    store.write('sa.key', saKey, 0o600);
    events.push({ path: 'sa.key', action: 'created' });
  } else {
    events.push({ path: 'sa.key', action: 'reused' });
  }
  const saPub = publicKeyPem(createPublicKey(createPrivateKey(saKey)).export({ type: 'spki', format: 'der' }));
  store.write('sa.pub', saPub, 0o600);

  // Leaves for each control-plane node.
  const leaves: Record<string, Record<string, CertKey>> = {};
  const toIssue: { node: NodeConfig; spec: CertSpec; key?: KeyPair; renew: boolean }[] = [];
  for (const node of controlPlane) {
    leaves[node.name] = {};
    for (const spec of LEAF_SPECS) {
      const path = leafPath(node.name, spec.baseName);
      const cert = store.read(`${path}.crt`);
      const key = store.read(`${path}.key`);
      const ca = cas[spec.caName!];
      if (!cert || !key) {
        toIssue.push({ node, spec, renew: false });
        continue;
      }
      const diffs = certDifferences(cert, want(spec, cfg, node));
      if (!keyMatchesCert(cert, key)) diffs.push('certificate does not match its key');
      if (ca && !verifiesAgainst(cert, ca.certPem)) diffs.push(`not signed by the current ${spec.caName}`);
      if (diffs.length > 0) {
        problems.push(
          `${path}.crt: ${diffs.join('; ')}. Remove ${path}.crt and .key from the PKI directory to have it reissued.`,
        );
        leaves[node.name][spec.baseName] = { certPem: cert, keyPem: key };
      } else if (
        inspectCertificate(cert).notAfter.getTime() - now.getTime() < RENEW_BEFORE_MS ||
        renewNow(`${PKI_DIR}/${spec.baseName}.crt`)
      ) {
        toIssue.push({ node, spec, key: keyPairFromPem(key), renew: true });
      } else {
        leaves[node.name][spec.baseName] = { certPem: cert, keyPem: key };
        events.push({ path: `${path}.crt`, action: 'reused' });
      }
    }
  }
  const fresh = await keysFor(toIssue.filter((t) => !t.key).length, cfg.encryptionAlgorithm);
  let next = 0;
  for (const item of toIssue) {
    const key = item.key ?? fresh[next++];
    const path = leafPath(item.node.name, item.spec.baseName);
    const certPem = issue(item.spec, cfg, item.node, key, cas[item.spec.caName!], now);
    leaves[item.node.name][item.spec.baseName] = { certPem, keyPem: key.privateKeyPem };
    store.write(`${path}.crt`, certPem, 0o644);
    store.write(`${path}.key`, key.privateKeyPem, 0o600);
    events.push({ path: `${path}.crt`, action: item.renew ? 'renewed' : 'created' });
  }
  return { pki: { cas, sa: { keyPem: saKey, pubPem: saPub }, leaves }, events, problems };
}

/** Issue a client certificate signed by a CA (for kubeconfig users), valid a year unless told otherwise. */
export function issueClientCert(
  ca: CertKey,
  key: KeyPair,
  commonName: string,
  organizations: string[],
  now = new Date(),
  validityMs = LEAF_VALIDITY_MS,
): string {
  return createCertificate(
    {
      subject: { commonName, organizations },
      publicKeyDer: key.publicKeyDer,
      serial: randomSerial(),
      notBefore: new Date(now.getTime() - CERT_BACKDATE_MS),
      notAfter: new Date(now.getTime() + validityMs),
      isCA: false,
      keyUsage: LEAF_USAGE,
      extKeyUsage: ['clientAuth'],
      dnsNames: [],
      ipAddresses: [],
    },
    signer(ca),
    key.privateKeyPem,
  );
}
