import { HostError } from '../../errors/index.js';
import type { ConfigMap } from '../../kube/types.js';
import { verifyClusterInfo } from '../../kubeadm/discovery.js';
import { bootstrapKubeconfig } from '../../kubeadm/kubeconfig.js';
import { formatToken } from '../../kubeadm/token.js';
import {
  KUBELET_CONFIG,
  KUBELET_INSTANCE_CONFIG,
  KUBELET_DROPIN,
  KUBELET_FLAGS_ENV,
  KUBERNETES_DIR,
  PKI_DIR,
} from '../../kubeadm/constants.js';
import type { Phase } from '../phase.js';
import { waitUntil } from '../../util/wait.js';
import { filesFor, type ClusterRun } from './run.js';
import { awaitNodeRegistered, awaitTlsBootstrap, ensureKubelet, WAIT } from './waits.js';

/**
 * kubeadm join for workers: bootstrap-token discovery (cluster-info fetched without trust, its JWS checked
 * with the token and its CA checked against the pinned hash, then fetched again over verified TLS), then the
 * kubelet's TLS bootstrap. Hosts whose kubelet already has kubelet.conf are left alone.
 */
export function joinPhase(run: ClusterRun): Phase {
  return {
    title: 'Join nodes',
    select: (ctx) => ctx.hosts.filter((h) => !h.failed && !h.spec.controlPlane),
    async runHost(host, ctx) {
      const node = run.nodes[host.spec.nodeName];
      const joined = await host.sudo(
        `[ -f ${KUBERNETES_DIR}/kubelet.conf ] && systemctl is-active kubelet >/dev/null && echo joined || true`,
        { step: 'inspect kubelet' },
      );
      const kubeletFiles = filesFor(run, host).filter((f) =>
        [KUBELET_CONFIG, KUBELET_INSTANCE_CONFIG, KUBELET_FLAGS_ENV, KUBELET_DROPIN].includes(f.path),
      );
      if (joined.stdout.includes('joined')) {
        const changed = await host.ensureFiles(kubeletFiles);
        await ensureKubelet(host, changed);
        return;
      }
      if (host.dryRun) {
        host.plan(`join the cluster at ${run.plan.endpoint} (bootstrap token ${run.plan.token.id})`);
        return;
      }
      const api = run.access.api(host, 'join');
      // Discovery exactly as kubeadm does it: trust nothing until the token's signature and the CA pin check out.
      const anonymous = run.access.discoveryClient(host, { insecure: true });
      // The bootstrap signer adds the token's signature shortly after the token Secret is created.
      const info = await waitUntil({
        what: `cluster-info signed for token ${run.plan.token.id}`,
        ...WAIT,
        everyMs: 3000,
        check: async () => {
          const cm = await anonymous.get<ConfigMap>('/api/v1/namespaces/kube-public/configmaps/cluster-info');
          if (!cm?.data?.[`jws-kubeconfig-${run.plan.token.id}`]) throw new Error('no JWS signature for the token yet');
          return cm.data as Record<string, string>;
        },
      }).catch((err) => {
        throw new HostError(
          host.name,
          `${(err as Error).message}. Check the bootstrap signer: kube-controller-manager logs`,
          { step: 'discovery' },
        );
      });
      const discovered = verifyClusterInfo(info, run.plan.token, [run.plan.caCertHash]);
      const verified = run.access.discoveryClient(host, { caPem: discovered.caPem });
      const again = await verified.get<ConfigMap>('/api/v1/namespaces/kube-public/configmaps/cluster-info');
      if (again?.data?.kubeconfig !== info.kubeconfig)
        throw new HostError(host.name, 'cluster-info changed between the insecure and the verified fetch', {
          step: 'discovery',
        });
      ctx.log.write(
        host.name,
        `discovery: cluster-info verified with token ${run.plan.token.id} and CA pin ${run.plan.caCertHash}`,
      );

      const changed = await host.ensureFiles([
        { path: `${PKI_DIR}/ca.crt`, content: discovered.caPem, mode: 0o644 },
        {
          path: `${KUBERNETES_DIR}/bootstrap-kubelet.conf`,
          content: bootstrapKubeconfig(run.cfg, discovered.server, discovered.caPem, formatToken(run.plan.token)),
          mode: 0o600,
        },
        ...kubeletFiles,
      ]);
      await ensureKubelet(host, [...changed, KUBELET_CONFIG]);
      await awaitTlsBootstrap(host, ctx.log);
      await awaitNodeRegistered(api, host, node.name, ctx.log);
      run.joined.push(host.name);
    },
  };
}
