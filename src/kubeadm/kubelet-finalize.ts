import { parse, stringify } from 'yaml';
import { KUBELET_CLIENT_CURRENT } from './constants.js';

/**
 * kubeadm's kubelet-finalize: the first control-plane node's kubelet.conf starts with a client certificate
 * embedded by init (it cannot use the bootstrap token before the cluster exists); once the kubelet has its own
 * rotatable pair, kubelet.conf points at it, so the node's credentials renew themselves instead of expiring with
 * the embedded certificate a year later. Returns undefined when kubelet.conf already refers to a file.
 */
export function finalizedKubeletConf(kubeletConf: string): string | undefined {
  const doc = parse(kubeletConf) as { users?: { name: string; user: Record<string, string> }[] };
  const user = doc.users?.[0]?.user;
  if (!user?.['client-certificate-data']) return undefined;
  doc.users![0].user = { 'client-certificate': KUBELET_CLIENT_CURRENT, 'client-key': KUBELET_CLIENT_CURRENT };
  return stringify(doc);
}
