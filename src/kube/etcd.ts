import type { Duplex } from 'node:stream';
import type { EtcdMember } from '../kubeadm/etcd-members.js';
import { isTransientNetworkError, retryTransient, TRANSIENT_ETCD, TRANSIENT_HTTP } from '../util/retry.js';
import { KubeClient, type Credentials } from './client.js';
import { statusMessage } from './types.js';
import { snapshotFromStream } from '../backup/snapshot.js';

/** A fresh byte stream to etcd's client port on address (direct TCP, or an SSH tunnel through a master). */
export type EtcdDialer = (address: string) => Promise<Duplex>;

/** What etcd answered, kept whole so a caller can tell "busy, ask again" from "no". */
export class EtcdError extends Error {
  constructor(
    readonly path: string,
    readonly status: number,
    readonly reason: string,
  ) {
    super(`etcd ${path}: HTTP ${status}: ${reason}`);
    this.name = 'EtcdError';
  }

  /** etcd is electing a leader, catching a member up, or too busy: the same request may succeed soon. */
  get transient(): boolean {
    return TRANSIENT_HTTP.has(this.status) || TRANSIENT_ETCD.test(this.reason);
  }
}

export const isTransientEtcdError = (err: unknown) =>
  (err instanceof EtcdError && err.transient) || isTransientNetworkError(err);

/** One member's view of the cluster (maintenance/status). */
export interface EtcdStatus {
  version?: string;
  dbSize?: string;
  leader?: string;
  raftIndex?: string;
  raftTerm?: string;
  raftAppliedIndex?: string;
  errors?: string[];
  isLearner?: boolean;
  header?: { member_id?: string; revision?: string };
}

export interface EtcdAlarm {
  memberID?: string;
  alarm?: string;
}

interface MemberList {
  members?: EtcdMember[];
}

export interface EtcdClientOptions {
  /** How long one call keeps retrying transient failures. */
  retryMs?: number;
  /** How long one request may take, connection included (default 30 s). */
  requestTimeoutMs?: number;
  onRetry?: (what: string) => void;
}

/** The host part of a client URL: https://10.0.0.1:2379 -> 10.0.0.1, https://[fd00::1]:2379 -> fd00::1. */
export function clientUrlHost(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}

/**
 * etcd's v3 API through its JSON gateway (POST /v3/...), over the same TLS-over-any-dialer client kprov uses
 * for the API server, so it reaches etcd through the SSH connection to a master. Reads and idempotent calls
 * are retried while etcd answers "busy"; MemberAdd is not (the caller looks for its member before adding again).
 */
export class EtcdClient {
  private readonly http: KubeClient;

  /** dialTo reaches etcd's client port at an address; address is the member this client talks to. */
  constructor(
    private readonly dialTo: EtcdDialer,
    private readonly creds: Credentials,
    readonly address: string,
    private readonly opts: EtcdClientOptions = {},
  ) {
    // No retries at the HTTP level: this class decides, knowing which calls may be repeated.
    this.http = new KubeClient(() => dialTo(address), creds, address, opts.requestTimeoutMs ?? 30_000, 0);
  }

  /** The same credentials and tunnel, talking to another member. */
  at(address: string): EtcdClient {
    return new EtcdClient(this.dialTo, this.creds, address, this.opts);
  }

  /** The same client with a shorter (or longer) limit per request: a member that does not answer costs only that. */
  withTimeout(requestTimeoutMs: number): EtcdClient {
    return new EtcdClient(this.dialTo, this.creds, this.address, { ...this.opts, requestTimeoutMs });
  }

  private async callOnce<T>(path: string, body: unknown): Promise<T> {
    const r = await this.http.request('POST', `/v3/${path}`, body);
    // uint64 IDs must stay exact: should a gateway ever send them as numbers, read them as strings.
    const parsed: unknown = r.text
      ? JSON.parse(r.text.replace(/"(ID|leader|member_id|cluster_id|memberID)":\s*(\d+)/g, '"$1":"$2"'))
      : {};
    if (r.status !== 200) throw new EtcdError(path, r.status, statusMessage(parsed) ?? r.text.slice(0, 200));
    return parsed as T;
  }

