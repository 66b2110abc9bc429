import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { $ } from 'zx';
import { UserError } from '../errors/index.js';
import { ensureLabImage } from './image.js';
import type { CreateNodeInput, DriverNode, ExecResult, LabDriver, LabNetwork } from './driver.js';

const q = $({ quiet: true });

export const DOCKER_LAB_LABEL = 'io.kprov.lab';

/** The container of a lab node, and the prefix of its volumes. */
export const dockerContainerName = (lab: string, node: string) => `kprov-${lab}-${node}`;
export const dockerNetworkName = (lab: string) => `kprov-${lab}`;

/**
 * Flags that make a container behave like a small VM without --privileged (which does not work here):
 * every capability but SYS_RESOURCE, no seccomp/apparmor confinement, writable /proc/sys, its own
 * cgroup namespace, device access for nested runc, and containerd/kubelet state on volumes.
 */
export function vmLikeFlags(lab: string, node: string): string[] {
  const vol = (what: string) => `${dockerContainerName(lab, node)}-${what}`;
  return [
    '--cap-add',
    'ALL',
    '--cap-drop',
    'SYS_RESOURCE',
    '--security-opt',
    'seccomp=unconfined',
    '--security-opt',
    'apparmor=unconfined',
    '--security-opt',
    'systempaths=unconfined',
    '--cgroupns',
    'private',
    '--device-cgroup-rule',
    'a *:* rwm',
    '--device',
    '/dev/kmsg',
    '--tmpfs',
    '/run',
    '--tmpfs',
    '/run/lock',
    '--tmpfs',
    '/tmp',
    '-v',
    `${vol('containerd')}:/var/lib/containerd`,
    '-v',
    `${vol('kubelet')}:/var/lib/kubelet`,
    '-v',
    `${vol('etcd')}:/var/lib/etcd`,
  ];
}

const lines = (s: string) => s.split('\n').filter(Boolean);

/** Lab nodes as containers on the local Docker engine (systemd + sshd, images built locally). */
export class DockerDriver implements LabDriver {
  readonly name = 'docker' as const;
  readonly containerNodes = true;
  readonly bootTimeoutMs = 25_000;

  async ensureReady(): Promise<void> {
    const r = await q({ nothrow: true })`docker info --format {{.ServerVersion}}`;
    if (r.exitCode !== 0)
      throw new UserError(`the lab needs a running Docker engine: ${r.stderr.trim().split('\n').pop()}`);
  }

  sharesHostLimits(): boolean {
    // Only a local engine shares this machine's /proc/sys limits.
    const dockerHost = process.env.DOCKER_HOST;
    return !dockerHost || dockerHost.startsWith('unix://');
  }

  ensureImage(progress: (m: string) => void): Promise<string> {
    return ensureLabImage(progress);
  }

  async createNetwork(lab: string, opts: { ipv6Subnet?: string }): Promise<LabNetwork> {
    const network = dockerNetworkName(lab);
    // Dual-stack: Docker still picks the IPv4 subnet itself; the IPv6 one must be given.
    const ipv6Flags = opts.ipv6Subnet ? ['--ipv6', '--subnet', opts.ipv6Subnet] : [];
    await q`docker network create --label ${`${DOCKER_LAB_LABEL}=${lab}`} ${ipv6Flags} ${network}`;
    return { name: network, ...(opts.ipv6Subnet ? { ipv6Subnet: opts.ipv6Subnet } : {}) };
  }

