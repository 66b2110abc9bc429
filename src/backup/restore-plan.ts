import { shq } from '../ssh/quote.js';
import { ETCD_DATA_DIR, KUBERNETES_DIR } from '../kubeadm/constants.js';

/** Where a restore works on a master: the snapshot, the restored data before it moves in, the previous data. */
export const RESTORE_DIR = '/var/lib/kprov/restore';
export const RESTORE_SNAPSHOT = `${RESTORE_DIR}/snapshot.db`;
/** Holds the sha256 of the snapshot whose data is in place: a resumed restore does not restore again. */
export const RESTORED_MARKER = `${RESTORE_DIR}/restored`;
/** The data directory as it was before the latest restore (only the latest is kept). */
export const DATA_BEFORE_RESTORE = `${RESTORE_DIR}/etcd-before-restore`;
/** Static pod manifests held here while the control plane is stopped (kubeadm keeps its backups in tmp too). */
export const HELD_MANIFESTS = `${KUBERNETES_DIR}/tmp/kprov-restore-manifests`;

/** What the kubelet starts last is stopped first; etcd is started before everything that needs it. */
export const STOP_ORDER = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd'] as const;
export const START_AFTER_ETCD = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;

export interface RestoreMember {
  name: string;
  peerUrl: string;
}

/** kubeadm sets no --initial-cluster-token, so its clusters use etcd's default. */
const CLUSTER_TOKEN = 'etcd-cluster';
/**
 * What the Kubernetes documentation asks of a restore: revisions move well past any a client has seen, and the
 * old ones count as compacted, so watches and caches restart rather than miss or repeat events.
 */
const BUMP_REVISION = 1_000_000_000;

/** `etcdutl snapshot restore` arguments for one member of the restored cluster (new cluster ID, same members). */
export function etcdutlRestoreArgs(member: RestoreMember, members: RestoreMember[], dataDir: string): string[] {
  if (!members.some((m) => m.name === member.name)) throw new Error(`${member.name} is not among the members`);
  return [
    'etcdutl',
    'snapshot',
    'restore',
    RESTORE_SNAPSHOT,
    `--data-dir=${dataDir}`,
    `--name=${member.name}`,
    `--initial-cluster=${members.map((m) => `${m.name}=${m.peerUrl}`).join(',')}`,
    `--initial-cluster-token=${CLUSTER_TOKEN}`,
    `--initial-advertise-peer-urls=${member.peerUrl}`,
    `--bump-revision=${BUMP_REVISION}`,
    '--mark-compacted',
  ];
}

const RESTORE_CONTAINER = 'kprov-etcd-restore';

/**
 * Shell, as root on a master whose etcd is stopped: run etcdutl from the cluster's own etcd image (containerd's
 * ctr, so nothing is installed), then swap the restored data in, keeping the previous data beside it, and
 * record which snapshot is now in place. A leftover container from an interrupted run is removed first.
 */
export function restoreDataScript(image: string, member: RestoreMember, members: RestoreMember[], sha256: string) {
  const fresh = `${RESTORE_DIR}/etcd-restored`;
  const args = etcdutlRestoreArgs(member, members, fresh).map(shq).join(' ');
  return [
    'set -e',
    `ctr -n k8s.io tasks kill -s SIGKILL ${RESTORE_CONTAINER} >/dev/null 2>&1 || true`,
    `ctr -n k8s.io containers rm ${RESTORE_CONTAINER} >/dev/null 2>&1 || true`,
    `rm -rf ${fresh}`,
    `ctr -n k8s.io run --rm --mount type=bind,src=${RESTORE_DIR},dst=${RESTORE_DIR},options=rbind:rw ` +
      `${shq(image)} ${RESTORE_CONTAINER} ${args}`,
    // The data directory is often a mount of its own (a dedicated disk): its contents move, never the directory.
    `if [ -e ${ETCD_DATA_DIR}/member ]; then rm -rf ${DATA_BEFORE_RESTORE}; mkdir -p ${DATA_BEFORE_RESTORE}; ` +
      `mv ${ETCD_DATA_DIR}/member ${DATA_BEFORE_RESTORE}/; fi`,
    `mkdir -p ${ETCD_DATA_DIR}`,
    `chmod 700 ${ETCD_DATA_DIR}`,
    `mv ${fresh}/member ${ETCD_DATA_DIR}/member`,
    `rm -rf ${fresh}`,
    `echo ${shq(sha256)} > ${RESTORED_MARKER}`,
  ].join('\n');
}