  /** retryMs: how long transient failures are retried (0: one attempt); the client's default otherwise. */
  private call<T>(path: string, body: unknown, retryMs = this.opts.retryMs ?? 60_000): Promise<T> {
    if (retryMs <= 0) return this.callOnce<T>(path, body);
    return retryTransient(() => this.callOnce<T>(path, body), {
      deadlineMs: retryMs,
      isTransient: isTransientEtcdError,
      onRetry: (err, n, pause) => this.opts.onRetry?.(`${(err as Error).message} (attempt ${n}, again in ${pause}ms)`),
    });
  }

  async members(): Promise<EtcdMember[]> {
    return (await this.call<MemberList>('cluster/member/list', { linearizable: true })).members ?? [];
  }

  /**
   * Add a non-voting learner (kubeadm's way since 1.29): it cannot cost the cluster its quorum while it catches
   * up. Not retried here: a timed-out add may have been applied, so callers list members before trying again.
   */
  async addLearner(peerUrl: string): Promise<{ member: EtcdMember; members: EtcdMember[] }> {
    const r = await this.call<MemberList & { member: EtcdMember }>(
      'cluster/member/add',
      { peerURLs: [peerUrl], isLearner: true },
      0,
    );
    return { member: r.member, members: r.members ?? [] };
  }

  /** Make a learner a voting member; etcd refuses until the learner has caught up with the leader. */
  async promote(id: string): Promise<void> {
    await this.call('cluster/member/promote', { ID: id }, 0);
  }

  /** Remove a member; one already gone (say a retried remove whose first attempt was applied) counts as removed. */
  async remove(id: string): Promise<void> {
    await this.call('cluster/member/remove', { ID: id }).catch((err) => {
      if (err instanceof EtcdError && /member not found/i.test(err.reason)) return;
      throw err;
    });
  }

  /**
   * Every voting member answers with a leader and no errors: what kubeadm waits for before changing membership.
   * Returns the problems found (empty when healthy).
   */
  async unhealthyVoters(): Promise<string[]> {
    const members = await this.members();
    const problems: string[] = [];
    await Promise.all(
      members
        .filter((m) => !m.isLearner)
        .map(async (m) => {
          const name = m.name || m.peerURLs?.[0] || m.ID;
          const url = m.clientURLs?.[0];
          if (!url) return void problems.push(`${name} has not started`);
          try {
            const s = await this.at(clientUrlHost(url)).withTimeout(10_000).status(10_000);
            if (!s.leader || s.leader === '0') problems.push(`${name} has no leader`);
            if (s.errors?.length) problems.push(`${name}: ${s.errors.join(', ')}`);
          } catch (err) {
            problems.push(`${name} does not answer: ${(err as Error).message}`);
          }
        }),
    );
    return problems.sort();
  }

  /** Raised alarms (NOSPACE, CORRUPT) across the cluster. */
  async alarms(): Promise<EtcdAlarm[]> {
    return (await this.call<{ alarms?: EtcdAlarm[] }>('maintenance/alarm', { action: 'GET' })).alarms ?? [];
  }

  /**
   * Maintenance.Snapshot: this member's whole database, streamed, then etcd's sha256 of it (the bytes `etcdctl
   * snapshot save` writes). One attempt: a snapshot is large, the caller decides whether to try again.
   */
  async snapshot(timeoutMs = 10 * 60_000): Promise<Buffer> {
    const http = new KubeClient(() => this.dialTo(this.address), this.creds, this.address, timeoutMs, 0);
    const r = await http.request('POST', '/v3/maintenance/snapshot', {});
    if (r.status !== 200) throw new EtcdError('maintenance/snapshot', r.status, r.text.slice(0, 200));
    return snapshotFromStream(r.text);
  }

  /** This member's status: its leader, raft term and index, DB size and alarms-as-errors. */
  async status(retryMs?: number): Promise<EtcdStatus> {
    return this.call<EtcdStatus>('maintenance/status', {}, retryMs);
  }
}
