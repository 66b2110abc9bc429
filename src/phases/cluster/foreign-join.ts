import { request } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ForeignJoin } from '../../config/foreign-join.js';
import { HostError } from '../../errors/index.js';
import type { Host } from '../../host/host.js';
import {
  bootstrapClient,
  discoverForeignCluster,
  nodeState,
  type DialTo,
  type DiscoveredCluster,
} from '../../kube/foreign-discovery.js';
import { clusterConfigFrom, nodeConfigFrom, type ClusterConfig } from '../../kubeadm/config.js';
import {
  KUBELET_CLIENT_CURRENT,
  KUBELET_CONFIG,
  KUBELET_HEALTHZ_PORT,
  KUBERNETES_DIR,
  PKI_DIR,
} from '../../kubeadm/constants.js';
import {
  foreignKubeletConfig,
  foreignWorkerFiles,
  hostCaProblem,
  kubeletVersionProblem,
  workerVersionFor,
} from '../../kubeadm/foreign.js';
import type { BootstrapToken } from '../../kubeadm/token.js';
import type { Phase, RunContext } from '../phase.js';
import { awaitOnHost, awaitTlsBootstrap, ensureKubelet } from './waits.js';

/**
 * A join to a cluster kprov did not create. Nothing of kprov's own cluster state takes part: no PKI, no admin
 * kubeconfig, no cluster objects. What the hosts know of the cluster comes from the cluster, through each host's
 * own connection to the endpoint, as kubeadm join learns it.
 */
export interface ForeignRun {
  join: ForeignJoin;
  token: BootstrapToken;
  /** What discovery through each host found (by host name). */
  discovered: Map<string, DiscoveredCluster>;
  /** Hosts that are nodes of the cluster already (a kubelet.conf): their kubelet files are kept in step only. */
  alreadyJoined: Set<string>;
  /** The cluster as kprov writes files for it, once its version is known (after the "Cluster version" phase). */
  cfg?: ClusterConfig;
  /** The port of each host's kubelet health endpoint, from the configuration written for it (0: disabled). */
  healthzPorts: Map<string, number>;
  /** Hosts joined in this run. */
  joined: string[];
}

/** Reach host:port the way the joining node does: a tunnel through its own SSH connection. */
const through =
  (host: Host): DialTo =>
  (to, port) =>
    host.conn.forward(to, port);

/**
 * Whether the host is a node already (the kubelet writes kubelet.conf only after its TLS bootstrap; a stopped kubelet
 * is started again by the join), then the cluster CA it trusts, if any.
 */
const isJoinedCommand =
  `[ -f ${KUBERNETES_DIR}/kubelet.conf ] && echo joined || true; ` + `cat ${PKI_DIR}/ca.crt 2>/dev/null || true`;

/**
 * Discovery from every host (read-only, so it runs in a dry run too): cluster-info verified with the token and the
 * CA pin, the cluster's configuration read with the token. A host that trusts another cluster's CA, or whose node
 * name a Ready node already has (kubeadm join's own check), stops here, before anything on it changes.
 */
export function foreignDiscoveryPhase(run: ForeignRun): Phase {
  return {
    title: 'Cluster discovery',
    async runHost(host, ctx) {
      ctx.log.addSecret(run.token.secret);
      const step = { step: 'discovery' };
      const found = await discoverForeignCluster(
        through(host),
        { token: run.token, pins: run.join.caCertHashes, endpoint: run.join.endpoint },
        { onRetry: (what) => ctx.log.write(host.name, `API busy, retrying: ${what}`) },
      ).catch((err: Error) => {
        throw new HostError(host.name, err.message, step);
      });
      const v = found.clusterConfiguration.kubernetesVersion;
      ctx.log.write(
        host.name,
        `discovery: cluster-info from ${run.join.endpoint} verified with token ${run.token.id} and CA pin ` +
          `${found.caCertHash}; API server ${found.server}; the cluster runs ${v}`,
      );
      const inspect = await host.sudo(isJoinedCommand, { step: 'inspect kubelet' });
      const [first, ...rest] = inspect.stdout.split('\n');
      const joined = first.trim() === 'joined';
      const problem = hostCaProblem((joined ? rest : [first, ...rest]).join('\n'), found.caPem);
      if (problem) throw new HostError(host.name, problem, { step: 'cluster identity' });
      if (joined) run.alreadyJoined.add(host.name);
      else {
        // kubeadm join refuses a name a Ready node has: the new kubelet would take that node over.
        const name = host.spec.nodeName;
        const node = await nodeState(bootstrapClient(through(host), found, run.token), name).catch((err: Error) => {
          throw new HostError(host.name, `cannot look up node ${name}: ${err.message}`, step);
        });
        if (node.state === 'ready') {
          throw new HostError(
            host.name,
            `a Ready node named ${name} is already in the cluster: delete it (kubectl delete node ${name}) or ` +
              'give this host another node_name',
            step,
          );
        }
        if (node.state === 'unknown') {
          ctx.log.write(host.name, `the token may not read nodes (no kubeadm:get-nodes?): ${node.message}`);
        }
      }
      run.discovered.set(host.name, found);
    },
  };
}

