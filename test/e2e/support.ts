import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { parse, stringify } from 'yaml';
import { kprov, run, runOk, SYNC_TIMEOUT_MS } from '../helpers/cli.js';
import { ensureLabImage, LAB_BASE_IMAGE } from '../../src/lab/image.js';
import { labDriver, labDriverOf, type Lab } from '../../src/lab/lab.js';
import { readyCondition, type Node } from '../../src/kube/types.js';
import { DEFAULT_KUBERNETES_VERSION } from '../../src/kubeadm/versions.js';

// Shared by the end-to-end files: each runs its own lab and cluster in its own KPROV_HOME.

export const docker = (...args: string[]) =>
  execFileSync('docker', args, { encoding: 'utf8', timeout: SYNC_TIMEOUT_MS });
/** A shell script in a Docker lab host: its exit code and output (stdout then stderr). */
export async function dockerShell(container: string, script: string, timeout = 600_000) {
  const r = await run('docker', ['exec', container, 'sh', '-c', script], { timeout });
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}
/** docker cp, for files large enough to take a while. */
export const dockerCp = (from: string, to: string) => runOk('docker', ['cp', from, to]);
/** The last line a build script prints: the directory it built or found cached. Its progress goes to stderr. */
const builtDir = async (script: string, args: string[]) =>
  (await runOk('bash', [script, ...args], { inheritStderr: true })).trim().split('\n').pop()!;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** "✔ host: unchanged" lines of a run's summary, as { host: status }. */
export const statuses = (stdout: string) =>
  Object.fromEntries([...stdout.matchAll(/^[✔✖] (\S+): (.+)$/gm)].map((m) => [m[1], m[2]]));

export async function eventually<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await sleep(3000);
    }
  }
  throw new Error(`${what}: ${(last as Error)?.message}`);
}

/**
 * The lab image and the offline bundle of upstream components for one Kubernetes version (built once, then cached
 * by version), with the component versions kprov's release table pins for it.
 */
export async function artifactBundle(version = DEFAULT_KUBERNETES_VERSION): Promise<string> {
  await ensureLabImage();
  const t = Date.now();
  const script = fileURLToPath(new URL('./build-artifacts.sh', import.meta.url));
  const bundle = await builtDir(script, [LAB_BASE_IMAGE, version]);
  console.log(`components and images ready in ${Date.now() - t} ms: ${bundle}`);
  // The tests' kubectl is the bundle's (the cluster's version), not whatever the machine has (Debian's is v1.20).
  process.env.PATH = `${join(bundle, 'bin')}:${process.env.PATH}`;
  return bundle;
}

/**
 * Upstream's kubeadm and its e2e suite (test/e2e_kubeadm compiled with go test -c) for one Kubernetes version, built
 * from the same generated module as the bundle's components and cached by version: the directory holding `kubeadm`
 * and `e2e_kubeadm.test`.
 */
export async function kubeadmTools(version = DEFAULT_KUBERNETES_VERSION): Promise<string> {
  const t = Date.now();
  const script = fileURLToPath(new URL('./build-kubeadm-tools.sh', import.meta.url));
  const dir = await builtDir(script, [version]);
  console.log(`upstream kubeadm tools ready in ${Date.now() - t} ms: ${dir}`);
  return dir;
}

export interface SuiteResult {
  status: number | null;
  ms: number;
  cases: { name: string; status: string }[];
  count: (status: string) => number;
  log: string;
}

/**
 * Run upstream's e2e_kubeadm suite (built by kubeadmTools) against a cluster; its JUnit report says what passed,
 * failed and was skipped. `skip` is a ginkgo regex of specs to leave out, `focus` one of the only specs to run.
 */
