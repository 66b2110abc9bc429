import { HostError } from '../errors/index.js';
import { SshConnection, type Endpoint } from '../ssh/connection.js';
import type { Host } from '../host/host.js';
import {
  parseFacts,
  FACTS_SCRIPT,
  hostProblems,
  duplicateIdentities,
  IPV6_NETWORK_SCRIPT,
  ipv6NodeProblems,
} from '../host/facts.js';
import type { Phase, RunContext } from './phase.js';

/** Jump-host connections are shared by the hosts behind the same bastion that trust it the same way. */
const jumpConnections = new WeakMap<RunContext, Map<string, Promise<SshConnection>>>();

export async function jumpFor(host: Host, ctx: RunContext): Promise<SshConnection | undefined> {
  const jump = host.spec.jump;
  if (!jump) return undefined;
  let pool = jumpConnections.get(ctx);
  if (!pool) {
    pool = new Map();
    jumpConnections.set(ctx, pool);
  }
  const endpoint: Endpoint = {
    name: `${host.name} (jump ${jump.host})`,
    host: jump.host,
    port: jump.port,
    user: jump.user ?? host.spec.user,
    privateKeyFile: host.spec.privateKeyFile,
    privateKeyPassphrase: process.env.KPROV_SSH_KEY_PASSPHRASE,
    password: undefined,
    knownHostsFile: host.spec.knownHostsFile,
    hostKeyChecking: host.spec.hostKeyChecking,
  };
  // The whole trust policy is the key: a strict host must never ride a connection accepted under accept-new,
  // made with another key, or checked against another known_hosts file.
  const key = JSON.stringify([
    endpoint.user,
    endpoint.host,
    endpoint.port,
    endpoint.privateKeyFile ?? null,
    endpoint.knownHostsFile,
    endpoint.hostKeyChecking,
  ]);
  let conn = pool.get(key);
  if (!conn) {
    const c = new SshConnection(endpoint, ctx.log);
    conn = c.connect({ connectTimeoutMs: ctx.connectTimeoutMs, connectAttempts: 3 }).then(() => c);
    pool.set(key, conn);
  }
  return conn;
}

export function closeJumpConnections(ctx: RunContext): void {
  for (const c of jumpConnections.get(ctx)?.values() ?? []) c.then((conn) => conn.close()).catch(() => {});
}

export const connectPhase: Phase = {
  title: 'Connect over SSH',
  async runHost(host, ctx) {
    const via = await jumpFor(host, ctx).catch((err: HostError) => {
      throw new HostError(host.name, `jump host unreachable: ${err.message}`, { step: 'connect' });
    });
    await host.conn.connect({ connectTimeoutMs: ctx.connectTimeoutMs, connectAttempts: 3, via });
  },
};

export const factsPhase: Phase = {
  title: 'Gather facts',
  async runHost(host) {
    const { stdout } = await host.sudo(FACTS_SCRIPT, { step: 'gather facts', timeoutMs: 60_000 });
    host.facts = parseFacts(stdout);
  },
};

export const validateHostsPhase: Phase = {
  title: 'Validate hosts',
  async runAll(hosts, ctx) {
    const problems = new Map<string, string>();
    for (const h of hosts) {
      const f = h.requireFacts();
      const issues = hostProblems(f);
      if (issues.length > 0) problems.set(h.name, issues.join('; '));
      if (h.spec.controlPlane && (f.cpus < 2 || f.memoryMb < 1700)) {
        ctx.warn(
          `${h.name}: control-plane host has ${f.cpus} CPUs and ${f.memoryMb} MB memory; ` +
            'kubeadm expects at least 2 CPUs and 1700 MB',
        );
      }
      if (f.cgroupVersion === 1) {
        ctx.warn(
          `${h.name}: cgroup v1 host; its kubelet gets failCgroupV1: false (Kubernetes v1.35+ refuses cgroup v1 ` +
            'otherwise, and upstream deprecates it: plan a move to cgroup v2)',
        );
      }
      if (f.criSockets.filter((s) => !s.includes('containerd')).length > 0) {
        ctx.warn(`${h.name}: other container runtimes found (${f.criSockets.join(', ')}); kprov configures containerd`);
      }
    }
    // Dual-stack nodes: their IPv6 address and default routes, read on every such host at once.
    const dualStack = hosts.filter((h) => h.spec.nodeIp6 !== undefined);
    const flannel = ctx.resolved.cluster.cni === 'flannel';
    const ipv6 = await Promise.all(
      dualStack.map(async (h) => {
        const { stdout } = await h.sudo(IPV6_NETWORK_SCRIPT, {
          step: 'inspect IPv6 addresses and routes',
          allowFailure: true,
        });
        return [h.name, ipv6NodeProblems(h.spec.nodeIp6!, stdout, flannel)] as const;
      }),
    );
    for (const [name, issues] of ipv6) {
      if (issues.length > 0) problems.set(name, [problems.get(name), ...issues].filter(Boolean).join('; '));
    }
    const withFacts = hosts.map((h) => ({ name: h.name, facts: h.requireFacts() }));
    for (const [name, problem] of duplicateIdentities(withFacts)) {
      problems.set(name, problems.has(name) ? `${problems.get(name)}; ${problem}` : problem);
    }
    return problems;
  },
};
