import { ETCD_PEER_PORT } from './constants.js';

/** An etcd member as its v3 API reports it. IDs are uint64: kept as decimal strings, never as JS numbers. */
export interface EtcdMember {
  ID: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

export const peerUrlOf = (address: string) =>
  `https://${address.includes(':') ? `[${address}]` : address}:${ETCD_PEER_PORT}`;

/** The member that owns this peer URL, if any (a joining member has no name until it starts). */
export function memberByPeerUrl(members: EtcdMember[], peerUrl: string): EtcdMember | undefined {
  return members.find((m) => m.peerURLs?.includes(peerUrl));
}

/**
 * --initial-cluster for a member joining an existing cluster, as kubeadm builds it from MemberAdd's answer:
 * every started member by its name, and the joining one (not started yet, so nameless) by its own name.
 */
export function initialClusterFor(members: EtcdMember[], self: { name: string; peerUrl: string }): string {
  const entries: string[] = [];
  for (const m of members) {
    const urls = m.peerURLs ?? [];
    if (urls.includes(self.peerUrl)) {
      entries.push(`${self.name}=${self.peerUrl}`);
      continue;
    }
    // A nameless member other than us has never started: it is not part of the cluster's quorum yet.
    if (!m.name) continue;
    for (const url of urls) entries.push(`${m.name}=${url}`);
  }
  if (!entries.some((e) => e.startsWith(`${self.name}=`))) entries.push(`${self.name}=${self.peerUrl}`);
  return entries.join(',');
}

/**
 * The --initial-cluster flag of an etcd static pod manifest already on a host (kept on re-runs: etcd ignores it
 * once started, so changing it would only restart etcd).
 */
export function initialClusterInManifest(manifestYaml: string): string | undefined {
  return /--initial-cluster=([^\s"']+)/.exec(manifestYaml)?.[1];
}
