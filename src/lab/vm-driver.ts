import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { $ } from 'zx';
import { UserError } from '../errors/index.js';
import { commandMessage } from './driver.js';
import type { CreateNodeInput, DriverNode, ExecResult, LabDriver, LabNetwork, NodeSpec } from './driver.js';
import { hostIpv4InUse } from './host-networks.js';
import { pickLxdSubnet } from './lxd-config.js';
import {
  VM_DISK_GIB,
  VM_IMAGE_FILES,
  VM_IMAGE_PACKAGES,
  VM_IMAGE_VERSION,
  VM_SUBNET_BASE,
  type VmAccel,
  qemuArgs,
  shellQuote,
  vmBridgeName,
  vmGateway,
  vmHostRules,
  vmMac,
  vmNodeAddress,
  vmResourceShortfall,
  vmRuleComment,
  vmSeedFiles,
  vmTapName,
} from './vm-config.js';

const q = $({ quiet: true, stdio: ['ignore', 'pipe', 'pipe'] });
const qin = $({ quiet: true });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Where VM nodes live, like a container engine's own directory: one directory per node (disk overlay, seed disk,
 * SSH identity, pid file, console log), named as the node's id, so any kprov process finds them again.
 */
export const vmRoot = () => process.env.KPROV_VM_ROOT ?? '/var/lib/kprov/vms';
/** Guest images, built once per recipe version. */
export const vmImageRoot = () => process.env.KPROV_VM_IMAGES ?? '/var/lib/kprov/vm-images';

const vmName = (lab: string, node: string) => `kprov-${lab}-${node}`;

/** What a node's directory records about it (node.json). */
interface VmNodeState {
  lab: string;
  node: string;
  ip: string;
  tap: string;
  bridge: string;
  /** The lab's private key, for exec over SSH. */
  privateKey: string;
  args: string[];
}

/**
 * Lab nodes as QEMU virtual machines with their own kernel (Debian's, cgroup v2): what a real user's hosts are,
 * where every container lab shares this machine's kernel. Each VM boots the cached guest image through a qcow2
 * overlay, takes its address, hostname and SSH identity from a small seed disk, and sits on the lab's bridge through
 * a tap. QEMU uses KVM when a kernel boots under it here, else software emulation (TCG), and says which.
 */
export class VmDriver implements LabDriver {
  readonly name = 'vm' as const;
  readonly containerNodes = false;
  /** Software emulation boots a kernel and systemd in 35-51 s here; twice that under load. */
  readonly bootTimeoutMs = 300_000;
  private accel: VmAccel | undefined;

  async ensureReady(progress: (m: string) => void): Promise<void> {
    const missing: string[] = [];
    for (const [tool, pkg] of [
      ['qemu-system-x86_64', 'qemu-system-x86'],
      ['qemu-img', 'qemu-utils'],
      ['mkfs.ext4', 'e2fsprogs'],
      ['ip', 'iproute2'],
      ['iptables', 'iptables'],
      ['ssh', 'openssh-client'],
    ]) {
      if ((await q({ nothrow: true })`command -v ${tool}`).exitCode !== 0) missing.push(pkg);
    }
    if (missing.length > 0)
      throw new UserError(
        `the vm lab driver needs ${missing.join(', ')}: apt-get install --no-install-recommends ${missing.join(' ')}`,
      );
    if (process.getuid?.() !== 0)
      throw new UserError('the vm lab driver makes bridges, taps and iptables rules: run kprov lab as root');
    void progress;
  }

  sharesHostLimits(): boolean {
    // Each VM has its own kernel, and so its own inotify limits.
    return false;
  }

