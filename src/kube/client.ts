import { request } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { statusMessage, type KubeObject, type ObjectRef } from './types.js';
import { isTransientNetworkError, retryTransient, TRANSIENT_ETCD, TRANSIENT_HTTP } from '../util/retry.js';

/** How to reach the API server: a fresh byte stream per request (direct TCP or an SSH tunnel). */
export type Dialer = () => Promise<Duplex>;

export interface Credentials {
  caPem: string;
  certPem?: string;
  keyPem?: string;
  token?: string;
}

export interface KubeResponse {
  status: number;
  body: unknown;
  text: string;
}

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${method} ${path}: HTTP ${status}: ${reason}`);
    this.name = 'KubeApiError';
  }
}

const PLURALS: Record<string, string> = {
  Secret: 'secrets',
  ConfigMap: 'configmaps',
  ServiceAccount: 'serviceaccounts',
  Service: 'services',
  Namespace: 'namespaces',
  Node: 'nodes',
  ClusterRole: 'clusterroles',
  ClusterRoleBinding: 'clusterrolebindings',
  Role: 'roles',
  RoleBinding: 'rolebindings',
  Deployment: 'deployments',
  DaemonSet: 'daemonsets',
  Pod: 'pods',
};

/** REST path of an object: /api/v1/... for the core group, /apis/<group>/<version>/... otherwise. */
export function objectPath(obj: ObjectRef): string {
  const plural = PLURALS[obj.kind];
  if (!plural) throw new Error(`kprov does not know the resource for kind ${obj.kind}`);
  const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  const ns = obj.metadata.namespace ? `/namespaces/${obj.metadata.namespace}` : '';
  return `${base}${ns}/${plural}/${encodeURIComponent(obj.metadata.name)}`;
}

/**
 * A small Kubernetes API client: TLS with the cluster CA (and a client certificate or token), over any
 * dialer, so kprov can talk to the API through the SSH connection it already has (bastions, firewalls).
 */
const reasonOf = (r: KubeResponse) => statusMessage(r.body) ?? r.text.slice(0, 200);

/** A response worth asking again for: throttled, unavailable, or etcd busy behind the server. */
export function isTransientResponse(r: KubeResponse): boolean {
  return TRANSIENT_HTTP.has(r.status) || (r.status >= 500 && TRANSIENT_ETCD.test(r.text));
}

class TransientResponse extends Error {
  constructor(readonly response: KubeResponse) {
    super(`HTTP ${response.status}: ${response.text.slice(0, 200)}`);
  }
}

export interface RequestOptions {
  /** Ask again on transient failures until this many ms have passed (0: one attempt). */
  retryMs?: number;
}

export class KubeClient {
  constructor(
    private readonly dial: Dialer,
    private readonly creds: Credentials | { insecure: true },
    private readonly serverName: string,
    private readonly timeoutMs = 60_000,
    /** How long one call keeps retrying transient failures (network errors, 429/502/503/504, etcd timeouts). */
    private readonly retryMs = 60_000,
    private readonly onRetry?: (what: string) => void,
  ) {}

  /**
   * One API call; transient failures are retried with backoff within retryMs. After that the last transient
   * response is returned (the caller decides), and a network error is thrown.
   */
  async request(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    opts: RequestOptions = {},
  ): Promise<KubeResponse> {
    const attempt = async () => {
      const r = await this.requestOnce(method, path, body, contentType);
      if (isTransientResponse(r)) throw new TransientResponse(r);
      return r;
    };
    try {
      return await retryTransient(attempt, {
        deadlineMs: opts.retryMs ?? this.retryMs,
        isTransient: (err) => err instanceof TransientResponse || isTransientNetworkError(err),
        onRetry: (err, n, pause) =>
          this.onRetry?.(`${method} ${path}: ${(err as Error).message} (attempt ${n}, again in ${pause}ms)`),
      });
    } catch (err) {
      if (err instanceof TransientResponse) return err.response;
      throw err;
    }
  }

  /**
   * One request with one deadline over everything: opening the tunnel, the TLS handshake and the answer. A host
   * that accepts connections but never answers (paused, hung) costs timeoutMs, never a hang: a socket timeout alone
   * does not cover a TLS handshake over an SSH channel.
   */
  private async requestOnce(method: string, path: string, body: unknown, contentType: string): Promise<KubeResponse> {
    const what = `${method} ${path}`;
    let timer: NodeJS.Timeout | undefined;
    let raw: Duplex | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        raw?.destroy();
        reject(new Error(`${what}: no answer in ${this.timeoutMs / 1000}s`));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([
        (async () => {
          raw = await this.dial();
          return this.exchange(raw, method, path, body, contentType);
        })(),
        deadline,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private exchange(
    raw: Duplex,
    method: string,
    path: string,
    body: unknown,
    contentType: string,
  ): Promise<KubeResponse> {
    const tlsOptions =
      'insecure' in this.creds
        ? { socket: raw, rejectUnauthorized: false, servername: undefined }
        : // SNI takes names only (RFC 6066); an IP is still checked against the certificate's SANs through host.
          {
            socket: raw,
            ca: this.creds.caPem,
            cert: this.creds.certPem,
            key: this.creds.keyPem,
            host: this.serverName,
            servername: isIP(this.serverName) ? undefined : this.serverName,
          };
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (payload !== undefined) headers['Content-Type'] = contentType;
    if (!('insecure' in this.creds) && this.creds.token) headers.Authorization = `Bearer ${this.creds.token}`;
    return new Promise((resolve, reject) => {
      const socket = tlsConnect(tlsOptions);
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`${method} ${path}: connection closed before an answer`)));
      const req = request({ method, path, headers, createConnection: () => socket }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          socket.destroy();
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      });
      req.on('error', (err) => {
        socket.destroy();
        reject(err);
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** An object, or undefined when there is none (404). T is what the caller expects at that path. */
  async get<T = KubeObject>(path: string): Promise<T | undefined> {
    const r = await this.request('GET', path);
    if (r.status === 404) return undefined;
    if (r.status >= 300) throw new KubeApiError(r.status, 'GET', path, reasonOf(r));
    return r.body as T;
  }

  /** Server-side apply: create or update to exactly these fields, owned by kprov. Returns the stored object. */
  async apply(obj: ObjectRef): Promise<KubeObject> {
    const path = `${objectPath(obj)}?fieldManager=kprov&force=true`;
    const r = await this.request('PATCH', path, obj, 'application/apply-patch+yaml');
    if (r.status >= 300) throw new KubeApiError(r.status, 'PATCH', path, reasonOf(r));
    return r.body as KubeObject;
  }

  async patch(path: string, patch: unknown, type: 'merge' | 'strategic' = 'strategic'): Promise<KubeObject> {
    const ct = type === 'merge' ? 'application/merge-patch+json' : 'application/strategic-merge-patch+json';
    const r = await this.request('PATCH', path, patch, ct);
    if (r.status >= 300) throw new KubeApiError(r.status, 'PATCH', path, reasonOf(r));
    return r.body as KubeObject;
  }

  async delete(path: string): Promise<void> {
    const r = await this.request('DELETE', path);
    if (r.status >= 300 && r.status !== 404) throw new KubeApiError(r.status, 'DELETE', path, reasonOf(r));
  }
}
