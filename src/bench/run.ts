/**
 * kprov benchmarks (npm run bench): wall-clock figures for the issue notes, never asserted in tests.
 *   - full cluster PKI + render for 3 masters + 3 workers (RSA-2048 and ECDSA-P256, cold and warm);
 *   - with --lab: `kprov prepare` on 1 and 3 lab hosts (--hosts 1,3,10), first run, re-run and dry-run, with the
 *     runtime from packages and from a runtime-only bundle (--runtime packages|bundle|both, --artifacts-dir D);
 *     needs Docker, and Go for the bundle (test/e2e/build-runtime.sh, cached per version);
 *   - with --lab-up docker,lxd,vm: `kprov lab up` of 3 nodes per driver and each idle node's memory;
 *   - when the e2e bundle is built (npm run test:e2e): loading and checking it, first time and with the check cache.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryStore } from '../pki/store.js';
import { loadBundle } from '../artifacts/bundle.js';
import { planCluster } from '../kubeadm/plan.js';
import type { ClusterConfig, NodeConfig } from '../kubeadm/config.js';
import type { KeyAlgorithm } from '../pki/keys.js';
import type { Lab } from '../lab/lab.js';
import { vmRoot } from '../lab/vm-driver.js';

const nodes: NodeConfig[] = [
  ...[1, 2, 3].map((i) => ({
    name: `master${i}`,
    advertiseAddress: `10.0.0.1${i}`,
    controlPlane: true,
    worker: false,
  })),
  ...[1, 2, 3].map((i) => ({
    name: `worker${i}`,
    advertiseAddress: `10.0.0.2${i}`,
    controlPlane: false,
    worker: true,
  })),
];

function config(alg: KeyAlgorithm): ClusterConfig {
  return {
    clusterName: 'kubernetes',
    kubernetesVersion: 'v1.37.2',
    imageRepository: 'registry.k8s.io',
    podSubnet: '10.244.0.0/16',
    serviceSubnet: '10.96.0.0/12',
    dnsDomain: 'cluster.local',
    controlPlaneEndpoint: 'api.example.internal:6443',
    encryptionAlgorithm: alg,
    cni: 'flannel',
    apiServerCertSANs: [],
    apiServerExtraArgs: {},
    controllerManagerExtraArgs: {},
    schedulerExtraArgs: {},
    etcdExtraArgs: {},
    kubeletConfiguration: {},
    kubeProxyConfiguration: {},
    criSocket: 'unix:///run/containerd/containerd.sock',
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [r, Number(process.hrtime.bigint() - t) / 1e6];
}

async function pkiBench(): Promise<void> {
  for (const alg of ['RSA-2048', 'ECDSA-P256'] as KeyAlgorithm[]) {
    const runs: number[] = [];
    let keys = 0;
    for (let i = 0; i < 3; i++) {
      const store = new MemoryStore();
      const [plan, ms] = await timed(() => planCluster(store, config(alg), nodes));
      keys = [...store.files.keys()].filter((k) => k.endsWith('.key') || k.endsWith('.conf')).length;
      runs.push(ms);
      if (i === 2) {
        const [, warm] = await timed(() => planCluster(store, config(alg), nodes));
        console.log(
          `pki+render 3 masters + 3 workers, ${alg}: cold ${runs.map((r) => r.toFixed(0)).join(' / ')} ms ` +
            `(${keys} keys, ${plan.events.length} certs/kubeconfigs), warm (all reused) ${warm.toFixed(0)} ms`,
        );
      }
    }
  }
}

function kprov(args: string[], env: NodeJS.ProcessEnv): number {
  const bin = fileURLToPath(new URL('../../bin/kprov.js', import.meta.url));
  const t = Date.now();
  const r = spawnSync(process.execPath, [bin, ...args], {
    env: { ...process.env, CI: 'true', ...env },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`kprov ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return Date.now() - t;
}

/** Ansible (ansible-core 2.14, forks 50) on these lab hosts, first run: users, host prep, containerd from packages. */
const ANSIBLE_FIRST_RUN_S: Record<number, number> = { 1: 12.2, 3: 17.5, 10: 56.0 };

/** The value after a flag (--hosts 1,3,10), if given. */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * A bundle holding just the runtime (and CNI plugins), from the e2e harness's per-version cache (built from the
 * Go modules the first time): what `kprov prepare --artifacts-dir` installs instead of packages.
 */
function runtimeBundle(): string | undefined {
  const script = fileURLToPath(new URL('../../test/e2e/build-runtime.sh', import.meta.url));
  if (!existsSync(script)) return undefined;
  const cache = join(process.env.KPROV_E2E_CACHE ?? join(homedir(), '.cache', 'kprov-e2e'), 'runtime');
  const dir = join(mkdtempSync(join(tmpdir(), 'kprov-bench-')), 'bundle');
  const r = spawnSync('bash', [script, cache, dir], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) {
    console.log(`(no runtime bundle: build-runtime.sh failed: ${r.stderr.trim().split('\n').pop()})`);
    return undefined;
  }
  return dir;
}

/**
 * `kprov prepare` on fresh lab hosts (1 master + N-1 workers): first run, re-run, dry-run; the runtime from packages
 * and/or from the bundle (--runtime packages|bundle|both, default both; --hosts 1,3,10).
 */