  async checkResources(nodes: NodeSpec[]): Promise<void> {
    const meminfo = readFileSync('/proc/meminfo', 'utf8');
    const memoryMiB = Math.floor(Number(/MemAvailable:\s+(\d+)/.exec(meminfo)?.[1] ?? 0) / 1024);
    mkdirSync(vmRoot(), { recursive: true });
    const fs = statfsSync(vmRoot());
    const diskGiB = Math.floor((fs.bavail * fs.bsize) / 2 ** 30);
    const short = vmResourceShortfall(
      nodes.map((n) => n.role),
      { memoryMiB, diskGiB },
    );
    if (short) throw new UserError(`${short}: stop other labs or make a smaller one`);
  }

  private imageDir(): string {
    return join(vmImageRoot(), VM_IMAGE_VERSION);
  }

  async ensureImage(progress: (m: string) => void): Promise<string> {
    const dir = this.imageDir();
    if (!existsSync(join(dir, 'ready'))) await this.buildImage(dir, progress);
    await this.chooseAccel(dir, progress);
    return dir;
  }

  private async buildImage(dir: string, progress: (m: string) => void): Promise<void> {
    if ((await q({ nothrow: true })`command -v mmdebstrap`).exitCode !== 0)
      throw new UserError('building the VM guest image needs mmdebstrap: apt-get install mmdebstrap');
    mkdirSync(vmImageRoot(), { recursive: true });
    const work = mkdtempSync(join(vmImageRoot(), 'build-'));
    const started = Date.now();
    try {
      progress(`building the VM guest image ${VM_IMAGE_VERSION}: Debian bookworm with a kernel (1-3 min, once)`);
      const overlay = join(work, 'overlay');
      for (const [path, f] of Object.entries(VM_IMAGE_FILES)) {
        const target = join(overlay, path);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, f.content);
        chmodSync(target, f.mode);
      }
      const root = '"$1"';
      const hooks = [
        `cp -a ${overlay}/. ${root}/`,
        `systemctl --root=${root} enable ssh kprov-vm-seed.service`,
        `systemctl --root=${root} disable haproxy`,
        `systemctl --root=${root} mask getty@tty1.service`,
        `rm -f ${root}/etc/ssh/ssh_host_*`,
        `: > ${root}/etc/machine-id`,
        `mkdir -p ${root}/root/.ssh && chmod 700 ${root}/root/.ssh`,
      ].flatMap((h) => ['--customize-hook', h]);
      const rootfs = join(work, 'rootfs');
      await q`mmdebstrap --variant=minbase --include=${VM_IMAGE_PACKAGES.join(',')} ${hooks} bookworm ${rootfs}`;
      const boot = join(rootfs, 'boot');
      const kernel = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
      const initrd = readdirSync(boot).find((f) => f.startsWith('initrd.img-'));
      if (!kernel || !initrd) throw new Error(`the guest has no kernel or initrd in /boot (${readdirSync(boot)})`);
      const out = join(work, 'out');
      mkdirSync(out);
      await q`cp ${join(boot, kernel)} ${join(out, 'vmlinuz')}`;
      await q`cp ${join(boot, initrd)} ${join(out, 'initrd.img')}`;
      const raw = join(work, 'root.raw');
      await q`mkfs.ext4 -q -L kprov-root -d ${rootfs} ${raw} ${`${VM_DISK_GIB}G`}`;
      await q`qemu-img convert -O qcow2 ${raw} ${join(out, 'base.qcow2')}`;
      writeFileSync(join(out, 'ready'), `${new Date().toISOString()}\n`);
      rmSync(dir, { recursive: true, force: true });
      await q`mv ${out} ${dir}`;
      progress(`built the VM guest image in ${((Date.now() - started) / 1000).toFixed(1)}s: ${dir}`);
    } catch (err) {
      throw new UserError(`building the VM guest image failed: ${commandMessage(err)}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  /**
   * KVM when the guest kernel prints its first line under it within 20 s, else TCG: /dev/kvm can exist and still
   * not run a stock kernel (a software "PVM" backend hangs before the kernel's first message). Probed once per boot
   * of this machine.
   */
  private async chooseAccel(image: string, progress: (m: string) => void): Promise<VmAccel> {
    if (this.accel) return this.accel;
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const cached = join(vmImageRoot(), `accel-${bootId}`);
    let accel: VmAccel = 'tcg';
    let why = 'no /dev/kvm';
    if (existsSync(cached)) {
      accel = readFileSync(cached, 'utf8').trim() === 'kvm' ? 'kvm' : 'tcg';
      why = 'as probed earlier since this machine booted';
    } else if (existsSync('/dev/kvm')) {
      progress('checking whether a kernel boots under KVM here (at most 20 s)');
      accel = (await kernelBootsUnderKvm(image)) ? 'kvm' : 'tcg';
      why =
        accel === 'kvm' ? 'the guest kernel boots under KVM' : '/dev/kvm is there but the guest kernel hangs under it';
      writeFileSync(cached, `${accel}\n`);
    }
    progress(`VMs run under ${accel === 'kvm' ? 'KVM' : 'software emulation (TCG)'}: ${why}`);
    this.accel = accel;
    return accel;
  }

  async createNetwork(lab: string): Promise<LabNetwork> {
    const bridge = vmBridgeName(lab);
    const subnet = pickLxdSubnet(lab, await hostIpv4InUse(), VM_SUBNET_BASE);
    await q`ip link add ${bridge} type bridge`;
    await q`ip addr add ${`${vmGateway(subnet)}/24`} dev ${bridge}`;
    await q`ip link set ${bridge} up`;
    await q`sysctl -qw net.ipv4.ip_forward=1`;
    const dockerUser = (await q({ nothrow: true })`iptables -w -n -L DOCKER-USER`).exitCode === 0;
    for (const [table, chain, ...rule] of vmHostRules(lab, bridge, subnet, dockerUser)) {
      if ((await q({ nothrow: true })`iptables -w -t ${table} -C ${chain} ${rule}`).exitCode !== 0)
        await q`iptables -w -t ${table} -I ${chain} ${rule}`;
    }
    return { name: bridge, ipv4Subnet: subnet };
  }

  async createNode({ lab, dir, network, image, node, index }: CreateNodeInput): Promise<string> {
    if (!network.ipv4Subnet) throw new UserError(`VM lab network ${network.name} has no IPv4 subnet`);
    const id = vmName(lab, node.name);
    const home = join(vmRoot(), id);
    if (existsSync(home))
      throw new UserError(`a VM named ${id} already exists (${home}): kprov lab down --name ${lab}`);
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const accel = await this.chooseAccel(image, () => {});
    const disk = join(home, 'disk.qcow2');
    await q`qemu-img create -q -f qcow2 -F qcow2 -b ${join(image, 'base.qcow2')} ${disk}`;
    // The node's SSH host key is made here, so the lab's known_hosts is right before the node has booted.
    const hostKey = join(home, 'ssh_host_ed25519_key');
    await q`ssh-keygen -q -t ed25519 -N ${''} -C ${`root@${node.name}`} -f ${hostKey}`;
    const privateKey = join(dir, 'id_ed25519');
    const ip = vmNodeAddress(network.ipv4Subnet, index);
    const seedDir = join(home, 'seed');
    mkdirSync(seedDir);
    const files = vmSeedFiles({
      node: node.name,
      address: ip,
      gateway: vmGateway(network.ipv4Subnet),
      nameservers: hostNameservers(),
      authorizedKey: readFileSync(`${privateKey}.pub`, 'utf8'),
      hostKey: { private: readFileSync(hostKey, 'utf8'), public: readFileSync(`${hostKey}.pub`, 'utf8') },
    });
    for (const [name, content] of Object.entries(files)) writeFileSync(join(seedDir, name), content, { mode: 0o600 });
    const seed = join(home, 'seed.img');
    await q`mkfs.ext4 -q -L kprov-seed -d ${seedDir} ${seed} 4M`;
    rmSync(seedDir, { recursive: true });
    writeFileSync(
      join(home, 'known_hosts'),
      `${ip} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`,
    );
    const tap = vmTapName(lab, index);
    const args = qemuArgs({
      node: node.name,
      role: node.role,
      accel,
      uuid: randomUUID(),
      kernel: join(image, 'vmlinuz'),
      initrd: join(image, 'initrd.img'),
      disk,
      seed,
      tap,
      mac: vmMac(lab, index),
      pidFile: join(home, 'qemu.pid'),
      console: join(home, 'console.log'),
      monitor: join(home, 'monitor.sock'),
    });
    const state: VmNodeState = { lab, node: node.name, ip, tap, bridge: network.name, privateKey, args };
    writeFileSync(join(home, 'node.json'), JSON.stringify(state, null, 2) + '\n');
    await this.launch(id, state);
    await this.waitForSsh(id);
    return id;
  }

  /** Start QEMU for a node; it daemonizes, so the VM outlives kprov. */
  private async launch(id: string, state: VmNodeState): Promise<void> {
    // The tap persists while this machine runs; after a reboot it is made again (the bridge must still be there).
    if ((await q({ nothrow: true })`ip link show ${state.tap}`).exitCode !== 0) {
      if ((await q({ nothrow: true })`ip link show ${state.bridge}`).exitCode !== 0)
        throw new UserError(`lab node ${id}: the lab's bridge ${state.bridge} is gone; make the lab again`);
      await q`ip tuntap add dev ${state.tap} mode tap`;
    }
    await q`ip link set ${state.tap} master ${state.bridge} up`;
    const r = await q({ nothrow: true })`qemu-system-x86_64 ${state.args}`;
    if (r.exitCode !== 0) throw new UserError(`lab node ${id}: qemu did not start: ${commandMessage(r)}`);
  }

