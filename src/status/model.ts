/**
 * The picture `kprov status` draws of a cluster, and the pure rules that turn it into "healthy" or a list of
 * reasons. Collection (SSH, API, etcd) lives in actions/status.ts; nothing here does I/O.
 */

export interface ContainerState {
  /** Static pod component: etcd, kube-apiserver, kube-controller-manager, kube-scheduler. */
  name: string;
  /** crictl's state of the newest container: CONTAINER_RUNNING, CONTAINER_EXITED, ... or missing. */
  state: string;
  attempt?: number;
  /** The mirror pod's Ready condition, when the API could be asked. */
  ready?: boolean;
}

export interface CertExpiry {
  /** File (or kubeconfig) on the host. */
  path: string;
  notAfter: string;
  /** The issuing CA's common name. */
  issuer?: string;
}

export interface HostStatus {
  name: string;
  address: string;
  roles: ('control-plane' | 'worker')[];
  reachable: boolean;
  error?: string;
  kubelet?: { active: string; version?: string };
  containerd?: { active: string; version?: string };
  staticPods?: ContainerState[];
  /** The API server on this master: /readyz's HTTP status, and its text when not 200. */
  readyz?: { status: number; detail?: string };
  certificates?: CertExpiry[];
}

export interface NodeStatus {
  name: string;
  ready: boolean;
  reason?: string;
  kubeletVersion?: string;
  runtimeVersion?: string;
  unschedulable: boolean;
}

export interface EtcdMemberStatus {
  id: string;
  name: string;
  peerUrl: string;
  learner: boolean;
  /** Whether this member answered its status request. */
  answered: boolean;
  leader?: boolean;
  raftTerm?: string;
  raftIndex?: string;
  dbSizeBytes?: number;
  errors?: string[];
  error?: string;
}

export interface EtcdStatus {
  reached: boolean;
  error?: string;
  leaderId?: string;
  members: EtcdMemberStatus[];
  alarms: { memberId: string; alarm: string }[];
}

export interface LeaseStatus {
  name: string;
  holder?: string;
  renewTime?: string;
  leaseDurationSeconds?: number;
  transitions?: number;
}

export interface TokenStatus {
  id: string;
  expiration?: string;
  description?: string;
  usages: string[];
}

export interface ClusterStatus {
  /** When the picture was taken (ISO 8601). */
  time: string;
  hosts: HostStatus[];
  /** Absent when the API could not be reached. */
  api?: { via: string; nodes: NodeStatus[]; leases: LeaseStatus[]; tokens: TokenStatus[] };
  apiError?: string;
  etcd?: EtcdStatus;
}

export const CONTROL_PLANE_COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

/** A certificate this close to its end is reported (kubeadm renews on upgrade; `kprov certs renew` otherwise). */
export const CERT_WARN_DAYS = 30;

const days = (ms: number) => Math.floor(ms / 86_400_000);

/** Whether a lease is past renewTime + leaseDuration: its holder has stopped renewing. */
export function leaseExpired(lease: LeaseStatus, now: Date): boolean {
  if (!lease.holder || !lease.renewTime || !lease.leaseDurationSeconds) return true;
  return Date.parse(lease.renewTime) + lease.leaseDurationSeconds * 1000 < now.getTime();
}

/** The earliest certificate expiry on a host. */
export function earliestExpiry(host: HostStatus): CertExpiry | undefined {
  return [...(host.certificates ?? [])].sort((a, b) => Date.parse(a.notAfter) - Date.parse(b.notAfter))[0];
}

/**
 * What makes the cluster degraded (problems: exit 1) and what an operator should know without it being a fault
 * (notes): every unreachable host, stopped service, unready node or static pod, unhealthy etcd member, alarm,
 * learner, lost lease and expired certificate is a problem.
 */
export function evaluate(status: ClusterStatus, now = new Date(status.time)): { problems: string[]; notes: string[] } {
  const problems: string[] = [];
  const notes: string[] = [];
  const masters = status.hosts.filter((h) => h.roles.includes('control-plane'));
  for (const h of status.hosts) {
    if (!h.reachable) {
      problems.push(`${h.name}: unreachable${h.error ? ` (${h.error})` : ''}`);
      continue;
    }
    if (h.containerd && h.containerd.active !== 'active')
      problems.push(`${h.name}: containerd is ${h.containerd.active}`);
    if (h.kubelet && h.kubelet.active !== 'active') problems.push(`${h.name}: kubelet is ${h.kubelet.active}`);
    for (const pod of h.staticPods ?? []) {
      if (pod.state !== 'CONTAINER_RUNNING') problems.push(`${h.name}: ${pod.name} is ${stateWord(pod.state)}`);
      else if (pod.ready === false) problems.push(`${h.name}: ${pod.name} is running but not ready`);
    }
    if (h.readyz && h.readyz.status !== 200) {
      const detail = h.readyz.detail ? ` (${h.readyz.detail})` : '';
      problems.push(`${h.name}: API server /readyz answered ${h.readyz.status || 'nothing'}${detail}`);
    }
    for (const c of h.certificates ?? []) {
      const left = Date.parse(c.notAfter) - now.getTime();
      if (left <= 0) problems.push(`${h.name}: ${c.path} expired on ${c.notAfter}`);
      else if (days(left) < CERT_WARN_DAYS)
        notes.push(`${h.name}: ${c.path} expires in ${days(left)} days (${c.notAfter})`);
    }
  }
  if (!status.api) {
    problems.push(`the API cannot be reached${status.apiError ? `: ${status.apiError}` : ''}`);
  } else {
    const nodes = new Map(status.api.nodes.map((n) => [n.name, n]));
    for (const h of status.hosts) {
      const node = nodes.get(h.name) ?? status.api.nodes.find((n) => n.name === h.name.toLowerCase());
      if (!node) problems.push(`${h.name}: no node in the cluster`);
      else if (!node.ready) problems.push(`${h.name}: node not Ready${node.reason ? ` (${node.reason})` : ''}`);
    }
    for (const lease of status.api.leases) {
      if (leaseExpired(lease, now))
        problems.push(`${lease.name}: no leader holds its lease${lease.holder ? ` (last: ${lease.holder})` : ''}`);
    }
    for (const t of status.api.tokens) {
      if (t.expiration && Date.parse(t.expiration) <= now.getTime())
        notes.push(`bootstrap token ${t.id} expired on ${t.expiration}`);
    }
  }
  if (masters.length > 0) {
    const etcd = status.etcd;
    if (!etcd?.reached) problems.push(`etcd cannot be reached${etcd?.error ? `: ${etcd.error}` : ''}`);
    else {
      if (!etcd.leaderId || !etcd.members.some((m) => m.leader)) problems.push('etcd has no leader');
      for (const m of etcd.members) {
        if (m.learner) problems.push(`etcd member ${m.name || m.peerUrl} is a learner (not yet promoted)`);
        if (!m.answered)
          problems.push(`etcd member ${m.name || m.peerUrl} does not answer${m.error ? `: ${m.error}` : ''}`);
        for (const e of m.errors ?? []) problems.push(`etcd member ${m.name}: ${e}`);
      }
      for (const a of etcd.alarms) problems.push(`etcd alarm ${a.alarm} on member ${a.memberId}`);
      if (etcd.members.length !== masters.length) {
        notes.push(
          `etcd has ${etcd.members.length} members for ${masters.length} control-plane hosts in the inventory`,
        );
      }
    }
  }
  return { problems, notes };
}

function stateWord(state: string): string {
  return state === 'missing' ? 'not running (no container)' : state.replace(/^CONTAINER_/, '').toLowerCase();
}
