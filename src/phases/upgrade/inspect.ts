import type { Host } from '../../host/host.js';
import type { ClusterAccess } from '../../kube/cluster-access.js';
import type { KubeClient } from '../../kube/client.js';
import { readyCondition, type List, type Node } from '../../kube/types.js';
import { nodeConfigFrom } from '../../kubeadm/config.js';
import { MANIFESTS_DIR } from '../../kubeadm/constants.js';
import { CONTROL_PLANE_ORDER, type ClusterVersions, type ControlPlaneComponent } from '../../kubeadm/upgrade.js';
import { parse } from 'yaml';
import type { Phase } from '../phase.js';
import { waitUntil } from '../../util/wait.js';
import { logProgress } from '../cluster/waits.js';

/** What upgrade's preflight learned: versions, and what stands in the way (each a sentence). */
export interface ClusterInspection {
  versions: ClusterVersions;
  problems: string[];
  /** Per host: MiB free where containerd keeps images. */
  freeMiB: Record<string, number>;
}

/** The image tag ("v1.36.3") of an image reference. */
export const tagOf = (image: string | undefined) => image?.slice(image.lastIndexOf(':') + 1);

/** Per static pod: the image tag its manifest on this master names. */
export async function manifestTags(host: Host): Promise<Partial<Record<ControlPlaneComponent, string>>> {
  const tags: Partial<Record<ControlPlaneComponent, string>> = {};
  const r = await host.sudo(
    CONTROL_PLANE_ORDER.map((c) => `echo "== ${c}"; cat ${MANIFESTS_DIR}/${c}.yaml 2>/dev/null`).join('; ') + '; true',
    { step: 'read static pod manifests' },
  );
  for (const part of r.stdout.split(/^== /m).slice(1)) {
    const [component, ...body] = part.split('\n');
    const pod = parse(body.join('\n')) as { spec?: { containers?: { image?: string }[] } } | null;
    const tag = tagOf(pod?.spec?.containers?.[0]?.image);
    if (tag) tags[component as ControlPlaneComponent] = tag;
  }
  return tags;
}

interface Workload {
  spec?: { template?: { spec?: { containers?: { image?: string }[] } } };
}
const imageTagOf = (w: Workload | undefined) => tagOf(w?.spec?.template?.spec?.containers?.[0]?.image);

/** The cluster's version as recorded in kubeadm-config (ClusterConfiguration.kubernetesVersion). */
export async function recordedVersion(api: KubeClient): Promise<string | undefined> {
  const cm = await api.get<{ data?: Record<string, string> }>(
    '/api/v1/namespaces/kube-system/configmaps/kubeadm-config',
  );
  const config = parse(cm?.data?.ClusterConfiguration ?? '') as { kubernetesVersion?: string } | null;
  return config?.kubernetesVersion;
}

/**
 * upgrade's preflight, read-only: every host reachable, every node Ready, etcd healthy with every member a voter,
 * free disk for the new images, and the versions of every component (manifests on the masters, nodes, addons).
 */
export function inspectPhase(access: ClusterAccess, found: ClusterInspection, neededMiB: number): Phase {
  return {
    title: 'Inspect the cluster',
    async runAll(hosts, ctx) {
      const masters = hosts.filter((h) => h.spec.controlPlane);
      if (masters.length === 0) {
        found.problems = ['no control-plane host is reachable'];
        return new Map();
      }
      access.useMaster(masters[0], nodeConfigFrom(masters[0].spec).advertiseAddress, ctx.log);
      // A run resumed right after an interrupted one meets components restarting: wait while the picture changes,
      // and give up (listing what stands in the way) once it has stayed the same for a minute.
      await waitUntil({
        what: 'a cluster fit to upgrade',
        stallMs: 60_000,
        deadlineMs: 5 * 60_000,
        everyMs: 5000,
        check: async () => {
          await inspectOnce(access, masters[0], masters, hosts, found, neededMiB).catch((err) => {
            found.problems.push(`the cluster API through ${masters[0].name}: ${(err as Error).message}`);
          });
          if (found.problems.length > 0) throw new Error(found.problems.join('; '));
          return true;
        },
        onChange: logProgress(ctx.log, masters[0], 'a cluster fit to upgrade'),
      }).catch(() => undefined);
      return new Map();
    },
  };
}

async function inspectOnce(
  access: ClusterAccess,
  via: Host,
  masters: Host[],
  hosts: Host[],
  found: ClusterInspection,
  neededMiB: number,
): Promise<void> {
  found.problems = [];
  found.versions = { cluster: '', masters: {}, kubelets: {} };
  const api = access.api(via, 'inspect');
  found.versions.cluster = (await recordedVersion(api)) ?? '';
  for (const m of masters) found.versions.masters[m.spec.nodeName] = await manifestTags(m);
  const nodes = (await api.get<List<Node>>('/api/v1/nodes'))?.items ?? [];
  for (const n of nodes) {
    found.versions.kubelets[n.metadata.name] = n.status?.nodeInfo?.kubeletVersion ?? '';
    if (readyCondition(n)?.status !== 'True') found.problems.push(`node ${n.metadata.name} is not Ready`);
  }
  for (const h of hosts.filter((x) => !nodes.some((n) => n.metadata.name === x.spec.nodeName))) {
    found.problems.push(`${h.name} is in the inventory but not a node of the cluster: run kprov join first`);
  }
  found.versions.kubeProxy = imageTagOf(
    await api.get<Workload>('/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy'),
  );
  found.versions.coredns = imageTagOf(
    await api.get<Workload>('/apis/apps/v1/namespaces/kube-system/deployments/coredns'),
  );
  const etcd = access.etcd(via, 'inspect etcd');
  for (const m of (await etcd.members()).filter((x) => x.isLearner)) {
    found.problems.push(`etcd member ${m.name || m.peerURLs?.[0]} is a learner (a join did not finish)`);
  }
  for (const p of await etcd.unhealthyVoters()) found.problems.push(`etcd member ${p}`);
  for (const h of hosts) {
    const r = await h.sudo('df -Pm /var/lib/containerd 2>/dev/null || df -Pm /var/lib', { step: 'check disk' });
    const free = Number(r.stdout.trim().split('\n').pop()?.split(/\s+/)[3]);
    found.freeMiB[h.name] = free;
    if (Number.isFinite(free) && free < neededMiB) {
      found.problems.push(`${h.name} has ${free} MiB free for images, the new images need about ${neededMiB} MiB`);
    }
  }
}
