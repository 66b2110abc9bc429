import { X509Certificate } from 'node:crypto';
import { type CertExpiry, type ContainerState, CONTROL_PLANE_COMPONENTS } from './model.js';

/**
 * One read-only remote script per host: service states and versions, the control plane's containers (crictl,
 * as JSON), and every certificate kprov or the kubelet placed (only certificates are read, never keys: for
 * kubeconfigs the client-certificate-data line, for the kubelet's rotated pair the CERTIFICATE block).
 */
export const HOST_PROBE_SCRIPT = [
  'echo "kubelet_active=$(systemctl is-active kubelet 2>/dev/null)"',
  'echo "containerd_active=$(systemctl is-active containerd 2>/dev/null)"',
  'echo "kubelet_version=$(kubelet --version 2>/dev/null | awk \'{print $2}\')"',
  'echo "containerd_version=$(containerd --version 2>/dev/null | awk \'{print $3}\')"',
  // containerd's own client (crictl is not always installed): a component runs when one of its containers has
  // a RUNNING task; containers without one have exited.
  'if [ -d /etc/kubernetes/manifests ] && command -v ctr >/dev/null; then',
  '  tasks=$(ctr -n k8s.io tasks ls 2>/dev/null)',
  `  for c in ${CONTROL_PLANE_COMPONENTS.join(' ')}; do`,
  '    st=missing',
  '    for id in $(ctr -n k8s.io containers ls -q "labels.\\"io.kubernetes.container.name\\"==$c" 2>/dev/null); do',
  '      t=$(echo "$tasks" | awk -v id="$id" \'$1 == id {print $3}\')',
  '      if [ "$t" = RUNNING ]; then st=RUNNING; elif [ "$st" = missing ]; then st=EXITED; fi',
  '    done',
  '    echo "static_pod $c $st"',
  '  done',
  'fi',
  'for f in $(find /etc/kubernetes/pki -name "*.crt" 2>/dev/null | sort); do echo "cert $f $(base64 -w0 < "$f")"; done',
  'for k in /etc/kubernetes/*.conf; do',
  '  [ -f "$k" ] || continue',
  '  d=$(grep -m1 "client-certificate-data:" "$k" | awk \'{print $2}\'); [ -n "$d" ] && echo "cert $k $d"',
  'done',
  'f=/var/lib/kubelet/pki/kubelet-client-current.pem',
  '[ -f $f ] && echo "cert $f $(sed -n "/BEGIN CERTIFICATE/,/END CERTIFICATE/p" $f | base64 -w0)"',
  'true',
].join('\n');

export interface HostProbe {
  kubelet: { active: string; version?: string };
  containerd: { active: string; version?: string };
  /** Whether each control-plane component runs (only on hosts with static pods). */
  staticPods?: ContainerState[];
  certificates: CertExpiry[];
  /** Files that could not be read as certificates. */
  unreadable: string[];
}

export function parseHostProbe(output: string): HostProbe {
  const value = (key: string) => output.match(new RegExp(`^${key}=(.*)$`, 'm'))?.[1]?.trim() ?? '';
  const certificates: CertExpiry[] = [];
  const unreadable: string[] = [];
  for (const line of output.split('\n').filter((l) => l.startsWith('cert '))) {
    const [, path, b64] = line.split(' ');
    try {
      const cert = new X509Certificate(Buffer.from(b64 ?? '', 'base64'));
      const issuer = /^CN=(.*)$/m.exec(cert.issuer)?.[1];
      certificates.push({ path, notAfter: new Date(cert.validTo).toISOString(), issuer });
    } catch {
      unreadable.push(path);
    }
  }
  const pods = [...output.matchAll(/^static_pod (\S+) (\S+)$/gm)];
  return {
    kubelet: { active: value('kubelet_active') || 'unknown', version: value('kubelet_version') || undefined },
    containerd: { active: value('containerd_active') || 'unknown', version: value('containerd_version') || undefined },
    staticPods:
      pods.length > 0
        ? pods.map(([, name, state]) => ({ name, state: state === 'missing' ? 'missing' : `CONTAINER_${state}` }))
        : undefined,
    certificates,
    unreadable,
  };
}
