import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Resolved } from '../config/settings.js';
import { statePkiDir } from '../config/state-dir.js';
import { UserError } from '../errors/index.js';
import type { KubeClient } from '../kube/client.js';
import type { List } from '../kube/types.js';
import { clusterConfigFrom, controlPlaneUrl, nodeConfigFrom } from '../kubeadm/config.js';
import { caCertHash } from '../kubeadm/discovery.js';
import {
  formatToken,
  generateToken,
  parseToken,
  readTokenSecret,
  tokenSecret,
  type TokenOptions,
} from '../kubeadm/token.js';
import { onClusterApi } from './cluster-api.js';
import { clusterStateDir } from './init.js';
import type { RunOptions } from './session.js';

const SECRETS = '/api/v1/namespaces/kube-system/secrets';

export interface TokenInfo {
  token: string;
  expires?: string;
  usages: string[];
  groups: string[];
  description: string;
}

/** `kubeadm join host:port --token ... --discovery-token-ca-cert-hash sha256:...` for this cluster. */
export function joinCommand(resolved: Resolved, token: string): string {
  const caFile = join(statePkiDir(clusterStateDir(resolved)), 'ca.crt');
  if (!existsSync(caFile)) throw new UserError(`the cluster CA is not in ${caFile}: run kprov init first`);
  const first = resolved.hosts.find((h) => h.controlPlane);
  if (!first) throw new UserError(`${resolved.inventory.file} has no control-plane host`);
  const endpoint = new URL(controlPlaneUrl(clusterConfigFrom(resolved.cluster), nodeConfigFrom(first))).host;
  const hash = caCertHash(readFileSync(caFile, 'utf8'));
  return `kubeadm join ${endpoint} --token ${token} --discovery-token-ca-cert-hash ${hash}`;
}

/** Create a bootstrap token Secret (a new random token unless one is given). */
export function createToken(resolved: Resolved, opts: RunOptions, o: TokenOptions & { token?: string }) {
  const token = o.token ? parseToken(o.token) : generateToken();
  let secret: ReturnType<typeof tokenSecret>;
  try {
    secret = tokenSecret(token, o);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  return onClusterApi(resolved, opts, 'token create', async (api) => {
    const r = await api.request('POST', SECRETS, secret);
    if (r.status === 409) throw new UserError(`token ${token.id} already exists`);
    if (r.status >= 300) throw new Error(`creating the token Secret: HTTP ${r.status}: ${r.text.slice(0, 200)}`);
    return formatToken(token);
  });
}

interface SecretJson {
  metadata: { name: string };
  data?: Record<string, string>;
}

export function listTokens(resolved: Resolved, opts: RunOptions) {
  return onClusterApi(resolved, opts, 'token list', async (api: KubeClient) => {
    const list = await api.get<List<SecretJson>>(`${SECRETS}?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken`);
    return (list?.items ?? []).map((s): TokenInfo => {
      const t = readTokenSecret(s);
      const { expiration: expires, usages, groups } = t;
      return { token: `${t.id}.${t.secret}`, expires, usages, groups, description: t.description ?? '' };
    });
  });
}

/**
 * Delete token Secrets (by token or token id). A deleted token kprov saved for its own joins is forgotten too, so
 * the next kprov join makes a new one instead of bringing the deleted one back.
 */
export function deleteTokens(resolved: Resolved, opts: RunOptions, tokens: string[]) {
  const ids = tokens.map((t) => {
    const id = t.includes('.') ? parseToken(t).id : t;
    if (!/^[a-z0-9]{6}$/.test(id)) throw new UserError(`"${t}" is not a bootstrap token or token id`);
    return id;
  });
  return onClusterApi(resolved, opts, 'token delete', async (api) => {
    const deleted: string[] = [];
    for (const id of ids) {
      const r = await api.request('DELETE', `${SECRETS}/bootstrap-token-${id}`);
      if (r.status === 404) throw new UserError(`token ${id} does not exist`);
      if (r.status >= 300) throw new Error(`deleting token ${id}: HTTP ${r.status}: ${r.text.slice(0, 200)}`);
      deleted.push(id);
    }
    const saved = join(statePkiDir(clusterStateDir(resolved)), 'bootstrap-token');
    if (existsSync(saved) && ids.includes(readFileSync(saved, 'utf8').slice(0, 6))) rmSync(saved);
    return deleted;
  });
}
