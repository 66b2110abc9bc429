/**
 * The Kubernetes releases kprov installs, as data: one entry per supported minor with the component versions
 * upstream kubeadm of that minor pins (cmd/kubeadm/app/constants/constants.go at the release's tag:
 * DefaultEtcdVersion, CoreDNSVersion, PauseVersion). Everything version-dependent reads this table; see
 * docs/kubernetes-versions.md for what changed between minors and the evidence.
 */
export interface Release {
  /** The patch release kprov is built and tested against (the e2e harness builds exactly this one). */
  tested: string;
  etcd: string;
  coredns: string;
  pause: string;
}

export const RELEASES: Readonly<Record<number, Release>> = {
  35: { tested: 'v1.35.4', etcd: '3.6.6-0', coredns: 'v1.13.1', pause: '3.10.1' },
  36: { tested: 'v1.36.3', etcd: '3.6.8-0', coredns: 'v1.14.2', pause: '3.10.2' },
  37: { tested: 'v1.37.2', etcd: '3.7.0-0', coredns: 'v1.14.6', pause: '3.10.2' },
};

export const SUPPORTED_MINORS: readonly number[] = Object.keys(RELEASES)
  .map(Number)
  .sort((a, b) => a - b);
const NEWEST = SUPPORTED_MINORS[SUPPORTED_MINORS.length - 1];
export const DEFAULT_KUBERNETES_VERSION = RELEASES[NEWEST].tested;

/** "v1.37.2" -> 37 (the version must look like vMAJOR.MINOR.PATCH). */
export function minorOf(version: string): number {
  return Number(version.replace(/^v/, '').split('.')[1]);
}

/** "v1.35, v1.36 and v1.37" */
export function supportedList(): string {
  const names = SUPPORTED_MINORS.map((m) => `v1.${m}`);
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** The pinned component versions of a supported version's minor (versions were validated at load). */
export function releaseOf(version: string): Release {
  const release = RELEASES[minorOf(version)];
  if (!release) throw new Error(`Kubernetes ${version} is not a supported release (${supportedList()})`);
  return release;
}

/** Parsed "vX.Y.Z" for ordering versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split('.').map(Number);
  const pb = b.replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
