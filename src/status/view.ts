import { type ClusterStatus, earliestExpiry, evaluate, leaseExpired } from './model.js';

const ago = (iso: string | undefined, now: Date) => {
  if (!iso) return 'never';
  const s = Math.round((now.getTime() - Date.parse(iso)) / 1000);
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};
const until = (iso: string, now: Date) => {
  const d = Math.floor((Date.parse(iso) - now.getTime()) / 86_400_000);
  return `${iso.slice(0, 10)} (${d} days)`;
};
const size = (bytes: number | undefined) => (bytes === undefined ? '?' : `${(bytes / 1048576).toFixed(1)} MiB`);
const table = (rows: string[][]) => {
  const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  return rows.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}`.trimEnd());
};

/** The status as text: hosts, nodes, etcd with its leader, leader-election leases, tokens, then what is wrong. */
export function formatStatus(status: ClusterStatus): string {
  const now = new Date(status.time);
  const { problems, notes } = evaluate(status, now);
  const out: string[] = [];
  const verdict =
    problems.length === 0 ? 'healthy' : `DEGRADED (${problems.length} problem${problems.length === 1 ? '' : 's'})`;
  out.push(`cluster status at ${status.time}: ${verdict}`, '', 'HOSTS');
  out.push(
    ...table(
      status.hosts.map((h) => {
        if (!h.reachable) return [h.name, h.address, h.roles.join(','), 'UNREACHABLE'];
        const cert = earliestExpiry(h);
        return [
          h.name,
          h.address,
          h.roles.join(','),
          `kubelet ${h.kubelet?.active ?? '?'} ${h.kubelet?.version ?? ''}`.trim(),
          `containerd ${h.containerd?.active ?? '?'} ${h.containerd?.version ?? ''}`.trim(),
          cert ? `certs until ${until(cert.notAfter, now)}` : '',
        ];
      }),
    ),
  );
  for (const h of status.hosts.filter((x) => x.reachable && x.roles.includes('control-plane'))) {
    const pods = (h.staticPods ?? []).map((p) => {
      const ready = p.ready === undefined ? '' : p.ready ? ' ready' : ' NOT ready';
      return `${p.name} ${p.state.replace(/^CONTAINER_/, '').toLowerCase()}${ready}`;
    });
    const readyz = h.readyz ? `/readyz ${h.readyz.status || 'no answer'}` : '/readyz not asked (no saved admin.conf)';
    out.push(`  ${h.name}: ${[...pods, readyz].join(', ')}`);
  }
  if (status.api) {
    out.push('', `NODES (API through ${status.api.via})`);
    out.push(
      ...table(
        status.api.nodes.map((n) => [
          n.name,
          n.ready ? 'Ready' : 'NotReady',
          n.kubeletVersion ?? '',
          n.runtimeVersion ?? '',
          n.unschedulable ? 'SchedulingDisabled' : '',
        ]),
      ),
    );
  }
  if (status.etcd?.reached) {
    const leader = status.etcd.members.find((m) => m.leader);
    out.push('', `ETCD (leader: ${leader?.name ?? 'none'}${leader?.raftTerm ? `, raft term ${leader.raftTerm}` : ''})`);
    out.push(
      ...table(
        status.etcd.members.map((m) => [
          m.name || '(not started)',
          m.id,
          m.peerUrl,
          m.learner ? 'learner' : m.leader ? 'voter, leader' : 'voter',
          m.answered ? `raft index ${m.raftIndex ?? '?'}` : 'NO ANSWER',
          m.answered ? `db ${size(m.dbSizeBytes)}` : '',
        ]),
      ),
    );
    for (const a of status.etcd.alarms) out.push(`  alarm ${a.alarm} on member ${a.memberId}`);
  }
  if (status.api) {
    out.push('', 'LEADER ELECTION');
    out.push(
      ...table(
        status.api.leases.map((l) => [
          l.name,
          l.holder ?? '(none)',
          `renewed ${ago(l.renewTime, now)}`,
          `lease ${l.leaseDurationSeconds ?? '?'}s`,
          `${l.transitions ?? 0} transitions`,
          leaseExpired(l, now) ? 'EXPIRED' : '',
        ]),
      ),
    );
    out.push('', 'BOOTSTRAP TOKENS');
    if (status.api.tokens.length === 0) out.push('  (none)');
    out.push(
      ...table(
        status.api.tokens.map((t) => [
          t.id,
          t.expiration ? `expires ${t.expiration}` : 'never expires',
          t.usages.join(','),
          t.description ?? '',
        ]),
      ),
    );
  }
  if (problems.length > 0) out.push('', 'PROBLEMS', ...problems.map((p) => `  - ${p}`));
  if (notes.length > 0) out.push('', 'NOTES', ...notes.map((n) => `  - ${n}`));
  return `${out.join('\n')}\n`;
}