  /** sshd answers once the seed has configured the node: lab.ts talks to nodes only through exec. */
  private async waitForSsh(id: string): Promise<void> {
    const deadline = Date.now() + this.bootTimeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.pid(id)) throw new UserError(`lab node ${id}: its VM stopped while booting: see ${this.logsHint(id)}`);
      const r = await this.exec(id, 'systemctl is-system-running --wait >/dev/null 2>&1; true');
      if (r.exitCode === 0) return;
      last = r.stderr.trim().split('\n').pop() ?? '';
      await sleep(2000);
    }
    throw new UserError(
      `lab node ${id}: sshd did not answer within ${this.bootTimeoutMs / 1000} s (${last}): see ${this.logsHint(id)}`,
    );
  }

  private state(id: string): VmNodeState {
    const file = join(vmRoot(), id, 'node.json');
    if (!existsSync(file)) throw new UserError(`no VM named ${id} (${file})`);
    return JSON.parse(readFileSync(file, 'utf8')) as VmNodeState;
  }

  /** The QEMU process of a node, when it runs. */
  private pid(id: string): number | undefined {
    const file = join(vmRoot(), id, 'qemu.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').trim());
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes(file) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async address(id: string): Promise<{ ip: string }> {
    return { ip: this.state(id).ip };
  }

  async exec(id: string, script: string, input?: string): Promise<ExecResult> {
    const s = this.state(id);
    const ssh = [
      '-i',
      s.privateKey,
      '-o',
      `UserKnownHostsFile=${join(vmRoot(), id, 'known_hosts')}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=5',
      `root@${s.ip}`,
      `sh -c ${shellQuote(script)}`,
    ];
    const r =
      input === undefined ? await q({ nothrow: true })`ssh ${ssh}` : await qin({ nothrow: true, input })`ssh ${ssh}`;
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  async logs(id: string): Promise<string> {
    const file = join(vmRoot(), id, 'console.log');
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-200).join('\n') : '';
  }

  logsHint(id: string): string {
    return join(vmRoot(), id, 'console.log');
  }

  async stop(id: string): Promise<void> {
    const pid = this.pid(id);
    if (!pid) return;
    process.kill(pid, 'SIGCONT');
    await this.exec(id, 'systemctl poweroff');
    for (let i = 0; i < 120 && this.pid(id); i++) await sleep(500);
    const left = this.pid(id);
    if (left) process.kill(left, 'SIGKILL');
    for (let i = 0; i < 20 && this.pid(id); i++) await sleep(250);
  }

  async start(id: string): Promise<void> {
    if (this.pid(id)) return;
    await this.launch(id, this.state(id));
    await this.waitForSsh(id);
  }

  async pause(id: string): Promise<void> {
    const pid = this.pid(id);
    if (!pid) throw new UserError(`lab node ${id} is not running`);
    process.kill(pid, 'SIGSTOP');
  }

  async unpause(id: string): Promise<void> {
    const pid = this.pid(id);
    if (!pid) throw new UserError(`lab node ${id} is not running`);
    process.kill(pid, 'SIGCONT');
  }

  /** Node ids with their saved state, of one lab or all. */
  private nodes(lab?: string): { id: string; state: VmNodeState }[] {
    if (!existsSync(vmRoot())) return [];
    return readdirSync(vmRoot())
      .filter((id) => existsSync(join(vmRoot(), id, 'node.json')))
      .map((id) => ({ id, state: this.state(id) }))
      .filter((n) => lab === undefined || n.state.lab === lab);
  }

  async destroy(lab: string): Promise<void> {
    for (const { id, state } of this.nodes(lab)) {
      const pid = this.pid(id);
      if (pid) {
        process.kill(pid, 'SIGKILL');
        for (let i = 0; i < 40 && this.pid(id); i++) await sleep(250);
      }
      await q({ nothrow: true })`ip link del ${state.tap}`;
      rmSync(join(vmRoot(), id), { recursive: true, force: true });
    }
    const bridge = vmBridgeName(lab);
    if ((await q({ nothrow: true })`ip link show ${bridge}`).exitCode === 0) await q`ip link del ${bridge}`;
    const marker = `--comment ${vmRuleComment(lab)} `;
    for (const table of ['filter', 'nat']) {
      const rules = (await q({ nothrow: true })`iptables -w -t ${table} -S`).stdout.split('\n');
      for (const rule of rules.filter((l) => `${l} `.includes(marker))) {
        const args = rule.replace(/^-A /, '').split(' ');
        await q`iptables -w -t ${table} -D ${args}`;
      }
    }
  }

  async list(lab?: string): Promise<DriverNode[]> {
    return this.nodes(lab).map(({ id, state }) => ({ lab: state.lab, id, running: this.pid(id) !== undefined }));
  }
}

/** This machine's non-loopback nameservers, for the guests. */
function hostNameservers(): string[] {
  if (!existsSync('/etc/resolv.conf')) return [];
  return readFileSync('/etc/resolv.conf', 'utf8')
    .split('\n')
    .map((l) => /^nameserver\s+([0-9.]+)\s*$/.exec(l)?.[1])
    .filter((s): s is string => !!s && !s.startsWith('127.'));
}

/** Boot the guest kernel under KVM with nothing else, and see whether it prints its banner within 20 s. */
async function kernelBootsUnderKvm(image: string): Promise<boolean> {
  const args = ['-accel', 'kvm', '-cpu', 'host', '-m', '256', '-display', 'none', '-no-reboot', '-serial', 'stdio'];
  args.push('-kernel', join(image, 'vmlinuz'), '-append', 'console=ttyS0 panic=-1 init=/bin/false');
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return await new Promise<boolean>((resolve) => {
    let out = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Linux version')) done(true);
    });
    child.on('exit', () => done(out.includes('Linux version')));
    child.on('error', () => done(false));
  });
}
