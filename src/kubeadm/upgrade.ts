/**
 * kubeadm's upgrade rules and plan, as pure functions: which versions may follow which, and what changes per node
 * and per component (what `kubeadm upgrade plan` prints). The actions layer reads the cluster; this decides.
 */
import { compareVersions, minorOf, releaseOf } from './versions.js';

/** The control-plane static pods, in the order kubeadm replaces them on a master. */
export const CONTROL_PLANE_ORDER = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export type ControlPlaneComponent = (typeof CONTROL_PLANE_ORDER)[number];

/** What runs now, as read from the hosts and the API. Versions are image tags ("v1.36.3", "3.6.8-0"). */
export interface ClusterVersions {
  /** kubeadm-config's ClusterConfiguration.kubernetesVersion. */
  cluster: string;
  /** Per master, per static pod: the image tag its manifest names (absent: no manifest). */
  masters: Record<string, Partial<Record<ControlPlaneComponent, string>>>;
  /** Per node: the kubelet version the node reports. */
  kubelets: Record<string, string>;
  kubeProxy?: string;
  coredns?: string;
}

/** One line of the plan: a component on a node (or cluster-wide when node is empty) moving from one tag to another. */
export interface PlanRow {
  component: string;
  node: string;
  current: string;
  target: string;
}

/**
 * kubeadm's version rules (cmd/kubeadm/app/phases/upgrade/policy.go): no downgrade, no skipped minor, and the
 * target must be a release kprov supports. The cluster's current version is the oldest control-plane component,
 * so a run interrupted half way is judged by what is still old.
 */
export function upgradeProblem(current: ClusterVersions, target: string): string | undefined {
  const controlPlane = Object.values(current.masters).flatMap((m) =>
    Object.entries(m)
      .filter(([c]) => c !== 'etcd')
      .map(([, v]) => v),
  );
  const oldest = [current.cluster, ...controlPlane].filter(Boolean).sort(compareVersions)[0];
  const newest = [current.cluster, ...controlPlane].filter(Boolean).sort(compareVersions).pop()!;
  if (compareVersions(target, newest) < 0) {
    return `the cluster runs ${newest}; ${target} would be a downgrade, which kprov (like kubeadm) refuses`;
  }
  if (minorOf(target) > minorOf(oldest) + 1) {
    const next = `v1.${minorOf(oldest) + 1}`;
    return (
      `the cluster runs ${oldest}; upgrades go one minor at a time (${oldest} -> ${next} -> ...), ` +
      `so upgrade to a ${next} release first`
    );
  }
  const tooNew = Object.entries(current.kubelets).filter(([, v]) => compareVersions(v, target) > 0);
  if (tooNew.length > 0) {
    return `kubelets newer than ${target}: ${tooNew.map(([n, v]) => `${n} (${v})`).join(', ')}`;
  }
  return undefined;
}

/** The image tag each control-plane component has at a Kubernetes version. */
export function targetTags(target: string): Record<ControlPlaneComponent, string> {
  const { etcd } = releaseOf(target);
  return { etcd, 'kube-apiserver': target, 'kube-controller-manager': target, 'kube-scheduler': target };
}

/**
 * etcd moves only forward: kubeadm keeps a newer etcd than the target's (SupportedEtcdVersion), and an etcd
 * data directory cannot go back a minor.
 */
export function etcdTarget(current: string | undefined, target: string): string {
  const wanted = releaseOf(target).etcd;
  if (!current) return wanted;
  return compareVersions(current.replace(/-\d+$/, ''), wanted.replace(/-\d+$/, '')) > 0 ? current : wanted;
}

/** Every component and node that differs from the target, in the order the upgrade takes them. */
export function upgradePlan(current: ClusterVersions, target: string): PlanRow[] {
  const rows: PlanRow[] = [];
  const tags = targetTags(target);
  for (const [node, components] of Object.entries(current.masters)) {
    for (const component of CONTROL_PLANE_ORDER) {
      const now = components[component];
      const want = component === 'etcd' ? etcdTarget(now, target) : tags[component];
      if (now !== want) rows.push({ component, node, current: now ?? '(none)', target: want });
    }
  }
  const { coredns } = releaseOf(target);
  if (current.kubeProxy !== target)
    rows.push({ component: 'kube-proxy', node: '', current: current.kubeProxy ?? '(none)', target });
  if (current.coredns !== coredns)
    rows.push({ component: 'CoreDNS', node: '', current: current.coredns ?? '(none)', target: coredns });
  for (const [node, version] of Object.entries(current.kubelets)) {
    if (version !== target) rows.push({ component: 'kubelet', node, current: version, target });
  }
  return rows;
}

/** `kubeadm upgrade plan`'s table: COMPONENT, NODE, CURRENT, TARGET, aligned. */
export function formatPlan(current: ClusterVersions, target: string, rows: PlanRow[]): string {
  const lines = [`Cluster version: ${current.cluster}`, `Target version:  ${target}`, ''];
  if (rows.length === 0) return `${lines.join('\n')}Nothing to upgrade: every component runs ${target}.\n`;
  const table = [
    ['COMPONENT', 'NODE', 'CURRENT', 'TARGET'],
    ...rows.map((r) => [r.component, r.node, r.current, r.target]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  for (const row of table)
    lines.push(
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('   ')
        .trimEnd(),
    );
  return `${lines.join('\n')}\n`;
}
