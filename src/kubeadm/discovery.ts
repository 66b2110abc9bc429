import { createHash, createHmac, timingSafeEqual, X509Certificate } from 'node:crypto';
import { parse, stringify } from 'yaml';
import type { BootstrapToken } from './token.js';

const b64url = (b: Buffer | string) =>
  Buffer.from(b).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

/** discovery-token-ca-cert-hash: "sha256:" + hex SHA-256 of the CA's DER SubjectPublicKeyInfo (util/pubkeypin). */
export function caCertHash(caPem: string): string {
  const spki = new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

export const PIN_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** Detached JWS (HS256) over content, as the bootstrapsigner controller writes jws-kubeconfig-<id>. */
export function signDetached(content: string, token: BootstrapToken): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', kid: token.id }));
  const payload = b64url(content);
  const sig = b64url(createHmac('sha256', token.secret).update(`${header}.${payload}`).digest());
  return `${header}..${sig}`;
}

export function verifyDetached(content: string, jws: string, token: BootstrapToken): boolean {
  const [header, empty, sig] = jws.split('.');
  if (empty !== '' || !header || !sig) return false;
  let parsed: { alg?: string; kid?: string };
  try {
    parsed = JSON.parse(Buffer.from(header, 'base64url').toString());
  } catch {
    return false;
  }
  if (parsed.alg !== 'HS256' || parsed.kid !== token.id) return false;
  const expected = Buffer.from(signDetached(content, token).split('..')[1]);
  const actual = Buffer.from(sig);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * The kube-public/cluster-info ConfigMap: a kubeconfig with one unnamed cluster and no users, as kubeadm's clientcmd
 * marshals it (null contexts and users; no empty preferences since client-go v0.34).
 */
export function clusterInfoKubeconfig(server: string, caPem: string): string {
  return stringify({
    apiVersion: 'v1',
    clusters: [{ cluster: { 'certificate-authority-data': Buffer.from(caPem).toString('base64'), server }, name: '' }],
    contexts: null,
    'current-context': '',
    kind: 'Config',
    users: null,
  });
}

export function clusterInfoConfigMap(server: string, caPem: string) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'cluster-info', namespace: 'kube-public' },
    data: { kubeconfig: clusterInfoKubeconfig(server, caPem) },
  };
}

export interface DiscoveryResult {
  server: string;
  caPem: string;
}

/**
 * What `kubeadm join` checks about cluster-info fetched without TLS verification: the token's JWS signs the
 * kubeconfig, it has exactly one cluster, and (when pins are given) the CA's public key matches one pin.
 */
export function verifyClusterInfo(
  configMapData: Record<string, string>,
  token: BootstrapToken,
  pins: string[],
): DiscoveryResult {
  const kubeconfig = configMapData.kubeconfig;
  if (!kubeconfig) throw new Error('cluster-info has no kubeconfig');
  const jws = configMapData[`jws-kubeconfig-${token.id}`];
  if (!jws)
    throw new Error(
      `cluster-info has no signature for token id ${token.id} yet (jws-kubeconfig-${token.id}); ` +
        'is the token valid and the bootstrapsigner controller running?',
    );
  if (!verifyDetached(kubeconfig, jws, token))
    throw new Error(
      `cluster-info signature does not verify with token ${token.id}: wrong token secret or tampered data`,
    );
  const doc = parse(kubeconfig);
  if (!Array.isArray(doc.clusters) || doc.clusters.length !== 1)
    throw new Error(`cluster-info must contain exactly one cluster, found ${doc.clusters?.length ?? 0}`);
  const cluster = doc.clusters[0].cluster;
  const caPem = Buffer.from(cluster['certificate-authority-data'] ?? '', 'base64').toString();
  for (const p of pins)
    if (!PIN_PATTERN.test(p)) throw new Error(`invalid CA cert hash "${p}": expected sha256:<64 hex>`);
  if (pins.length > 0) {
    const certs = caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (!certs.some((c) => pins.includes(caCertHash(c))))
      throw new Error(
        `cluster CA does not match the pinned hash ${pins.join(', ')} (found ${certs.map(caCertHash).join(', ')})`,
      );
  }
  return { server: cluster.server, caPem };
}
