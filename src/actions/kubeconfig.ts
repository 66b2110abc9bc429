import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resolved } from '../config/settings.js';
import { statePkiDir } from '../config/state-dir.js';
import { UserError } from '../errors/index.js';
import { clusterConfigFrom, controlPlaneUrl, nodeConfigFrom } from '../kubeadm/config.js';
import { buildKubeconfig } from '../kubeadm/kubeconfig.js';
import { issueClientCert } from '../kubeadm/pki.js';
import { generateKey } from '../pki/keys.js';
import { clusterStateDir } from './init.js';

export interface KubeconfigRequest {
  /** A user name for a client-certificate kubeconfig; absent for the cluster's admin kubeconfig. */
  user?: string;
  groups: string[];
  /** Certificate validity (kubeadm kubeconfig user --validity-period; a year by default). */
  validityMs?: number;
}

/** Names that become a certificate's CN or O: printable, no control characters, not empty. */
function checkName(kind: string, name: string): void {
  if (!name.trim() || name.length > 253 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new UserError(`${kind} "${name}" must be 1-253 printable characters`);
  }
}

/**
 * The admin kubeconfig kprov saved at init (k0sctl's `kubeconfig`), or a kubeconfig for a named user and groups
 * with a client certificate signed by the cluster CA from the saved PKI (kubeadm's `kubeconfig user`). The server
 * is the control-plane endpoint.
 */
export async function clusterKubeconfig(resolved: Resolved, req: KubeconfigRequest): Promise<string> {
  const state = clusterStateDir(resolved);
  if (!req.user) {
    const admin = join(state, 'admin.conf');
    if (!existsSync(admin)) throw new UserError(`no admin kubeconfig saved in ${state}: run kprov init first`);
    return readFileSync(admin, 'utf8');
  }
  checkName('user', req.user);
  for (const g of req.groups) checkName('group', g);
  const pki = statePkiDir(state);
  const [caCrt, caKey] = [join(pki, 'ca.crt'), join(pki, 'ca.key')];
  if (!existsSync(caCrt) || !existsSync(caKey)) {
    throw new UserError(`the cluster CA is not in ${pki}: run kprov init first (or use the --pki-dir state it made)`);
  }
  const ca = { certPem: readFileSync(caCrt, 'utf8'), keyPem: readFileSync(caKey, 'utf8') };
  const cfg = clusterConfigFrom(resolved.cluster);
  const first = resolved.hosts.find((h) => h.controlPlane);
  if (!first) throw new UserError(`${resolved.inventory.file} has no control-plane host`);
  const key = await generateKey(cfg.encryptionAlgorithm);
  const cert = issueClientCert(ca, key, req.user, req.groups, new Date(), req.validityMs);
  return buildKubeconfig({
    clusterName: cfg.clusterName,
    server: controlPlaneUrl(cfg, nodeConfigFrom(first)),
    caPem: ca.certPem,
    userName: req.user,
    clientCertPem: cert,
    clientKeyPem: key.privateKeyPem,
  });
}

/** A Go-style duration as kubeadm takes it: 8760h, 30m, 45s, and days as 7d. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(d|h|m|s)$/.exec(text.trim());
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;
  if (!m || Number(m[1]) === 0) throw new UserError(`"${text}" is not a duration like 8760h, 30d, 90m`);
  return Number(m[1]) * unit[m[2] as keyof typeof unit];
}
