import { randomInt } from 'node:crypto';
import { GROUP_DEFAULT_NODE_TOKEN, TOKEN_DEFAULT_TTL_MS } from './constants.js';

/** Bootstrap tokens (k8s.io/cluster-bootstrap): "[a-z0-9]{6}.[a-z0-9]{16}". */
export const TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

export interface BootstrapToken {
  id: string;
  secret: string;
}

function randomString(length: number): string {
  // randomInt is uniform (no modulo bias) and backed by the OS CSPRNG.
  return Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
}

export function generateToken(): BootstrapToken {
  return { id: randomString(6), secret: randomString(16) };
}

export function formatToken(t: BootstrapToken): string {
  return `${t.id}.${t.secret}`;
}

export function parseToken(text: string): BootstrapToken {
  const m = TOKEN_PATTERN.exec(text.trim());
  if (!m)
    throw new Error(
      'invalid bootstrap token: expected 6 and 16 lowercase letters or digits joined by a dot ' +
        '([a-z0-9]{6}.[a-z0-9]{16})',
    );
  return { id: m[1], secret: m[2] };
}

export interface TokenOptions {
  ttlMs?: number;
  description?: string;
  usages?: ('signing' | 'authentication')[];
  groups?: string[];
  now?: Date;
}

const GROUP_PATTERN = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;

/** The kube-system Secret that makes a token valid (type bootstrap.kubernetes.io/token). */
export function tokenSecret(t: BootstrapToken, o: TokenOptions = {}) {
  const ttl = o.ttlMs ?? TOKEN_DEFAULT_TTL_MS;
  const groups = o.groups ?? [GROUP_DEFAULT_NODE_TOKEN];
  for (const g of groups) if (!GROUP_PATTERN.test(g)) throw new Error(`invalid bootstrap token group "${g}"`);
  const data: Record<string, string> = { 'token-id': t.id, 'token-secret': t.secret };
  if (o.description) data.description = o.description;
  if (ttl > 0)
    data.expiration = new Date((o.now ?? new Date()).getTime() + ttl).toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (const u of o.usages ?? ['signing', 'authentication']) data[`usage-bootstrap-${u}`] = 'true';
  // kubeadm writes no groups key for a token without groups (the kubeadm-certs proxy token).
  if (groups.length > 0) data['auth-extra-groups'] = groups.join(',');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `bootstrap-token-${t.id}`, namespace: 'kube-system' },
    type: 'bootstrap.kubernetes.io/token',
    stringData: data,
  };
}

/** Expiry of a token Secret as read back from the API (data is base64). */
export function tokenExpiry(secret: { data?: Record<string, string> }): Date | undefined {
  const exp = secret.data?.expiration;
  return exp ? new Date(Buffer.from(exp, 'base64').toString()) : undefined;
}

/** A bootstrap token Secret as read back from the API (its data is base64). */
export interface TokenSecretFields {
  id: string;
  secret: string;
  expiration?: string;
  description?: string;
  usages: string[];
  groups: string[];
}

export function readTokenSecret(secret: { data?: Record<string, string> }): TokenSecretFields {
  const data = secret.data ?? {};
  const field = (k: string) => (data[k] ? Buffer.from(data[k], 'base64').toString('utf8') : '');
  return {
    id: field('token-id'),
    secret: field('token-secret'),
    expiration: field('expiration') || undefined,
    description: field('description') || undefined,
    usages: Object.keys(data)
      .filter((k) => k.startsWith('usage-bootstrap-') && field(k) === 'true')
      .map((k) => k.slice('usage-bootstrap-'.length)),
    groups: field('auth-extra-groups').split(',').filter(Boolean),
  };
}