function labBench(): void {
  const home = mkdtempSync(join(tmpdir(), 'kprov-bench-'));
  const env = { KPROV_HOME: home };
  const sizes = (flag('--hosts') ?? '1,3').split(',').map(Number);
  const which = flag('--runtime') ?? 'both';
  const sources: { label: string; args: string[] }[] = [];
  if (which !== 'bundle') sources.push({ label: 'packages', args: [] });
  const bundle = which !== 'packages' ? (flag('--artifacts-dir') ?? runtimeBundle()) : undefined;
  if (bundle) sources.push({ label: 'the bundle', args: ['--artifacts-dir', bundle] });
  for (const n of sizes) {
    for (const source of sources) {
      const name = `bench${n}`;
      kprov(['lab', 'up', '--name', name, '--masters', '1', '--workers', String(n - 1)], env);
      try {
        const inv = join(home, 'labs', name, 'inventory.yaml');
        const first = kprov(['prepare', inv, ...source.args], env);
        const again = kprov(['prepare', inv, ...source.args], env);
        const dry = kprov(['prepare', inv, '--dry-run', ...source.args], env);
        const ansible = ANSIBLE_FIRST_RUN_S[n];
        console.log(
          `kprov prepare on ${n} lab host(s), runtime from ${source.label}: first run ${(first / 1000).toFixed(1)} s` +
            `${ansible ? ` (Ansible ${ansible} s: ${(ansible / (first / 1000)).toFixed(1)}x)` : ''}, ` +
            `re-run ${(again / 1000).toFixed(1)} s, dry-run ${(dry / 1000).toFixed(1)} s`,
        );
      } finally {
        kprov(['lab', 'down', '--name', name], env);
      }
    }
  }
}

/** Memory (MiB) each idle node of a lab uses, as its driver's engine accounts for it. */
function idleNodeMemoryMiB(driver: string, lab: Lab): number[] {
  const out = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 }).stdout;
  return lab.nodes.map((n) => {
    if (driver === 'docker') {
      const cgroup = out('docker', ['inspect', '-f', '{{.Id}}', n.container]).trim();
      const file = `/sys/fs/cgroup/memory/docker/${cgroup}/memory.usage_in_bytes`;
      return existsSync(file) ? Number(readFileSync(file, 'utf8')) / 2 ** 20 : Number.NaN;
    }
    if (driver === 'lxd') {
      const state = JSON.parse(out('lxc', ['query', `/1.0/instances/${n.container}/state`]));
      return state.memory.usage / 2 ** 20;
    }
    // A VM: the resident memory of its QEMU process.
    const pid = readFileSync(join(vmRoot(), n.container, 'qemu.pid'), 'utf8').trim();
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
  });
}

/**
 * `kprov lab up` of 1 master + 2 workers per driver (--lab-up docker,lxd,vm), and each node's memory after a minute
 * idle. Images are built before the timing starts (a lab of one node, removed again).
 */
function labUpBench(drivers: string[]): void {
  const home = mkdtempSync(join(tmpdir(), 'kprov-bench-'));
  const env = { KPROV_HOME: home };
  for (const driver of drivers) {
    kprov(['lab', 'up', '--driver', driver, '--name', 'benchwarm', '--workers', '0'], env);
    kprov(['lab', 'down', '--name', 'benchwarm'], env);
    const ms = kprov(['lab', 'up', '--driver', driver, '--name', 'benchup', '--workers', '2'], env);
    try {
      spawnSync('sleep', ['60']);
      const lab = JSON.parse(readFileSync(join(home, 'labs', 'benchup', 'lab.json'), 'utf8')) as Lab;
      const mem = idleNodeMemoryMiB(driver, lab).map((m) => m.toFixed(0));
      console.log(
        `kprov lab up --driver ${driver} (3 nodes): ${(ms / 1000).toFixed(1)} s; idle MiB: ${mem.join(', ')}`,
      );
    } finally {
      kprov(['lab', 'down', '--name', 'benchup'], env);
    }
  }
}

/** The offline bundle's SHA256SUMS check: every byte hashed the first time, size/mtime/inode after that. */
function bundleBench(): void {
  const dir = join(process.env.KPROV_E2E_CACHE ?? join(homedir(), '.cache', 'kprov-e2e'), 'v1.37.2', 'bundle');
  if (!existsSync(join(dir, 'SHA256SUMS'))) {
    console.log(`(no e2e bundle at ${dir}: run npm run test:e2e once for the bundle check figures)`);
    return;
  }
  const cache = join(mkdtempSync(join(tmpdir(), 'kprov-bench-')), 'checked.json');
  const bytes =
    readdirSync(join(dir, 'images')).reduce((n, f) => n + statSync(join(dir, 'images', f)).size, 0) +
    ['kubelet', 'kubectl'].reduce((n, f) => n + statSync(join(dir, 'bin', f)).size, 0);
  const cold = Date.now();
  loadBundle(dir, cache);
  const coldMs = Date.now() - cold;
  const warm = Date.now();
  loadBundle(dir, cache);
  console.log(
    `artifact bundle check (${(bytes / 1e9).toFixed(2)} GB): first ${coldMs} ms, again ${Date.now() - warm} ms`,
  );
}

await pkiBench();
bundleBench();
const labUpDrivers = flag('--lab-up');
if (labUpDrivers) labUpBench(labUpDrivers.split(','));
if (process.argv.includes('--lab')) labBench();
else console.log('(add --lab for kprov prepare timings on lab hosts: npm run bench -- --lab [--hosts 1,3,10])');