/**
 * The cluster's version decides the kubelet every host installs (and the pause image containerd pins): the hosts
 * must agree on the cluster they found, and the inventory may not ask for another version. From here on the run's
 * cluster settings carry the cluster's version and image repository.
 */
export function foreignVersionPhase(run: ForeignRun): Phase {
  return {
    title: 'Cluster version',
    async runAll(hosts, ctx) {
      const problems = new Map<string, string>();
      const found = hosts.map((h) => [h, run.discovered.get(h.name)!] as const);
      const [, first] = found[0];
      const differs = found.find(
        ([, f]) =>
          f.caCertHash !== first.caCertHash ||
          f.clusterConfiguration.kubernetesVersion !== first.clusterConfiguration.kubernetesVersion,
      );
      const decision = differs
        ? { problem: `${found[0][0].name} and ${differs[0].name} found different clusters at ${run.join.endpoint}` }
        : workerVersionFor(first.clusterConfiguration.kubernetesVersion, run.join.pinnedVersion);
      if ('problem' in decision) {
        for (const h of hosts) problems.set(h.name, decision.problem);
        return problems;
      }
      const c = first.clusterConfiguration;
      const cluster = {
        ...ctx.resolved.cluster,
        kubernetesVersion: decision.version,
        imageRepository: run.join.pinnedImageRepository ?? c.imageRepository,
        clusterName: c.clusterName,
        dnsDomain: c.dnsDomain,
        serviceCidr: c.serviceSubnet,
        podNetworkCidr: c.podSubnet ?? ctx.resolved.cluster.podNetworkCidr,
      };
      ctx.resolved = { ...ctx.resolved, cluster };
      run.cfg = clusterConfigFrom(cluster);
      ctx.log.write(
        'kprov',
        `the cluster runs ${decision.version}` +
          (run.join.pinnedVersion ? ' (as kubernetes_version says)' : ' (kubernetes_version not set: taken)') +
          `; images from ${cluster.imageRepository}`,
      );
      return problems;
    },
  };
}

/** The version the hosts install, known once the "Cluster version" phase has run. */
export const foreignVersion = (run: ForeignRun) => () => {
  if (!run.cfg) throw new Error('the cluster version is not known yet (the Cluster version phase has not run)');
  return run.cfg.kubernetesVersion;
};

/** kubelet --version on the host; undefined when there is no kubelet yet (a dry run before installing it). */
async function kubeletVersion(host: Host): Promise<string | undefined> {
  const r = await host.sudo('[ -x /usr/bin/kubelet ] && /usr/bin/kubelet --version || true', {
    step: 'kubelet version',
  });
  return r.stdout.trim() || undefined;
}

/**
 * GET http://127.0.0.1:<port>/healthz on the host, through its SSH connection (no curl needed there): true when
 * the kubelet answers "ok" within 10 seconds.
 */
async function kubeletHealthy(host: Host, port: number): Promise<boolean> {
  let stream: Duplex;
  try {
    stream = await host.conn.forward('127.0.0.1', port);
  } catch {
    return false; // nothing listens yet
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), 10_000);
      const req = request({ path: '/healthz', createConnection: () => stream as Socket }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'ok'));
      });
      req.on('error', () => resolve(false));
      req.end();
    });
  } finally {
    clearTimeout(timer);
    stream.destroy();
  }
}

/**
 * kubeadm join's kubelet-start for a worker: the cluster CA and bootstrap-kubelet.conf from the verified
 * cluster-info, the kubelet configuration from the cluster's kubelet-config (with the node's patch), flags and
 * drop-in as kprov writes them for its own workers; then the kubelet starts, its TLS bootstrap is waited for
 * (kubelet.conf, then the bootstrap kubeconfig and its token are removed) and its health endpoint. A host already
 * joined only has its kubelet files kept in step.
 */
