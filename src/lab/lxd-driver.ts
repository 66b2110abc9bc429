import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, copyFileSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';
import { UserError } from '../errors/index.js';
import { commandMessage } from './driver.js';
import { hostIpv4InUse } from './host-networks.js';
import type { CreateNodeInput, DriverNode, ExecResult, LabDriver, LabNetwork, NetworkOptions } from './driver.js';
import {
  LXD_DEFAULT_POOL,
  LXD_IMAGE_ALIAS,
  LXD_IMAGE_FILES,
  LXD_IMAGE_MASKED,
  LXD_IMAGE_PACKAGES,
  LXD_LAB_KEY,
  LXD_NODE_KEY,
  LXD_TEMPLATES,
  lxdBridgeConfig,
  lxdBridgeName,
  lxdDockerUserRules,
  lxdImageMetadata,
  lxdInstanceName,
  lxdNodeAddress,
  lxdPreseed,
  lxdProfile,
  lxdProfileName,
  lxdRuleComment,
  pickLxdSubnet,
} from './lxd-config.js';

// No stdin unless input is given: lxc init and others wait to read a YAML config from a stdin that is not a terminal.
const q = $({ quiet: true, stdio: ['ignore', 'pipe', 'pipe'] });
/** For the commands that are given a stdin. */
const qin = $({ quiet: true });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (s: string) => s.split('\n').filter(Boolean);

/** Where kprov's own LXD daemon logs when kprov started it. */
export const LXD_DAEMON_LOG = '/var/log/lxd/kprov-lxd.log';

interface LxdInstance {
  name: string;
  status: string;
  config: Record<string, string>;
  state?: { network?: Record<string, { addresses?: { family: string; address: string }[] }> };
}

/**
 * Lab nodes as privileged LXD system containers, the classic tutorial's way, on a bridge of their own. LXD comes
 * from Debian's package; kprov starts and initialises the daemon when it is installed but not running (no systemd
 * here), builds the node image locally (no image server is reachable) and keeps it in LXD's image store.
 */
export class LxdDriver implements LabDriver {
  readonly name = 'lxd' as const;
  readonly containerNodes = true;
  readonly bootTimeoutMs = 120_000;

  async ensureReady(progress: (m: string) => void): Promise<void> {
    const missing: string[] = [];
    // (iptables only matters beside Docker, whose DOCKER-USER chain is then there to take the bridge's rules.)
    for (const tool of ['lxd', 'lxc', 'dnsmasq']) {
      if ((await q({ nothrow: true })`command -v ${tool}`).exitCode !== 0) missing.push(tool);
    }
    if (missing.length > 0)
      throw new UserError(
        `the lxd lab driver needs ${missing.join(', ')}: apt-get install lxd lxd-client dnsmasq-base`,
      );
    if (!(await this.daemonAnswers())) {
      if (process.getuid?.() !== 0)
        throw new UserError('the LXD daemon is not running; start it as root: lxd --group root & lxd waitready');
      progress(`starting the LXD daemon (lxd --group root, log ${LXD_DAEMON_LOG})`);
      mkdirSync(dirname(LXD_DAEMON_LOG), { recursive: true });
      const log = openSync(LXD_DAEMON_LOG, 'a');
      // Detached: the daemon outlives kprov, as it would under systemd.
      spawn('lxd', ['--group', 'root'], { detached: true, stdio: ['ignore', log, log] }).unref();
      const ready = await q({ nothrow: true })`lxd waitready --timeout 60`;
      if (ready.exitCode !== 0)
        throw new UserError(
          `the LXD daemon did not start within 60 s: ${commandMessage(ready)}; see ${LXD_DAEMON_LOG}`,
        );
    }
    const pools = lines((await q`lxc storage list --format csv`).stdout);
    if (pools.length === 0) {
      progress(`initialising LXD: storage pool "${LXD_DEFAULT_POOL}" (dir), no default network`);
      await qin({ input: lxdPreseed() })`lxd init --preseed`;
    }
  }

  private async daemonAnswers(): Promise<boolean> {
    return (await q({ nothrow: true, timeout: '20s' })`lxc query /1.0`).exitCode === 0;
  }

  sharesHostLimits(): boolean {
    return true;
  }

  /** The pool node disks go to: "default" if there is one, else the first. */
  private async pool(): Promise<string> {
    const pools = lines((await q`lxc storage list --format csv`).stdout).map((l) => l.split(',')[0]);
    return pools.includes(LXD_DEFAULT_POOL) ? LXD_DEFAULT_POOL : pools[0];
  }