  async createNode({ lab, dir, network, image, node }: CreateNodeInput): Promise<string> {
    const container = dockerContainerName(lab, node.name);
    // Each node gets its own product_uuid, as separate VMs would (kind does the same).
    // (Only where the machine has DMI at all: a bind mount cannot create directories in /sys.)
    const uuidMount: string[] = [];
    if (existsSync('/sys/class/dmi/id/product_uuid')) {
      const uuidFile = join(dir, `${node.name}.product_uuid`);
      writeFileSync(uuidFile, randomUUID() + '\n');
      uuidMount.push('-v', `${uuidFile}:/sys/class/dmi/id/product_uuid:ro`);
    }
    // zx passes each array element as one argument, quoted as it would quote a single ${value}.
    const names = [
      '--name',
      container,
      '--hostname',
      node.name,
      '--network',
      network.name,
      '--label',
      `${DOCKER_LAB_LABEL}=${lab}`,
    ];
    // Docker leaves IPv6 disabled in a container's all/default settings even on an IPv6 network (only eth0 gets it),
    // so the interfaces the cluster creates later (flannel's vxlan device, the cni0 bridge) could not take an IPv6
    // address: "IPv6 is disabled on this device".
    const ipv6Sysctls = network.ipv6Subnet
      ? ['--sysctl', 'net.ipv6.conf.all.disable_ipv6=0', '--sysctl', 'net.ipv6.conf.default.disable_ipv6=0']
      : [];
    await q`docker run -d ${names} ${vmLikeFlags(lab, node.name)} ${ipv6Sysctls} ${uuidMount} ${image}`;
    return container;
  }

  async address(id: string, network: LabNetwork): Promise<{ ip: string; ip6?: string }> {
    const ip = (
      await q`docker inspect -f ${'{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}'} ${id}`
    ).stdout.trim();
    if (!network.ipv6Subnet) return { ip };
    const ip6 = (
      await q`docker inspect -f ${'{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}'} ${id}`
    ).stdout.trim();
    if (!ip6) throw new UserError(`lab node ${id} got no IPv6 address on ${network.name}`);
    return { ip, ip6 };
  }

  async exec(id: string, script: string, input?: string): Promise<ExecResult> {
    const r =
      input === undefined
        ? await q({ nothrow: true })`docker exec ${id} sh -c ${script}`
        : await q({ nothrow: true, input })`docker exec -i ${id} sh -c ${script}`;
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  async logs(id: string): Promise<string> {
    const r = await q({ nothrow: true })`docker logs --tail 50 ${id}`;
    return `${r.stdout}${r.stderr}`;
  }

  logsHint(id: string): string {
    return `docker logs ${id}`;
  }

  async stop(id: string): Promise<void> {
    await q`docker stop ${id}`;
  }

  async start(id: string): Promise<void> {
    await q`docker start ${id}`;
  }

  async pause(id: string): Promise<void> {
    await q`docker pause ${id}`;
  }

  async unpause(id: string): Promise<void> {
    await q`docker unpause ${id}`;
  }

  async destroy(lab: string): Promise<void> {
    const ids = lines((await q`docker ps -aq --filter ${`label=${DOCKER_LAB_LABEL}=${lab}`}`).stdout);
    if (ids.length > 0) await q`docker rm -f -v ${ids}`;
    const volumes = lines((await q`docker volume ls -q --filter ${`name=kprov-${lab}-`}`).stdout);
    if (volumes.length > 0) await q`docker volume rm -f ${volumes}`;
    const networks = lines((await q`docker network ls -q --filter ${`label=${DOCKER_LAB_LABEL}=${lab}`}`).stdout);
    if (networks.length > 0) await q`docker network rm ${networks}`;
  }

  async list(lab?: string): Promise<DriverNode[]> {
    const filter = lab === undefined ? DOCKER_LAB_LABEL : `${DOCKER_LAB_LABEL}=${lab}`;
    const format = `{{.Names}}\t{{.State}}\t{{.Label "${DOCKER_LAB_LABEL}"}}`;
    const r = await q({ nothrow: true })`docker ps -a --filter ${`label=${filter}`} --format ${format}`;
    if (r.exitCode !== 0) return [];
    return lines(r.stdout).map((l) => {
      const [id, state, owner] = l.split('\t');
      // As docker ps without -a counts them: a paused container is still up.
      return { id, running: ['running', 'paused', 'restarting'].includes(state), lab: owner };
    });
  }
}