export function foreignJoinPhase(run: ForeignRun): Phase {
  return {
    title: 'Join nodes',
    async runHost(host, ctx) {
      const found = run.discovered.get(host.name)!;
      const cfg = run.cfg!;
      const version = cfg.kubernetesVersion;
      const have = await kubeletVersion(host);
      if (have !== undefined || !host.dryRun) {
        const problem = kubeletVersionProblem(have ?? '', version);
        if (problem) throw new HostError(host.name, problem, { step: 'kubelet version' });
      }
      const { config, notes } = (() => {
        try {
          return foreignKubeletConfig(found.kubeletConfig, ctx.resolved.cluster.kubeletConfiguration, {
            criSocket: cfg.criSocket,
            cgroupVersion: host.facts?.cgroupVersion,
          });
        } catch (err) {
          throw new HostError(host.name, (err as Error).message, { step: 'kubelet configuration' });
        }
      })();
      for (const note of notes) ctx.log.write(host.name, `kubelet configuration: ${note}`);
      const port = typeof config.healthzPort === 'number' ? config.healthzPort : KUBELET_HEALTHZ_PORT;
      run.healthzPorts.set(host.name, port);
      const files = foreignWorkerFiles({
        cfg,
        node: nodeConfigFrom(host.spec),
        hostname: host.facts?.hostname,
        server: found.server,
        caPem: found.caPem,
        token: `${run.token.id}.${run.token.secret}`,
        kubeletConfig: config,
      });
      if (run.alreadyJoined.has(host.name)) {
        await ensureKubelet(host, await host.ensureFiles(files.kubelet));
        // A run stopped between the TLS bootstrap and its clean-up left the token on the host.
        const bootstrapConf = files.bootstrap[1].path;
        const left = await host.sudo(`[ -e ${bootstrapConf} ] && echo left || true`, {
          step: 'inspect bootstrap kubeconfig',
        });
        if (left.stdout.includes('left')) {
          await host.change(`remove ${bootstrapConf} (the TLS bootstrap is done)`, () =>
            host.sudo(`rm -f ${bootstrapConf}`, { step: 'remove bootstrap kubeconfig' }),
          );
        }
        return;
      }
      const changed = await host.ensureFiles([...files.bootstrap, ...files.kubelet]);
      await ensureKubelet(host, [...changed, KUBELET_CONFIG]);
      if (host.dryRun) {
        host.plan(`TLS bootstrap with token ${run.token.id} against ${found.server}`);
        return;
      }
      await awaitTlsBootstrap(host, ctx.log);
      if (port > 0) {
        await awaitOnHost(host, ctx.log, {
          what: `the kubelet's health endpoint (127.0.0.1:${port}/healthz)`,
          step: 'kubelet health',
          hint: 'Check: journalctl -u kubelet',
          check: async () => ((await kubeletHealthy(host, port)) ? true : undefined),
        });
      }
      run.joined.push(host.name);
    },
  };
}

/**
 * Every joined node Ready, asked of the API with the bootstrap token (kubeadm's ClusterRole kubeadm:get-nodes lets
 * it get a node by name). A cluster that does not grant that leaves kprov with what it sees on the host: the
 * kubelet's rotated client certificate and its health endpoint (the node registered, Ready not confirmed; logged).
 */
export function foreignReadyPhase(run: ForeignRun, timeoutMs: number): Phase {
  return {
    title: 'Nodes Ready',
    async runHost(host, ctx) {
      if (host.dryRun) return;
      const found = run.discovered.get(host.name)!;
      const name = host.spec.nodeName;
      const api = bootstrapClient(through(host), found, run.token, {
        onRetry: (what) => ctx.log.write(host.name, `API busy, retrying: ${what}`),
      });
      await awaitOnHost(host, ctx.log, {
        what: `node ${name} to be Ready`,
        step: 'node Ready',
        hint: 'Check: journalctl -u kubelet',
        timing: { stallMs: timeoutMs, deadlineMs: timeoutMs, everyMs: 3000 },
        check: async () => {
          const node = await nodeState(api, name);
          if (node.state === 'ready') return true;
          if (node.state === 'unknown') return readyFromHost(host, run.healthzPorts.get(host.name) ?? 0, ctx);
          throw new Error(node.state === 'absent' ? 'not registered yet' : `not Ready yet: ${node.message}`);
        },
      });
    },
  };
}

/** Without leave to read nodes: the kubelet's client certificate (TLS bootstrap done) and its health endpoint. */
async function readyFromHost(host: Host, healthzPort: number, ctx: RunContext): Promise<true> {
  const cert = await host.sudo(`[ -s ${KUBELET_CLIENT_CURRENT} ] && echo yes || true`, { step: 'kubelet cert' });
  if (!cert.stdout.includes('yes')) throw new Error(`no ${KUBELET_CLIENT_CURRENT} yet`);
  if (healthzPort > 0 && !(await kubeletHealthy(host, healthzPort))) throw new Error('the kubelet is not healthy yet');
  ctx.log.write(
    host.name,
    `the bootstrap token may not read node ${host.spec.nodeName}, so Ready was not confirmed: the kubelet is ` +
      `healthy and holds its client certificate (${KUBELET_CLIENT_CURRENT})`,
  );
  return true;
}