  async ensureImage(progress: (m: string) => void): Promise<string> {
    if ((await q({ nothrow: true })`lxc image info ${LXD_IMAGE_ALIAS}`).exitCode === 0) return LXD_IMAGE_ALIAS;
    if ((await q({ nothrow: true })`command -v mmdebstrap`).exitCode !== 0)
      throw new UserError('building the LXD lab image needs mmdebstrap: apt-get install mmdebstrap');
    const dir = mkdtempSync(join(tmpdir(), 'kprov-lxd-image-'));
    try {
      const started = Date.now();
      progress(`building the LXD image ${LXD_IMAGE_ALIAS}: Debian bookworm with mmdebstrap (30-120 s, once)`);
      const overlay = join(dir, 'overlay');
      const files = {
        ...LXD_IMAGE_FILES,
        '/etc/systemd/system/kprov-lab-cgroups.service': undefined,
      };
      for (const [path, content] of Object.entries(files)) {
        const target = join(overlay, path);
        mkdirSync(dirname(target), { recursive: true });
        if (content !== undefined) writeFileSync(target, content);
        else
          copyFileSync(
            fileURLToPath(new URL('../../templates/lab/kprov-lab-cgroups.service', import.meta.url)),
            target,
          );
      }
      const root = '"$1"';
      const hooks = [
        `cp -a ${overlay}/. ${root}/`,
        `systemctl --root=${root} mask ${LXD_IMAGE_MASKED.join(' ')}`,
        `systemctl --root=${root} enable ssh kprov-lab-firstboot.service kprov-lab-cgroups.service`,
        `systemctl --root=${root} disable haproxy`,
        `rm -f ${root}/etc/ssh/ssh_host_*`,
        `: > ${root}/etc/machine-id`,
        `mkdir -p ${root}/root/.ssh ${root}/lib/modules && chmod 700 ${root}/root/.ssh`,
      ].flatMap((h) => ['--customize-hook', h]);
      const rootfs = join(dir, 'rootfs.tar');
      await q`mmdebstrap --variant=minbase --include=${LXD_IMAGE_PACKAGES.join(',')} ${hooks} bookworm ${rootfs}`;
      const meta = join(dir, 'meta');
      mkdirSync(join(meta, 'templates'), { recursive: true });
      writeFileSync(join(meta, 'metadata.yaml'), lxdImageMetadata(Math.floor(Date.now() / 1000)));
      for (const [name, text] of Object.entries(LXD_TEMPLATES)) writeFileSync(join(meta, 'templates', name), text);
      await q`tar -C ${meta} -cf ${join(dir, 'meta.tar')} metadata.yaml templates`;
      await q`lxc image import ${join(dir, 'meta.tar')} ${rootfs} --alias ${LXD_IMAGE_ALIAS}`;
      progress(`built ${LXD_IMAGE_ALIAS} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    } catch (err) {
      throw new UserError(`building the LXD lab image failed: ${commandMessage(err)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return LXD_IMAGE_ALIAS;
  }

  /** IPv4 networks in use on this machine: its addresses and routes, and every LXD network's. */
  private async subnetsInUse(): Promise<string[]> {
    const used = await hostIpv4InUse();
    const nets = await q({ nothrow: true })`lxc network list --format json`;
    if (nets.exitCode === 0) {
      for (const n of JSON.parse(nets.stdout) as { config?: Record<string, string> }[]) {
        const a = n.config?.['ipv4.address'];
        if (a && a !== 'none') used.push(a);
      }
    }
    return used;
  }

  private async hasDockerUser(): Promise<boolean> {
    return (await q({ nothrow: true })`iptables -w -n -L DOCKER-USER`).exitCode === 0;
  }

  async createNetwork(lab: string, opts: NetworkOptions): Promise<LabNetwork> {
    const bridge = lxdBridgeName(lab);
    const subnet = pickLxdSubnet(lab, await this.subnetsInUse());
    const settings = Object.entries({ ...lxdBridgeConfig(subnet), [LXD_LAB_KEY]: lab }).map(([k, v]) => `${k}=${v}`);
    await q`lxc network create ${bridge} ${settings}`;
    // Docker's FORWARD policy is DROP: without these the nodes reach neither each other nor the outside.
    if (await this.hasDockerUser()) {
      for (const rule of lxdDockerUserRules(lab, bridge)) {
        if ((await q({ nothrow: true })`iptables -w -C DOCKER-USER ${rule}`).exitCode !== 0)
          await q`iptables -w -I DOCKER-USER ${rule}`;
      }
    }
    const profile = lxdProfileName(lab);
    await q`lxc profile create ${profile}`;
    const doc = lxdProfile({ pool: await this.pool(), bridge, unprivileged: opts.unprivileged });
    await qin({ input: doc })`lxc profile edit ${profile}`;
    return { name: bridge, ipv4Subnet: subnet };
  }

  async createNode({ lab, dir, network, image, node, index }: CreateNodeInput): Promise<string> {
    if (!network.ipv4Subnet) throw new UserError(`LXD lab network ${network.name} has no IPv4 subnet`);
    const name = lxdInstanceName(lab, node.name);
    const config = ['-c', `${LXD_LAB_KEY}=${lab}`, '-c', `${LXD_NODE_KEY}=${node.name}`];
    await q`lxc init ${image} ${name} --profile ${lxdProfileName(lab)} ${config}`;
    // A fixed address (a DHCP reservation in LXD's dnsmasq): the inventory names it before the node boots.
    await q`lxc config device override ${name} eth0 ${`ipv4.address=${lxdNodeAddress(network.ipv4Subnet, index)}`}`;
    // Each node its own product_uuid, as separate VMs would (only where the machine has DMI at all).
    if (existsSync('/sys/class/dmi/id/product_uuid')) {
      const uuidFile = join(dir, `${node.name}.product_uuid`);
      writeFileSync(uuidFile, `${randomUUID()}\n`);
      const device = [`source=${uuidFile}`, 'path=/sys/class/dmi/id/product_uuid', 'readonly=true'];
      await q`lxc config device add ${name} product-uuid disk ${device}`;
    }
    await q`lxc start ${name}`;
    return name;
  }

  private async instances(): Promise<LxdInstance[]> {
    const r = await q({ nothrow: true, timeout: '60s' })`lxc list --format json`;
    return r.exitCode === 0 ? (JSON.parse(r.stdout) as LxdInstance[]) : [];
  }

  async address(id: string, network: LabNetwork): Promise<{ ip: string }> {
    const wanted = (await q`lxc config device get ${id} eth0 ipv4.address`).stdout.trim();
    // dhclient takes the reserved address shortly after boot; wait until eth0 has it.
    for (let i = 0; i < 120; i++) {
      const r = await q({ nothrow: true })`lxc list ${`^${id}$`} --format json`;
      const inst = r.exitCode === 0 ? (JSON.parse(r.stdout) as LxdInstance[])[0] : undefined;
      const addrs = inst?.state?.network?.eth0?.addresses ?? [];
      if (addrs.some((a) => a.family === 'inet' && a.address === wanted)) return { ip: wanted };
      await sleep(500);
    }
    throw new UserError(
      `lab node ${id} did not get its address ${wanted} on ${network.name}: see ${this.logsHint(id)}`,
    );
  }

  async exec(id: string, script: string, input?: string): Promise<ExecResult> {
    const r =
      input === undefined
        ? await q({ nothrow: true })`lxc exec ${id} -T -- sh -c ${script}`
        : await qin({ nothrow: true, input })`lxc exec ${id} -T -- sh -c ${script}`;
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  async logs(id: string): Promise<string> {
    const r = await q({ nothrow: true })`lxc console ${id} --show-log`;
    return `${r.stdout}${r.stderr}`;
  }

  logsHint(id: string): string {
    return `lxc console ${id} --show-log; lxc info ${id} --show-log`;
  }

  async stop(id: string): Promise<void> {
    const r = await q({ nothrow: true })`lxc stop ${id} --timeout 30`;
    if (r.exitCode !== 0) await q`lxc stop ${id} --force`;
  }

  async start(id: string): Promise<void> {
    await q`lxc start ${id}`;
  }

  async pause(id: string): Promise<void> {
    await q`lxc pause ${id}`;
  }

  async unpause(id: string): Promise<void> {
    // lxc start thaws a frozen instance.
    await q`lxc start ${id}`;
  }

  async destroy(lab: string): Promise<void> {
    const mine = (await this.instances()).filter((i) => i.config?.[LXD_LAB_KEY] === lab);
    await Promise.all(mine.map((i) => q`lxc delete --force ${i.name}`));
    const profile = lxdProfileName(lab);
    if ((await q({ nothrow: true })`lxc profile show ${profile}`).exitCode === 0)
      await q`lxc profile delete ${profile}`;
    const bridge = lxdBridgeName(lab);
    if ((await q({ nothrow: true })`lxc network show ${bridge}`).exitCode === 0) await q`lxc network delete ${bridge}`;
    if (await this.hasDockerUser()) {
      const marker = `--comment ${lxdRuleComment(lab)} `;
      const rules = lines((await q`iptables -w -S DOCKER-USER`).stdout).filter((l) => `${l} `.includes(marker));
      for (const rule of rules) {
        const args = rule.replace(/^-A DOCKER-USER /, '').split(' ');
        await q`iptables -w -D DOCKER-USER ${args}`;
      }
    }
  }

  async list(lab?: string): Promise<DriverNode[]> {
    if ((await q({ nothrow: true })`command -v lxc`).exitCode !== 0) return [];
    if (!(await this.daemonAnswers())) return [];
    return (await this.instances())
      .filter((i) => i.config?.[LXD_LAB_KEY] !== undefined && (lab === undefined || i.config[LXD_LAB_KEY] === lab))
      .map((i) => ({ lab: i.config[LXD_LAB_KEY], id: i.name, running: i.status !== 'Stopped' }));
  }
}