export async function runE2eKubeadm(
  tools: string,
  kubeconfig: string,
  outDir: string,
  skip?: string,
  focus?: string,
): Promise<SuiteResult> {
  const reports = join(outDir, 'e2e_kubeadm');
  mkdirSync(reports, { recursive: true });
  const t = Date.now();
  const r = await run(
    join(tools, 'e2e_kubeadm.test'),
    [
      `--kubeconfig=${kubeconfig}`,
      ...(skip ? [`--ginkgo.skip=${skip}`] : []),
      ...(focus ? [`--ginkgo.focus=${focus}`] : []),
      '--ginkgo.no-color',
      '--ginkgo.v',
      `--report-dir=${reports}`,
    ],
    { timeout: 900_000 },
  );
  const log = join(outDir, 'e2e_kubeadm.log');
  writeFileSync(log, `${r.stdout}${r.stderr}`);
  const cases = [
    ...readFileSync(join(reports, 'junit_01.xml'), 'utf8').matchAll(/<testcase name="([^"]*)"[^>]*status="(\w+)"/g),
  ].map((m) => ({ name: m[1].replace(/&#39;/g, "'"), status: m[2] }));
  const count = (s: string) => cases.filter((c) => c.status === s).length;
  const ms = Date.now() - t;
  console.log(
    `e2e_kubeadm: ${ms} ms, ${count('passed')} passed, ` +
      `${cases.length - count('passed') - count('skipped')} failed, ${count('skipped')} skipped (log: ${log})`,
  );
  return { status: r.code, ms, cases, count, log };
}

/**
 * A lab's nodes by inventory name, through the lab's driver (Docker or LXD), so a test runs on either: a script as
 * root (its stdout; a failure throws with stderr), and stop/start/pause/unpause of the whole node.
 */
export function labNodes(lab: Lab) {
  const driver = labDriver(labDriverOf(lab));
  const id = (host: string) => {
    const node = lab.nodes.find((n) => n.name === host);
    if (!node) throw new Error(`lab ${lab.name} has no node ${host}`);
    return node.container;
  };
  return {
    driver,
    async exec(host: string, script: string): Promise<string> {
      const r = await driver.exec(id(host), script);
      if (r.exitCode !== 0) throw new Error(`${host}: ${script}: exit ${r.exitCode}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    stop: (host: string) => driver.stop(id(host)),
    start: (host: string) => driver.start(id(host)),
    pause: (host: string) => driver.pause(id(host)),
    unpause: (host: string) => driver.unpause(id(host)),
  };
}

/** The lab network's gateway: this machine's address as the lab's nodes reach it. */
export function labGateway(lab: Lab): string {
  if (labDriverOf(lab) === 'docker')
    return docker('network', 'inspect', lab.network, '-f', '{{(index .IPAM.Config 0).Gateway}}').trim();
  if (!lab.ipv4Subnet) throw new Error(`lab ${lab.name} has no IPv4 subnet`);
  return lab.ipv4Subnet.replace(/\.0\/24$/, '.1');
}

/**
 * The driver the e2e labs run on: docker, or KPROV_E2E_DRIVER (lxd). A lab on another driver is named
 * <driver>-<name>, so it never meets the Docker lab of the same test.
 */
export const E2E_DRIVER = process.env.KPROV_E2E_DRIVER ?? 'docker';

export interface E2eLab {
  lab: Lab;
  /** The lab's nodes through its driver. */
  nodes: ReturnType<typeof labNodes>;
  home: string;
  env: Record<string, string>;
  /**
   * Write the lab's inventory with the bundle, only these hosts and extra vars; returns its path (always the same
   * file).
   */
  inventory(hosts: string[], vars?: Record<string, unknown>): string;
  down(): Promise<void>;
}

export async function startLab(
  name: string,
  masters: number,
  workers: number,
  bundle: string,
  extraArgs: string[] = [],
): Promise<E2eLab> {
  if (E2E_DRIVER !== 'docker' && !extraArgs.includes('--driver')) {
    name = `${E2E_DRIVER}-${name}`;
    extraArgs = [...extraArgs, '--driver', E2E_DRIVER];
  }
  const home = mkdtempSync(join(tmpdir(), `kprov-${name}-`));
  const env = { KPROV_HOME: home };
  const t = Date.now();
  const up = await kprov(
    ['lab', 'up', '--name', name, '--masters', String(masters), '--workers', String(workers), ...extraArgs],
    env,
  );
  expect(up.code, up.stderr).toBe(0);
  console.log(`lab ${name} up in ${Date.now() - t} ms`);
  const lab: Lab = JSON.parse(readFileSync(join(home, 'labs', name, 'lab.json'), 'utf8'));
  const file = join(home, 'inventory.yaml');
  return {
    lab,
    nodes: labNodes(lab),
    home,
    env,
    inventory(hosts, vars = {}) {
      const doc = parse(readFileSync(lab.inventory, 'utf8'));
      Object.assign(doc.all.vars, { artifacts_dir: bundle }, vars);
      for (const group of Object.values(doc.all.children) as { hosts: Record<string, unknown> }[]) {
        for (const h of Object.keys(group.hosts)) if (!hosts.includes(h)) delete group.hosts[h];
      }
      writeFileSync(file, stringify(doc));
      return file;
    },
    async down() {
      if (!process.env.KPROV_E2E_KEEP) await kprov(['lab', 'down', '--name', name], env);
    },
  };
}

export interface LocalRegistry {
  port: number;
  /** Everything the registry has printed so far (its access log: which image a client asked for, and from where). */
  log: () => string;
  /** Push a local Docker image into the registry as `name` (default: its name without the registry host). */
  push: (image: string, name?: string) => Promise<void>;
  stop: () => void;
}

/**
 * A local image registry (Debian's docker-registry, the CNCF distribution) on this machine, over HTTP: what lab hosts
 * reach through their network's gateway as an air-gapped mirror (inventory registry_mirrors).
 */
export async function startRegistry(port: number): Promise<LocalRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'kprov-registry-'));
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: :${port}\n`,
  );
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  await eventually(
    'the registry to answer',
    () => runOk('curl', ['-sf', '-m', '10', `http://127.0.0.1:${port}/v2/`]),
    30_000,
  );
  return {
    port,
    log: () => log,
    async push(image, name = image.replace(/^[^/]+\//, '')) {
      const target = `127.0.0.1:${port}/${name}`;
      await runOk('docker', ['tag', image, target]);
      await runOk('docker', ['push', '-q', target]);
    },
    stop: () => child.kill(),
  };
}

/**
 * kubectl with the admin kubeconfig kprov fetched: `kubectl` and `kjson` for quick calls (synchronous, killed after
 * SYNC_TIMEOUT_MS), `kubectlWait` for the commands that wait (wait, rollout status, delete --wait).
 */
export function kubectlWith(kubeconfig: () => string) {
  const withConfig = (args: string[]) => ['--kubeconfig', kubeconfig(), ...args];
  const kubectl = (...args: string[]) =>
    execFileSync('kubectl', withConfig(args), { encoding: 'utf8', timeout: SYNC_TIMEOUT_MS });
  const kjson = (...args: string[]) => JSON.parse(kubectl(...args, '-o', 'json'));
  const kubectlWait = (...args: string[]) => runOk('kubectl', withConfig(args));
  return { kubectl, kjson, kubectlWait };
}

export const isReady = (node: Node) => readyCondition(node)?.status === 'True';

/** The fields of a pod the tests read. */
export interface PodJson {
  metadata: { name: string; namespace: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string; containerStatuses?: { ready: boolean }[] };
}

// The kubelet unit of the upstream kubelet package and the drop-in of the upstream kubeadm deb
// (kubernetes/release, cmd/krel/templates/latest/kubelet/kubelet.service and kubeadm/10-kubeadm.conf): what a host
// set up for upstream kubeadm has.
export const KUBELET_SERVICE = `[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`;
/** The kubelet drop-in upstream's kubeadm deb package installs, verbatim (kept as a file: its lines are long). */
export const KUBEADM_DROPIN = readFileSync(new URL('./kubeadm-package/10-kubeadm.conf', import.meta.url), 'utf8');
