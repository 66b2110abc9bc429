import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOk, SYNC_TIMEOUT_MS } from '../helpers/cli.js';

// Upstream's Conformance suite (e2e.test built from the cluster's Kubernetes release) against a kprov lab cluster,
// offline: the suite, its images and the checks that every node has them.

const script = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));
const lastLine = (out: string) => out.trim().split('\n').pop()!;

/** e2e.test, ginkgo and the test images' Go programs for one release (build-conformance.sh): their directory. */
export async function conformanceTools(version: string): Promise<string> {
  const t = Date.now();
  const dir = lastLine(await runOk('bash', [script('build-conformance.sh'), version], { inheritStderr: true }));
  console.log(`conformance tools ready in ${Date.now() - t} ms: ${dir}`);
  return dir;
}

/** The Conformance specs' images, built locally under the framework's names, in one tarball (build-images.sh). */
export async function conformanceImages(baseImage: string, tools: string, version: string): Promise<string> {
  const t = Date.now();
  const tar = lastLine(
    await runOk('bash', [script('build-images.sh'), baseImage, tools, version], { inheritStderr: true }),
  );
  console.log(`conformance images ready in ${Date.now() - t} ms: ${tar}`);
  return tar;
}

/**
 * The images of e2e.test's list (test/utils/image/manifest.go) that [Conformance] specs run, by the name the
 * framework gives them (image name without registry or tag). pause and etcd come with the cluster bundle.
 */
export const CONFORMANCE_IMAGES = [
  'agnhost',
  'busybox',
  'etcd',
  'glibc-dns-testing',
  'kitten',
  'nautilus',
  'nginx',
  'nonewprivs',
  'nonroot',
  'pause',
  'sample-apiserver',
];

/**
 * Every reference e2e.test uses for the images above (several tags of one image included), but for the private
 * registry's agnhost: only specs that pull with registry credentials run it, none of them [Conformance].
 */
export function requiredImages(tools: string): string[] {
  const all = execFileSync(join(tools, 'e2e.test'), ['--list-images'], { encoding: 'utf8', timeout: SYNC_TIMEOUT_MS })
    .trim()
    .split('\n')
    .filter((r) => !r.startsWith('gcr.io/k8s-authenticated-test/'));
  const nameOf = (ref: string) => ref.replace(/:[^/:]*$/, '').replace(/^.*\//, '');
  const refs = all.filter((r) => CONFORMANCE_IMAGES.includes(nameOf(r)));
  const missing = CONFORMANCE_IMAGES.filter((n) => !refs.some((r) => nameOf(r) === n));
  if (missing.length) throw new Error(`e2e.test --list-images names no ${missing.join(', ')} image`);
  return refs.sort();
}

/** Import the images tarball into every container's containerd (namespace k8s.io, where the kubelet looks). */
export async function loadImages(containers: string[], tar: string) {
  const t = Date.now();
  await Promise.all(
    containers.map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          const fd = openSync(tar, 'r');
          const child = spawn('docker', ['exec', '-i', c, 'ctr', '-n', 'k8s.io', 'images', 'import', '-'], {
            stdio: [fd, 'ignore', 'pipe'],
          });
          let stderr = '';
          child.stderr?.on('data', (d) => (stderr += d));
          child.on('error', reject);
          child.on('close', (code) => {
            closeSync(fd);
            if (code === 0) resolve();
            else reject(new Error(`importing ${tar} on ${c}: exit ${code}: ${stderr}`));
          });
        }),
    ),
  );
  console.log(`images imported on ${containers.join(', ')} in ${Date.now() - t} ms`);
}

/** Which of these images each container's containerd lacks: { container: [refs] }, only containers lacking some. */
export function missingImages(containers: string[], refs: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const c of containers) {
    const have = new Set(
      execFileSync('docker', ['exec', c, 'ctr', '-n', 'k8s.io', 'images', 'ls', '-q'], {
        encoding: 'utf8',
        timeout: SYNC_TIMEOUT_MS,
      })
        .trim()
        .split('\n'),
    );
    const lacking = refs.filter((r) => !have.has(r));
    if (lacking.length) out[c] = lacking;
  }
  return out;
}

export interface SpecResult {
  name: string;
  status: string;
  message?: string;
}

export interface RunResult {
  status: number | null;
  ms: number;
  specs: SpecResult[];
  log: string;
}

const xmlText = (s: string) =>
  s
    .replace(/&#39;/g, "'")
    .replace(/&#34;/g, '"')
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#xA;/g, '\n')
    .replace(/&amp;/g, '&');

/** The specs of a ginkgo JUnit report (the suite's setup and teardown nodes left out), with failure messages. */
export function parseJunit(xml: string): SpecResult[] {
  const specs: SpecResult[] = [];
  for (const m of xml.matchAll(/<testcase name="([^"]*)"[^>]*status="(\w+)"[^>]*>([\s\S]*?)<\/testcase>/g)) {
    const name = xmlText(m[1]);
    if (/^\[(SynchronizedBeforeSuite|SynchronizedAfterSuite|BeforeSuite|AfterSuite|ReportAfterSuite)\]/.test(name))
      continue;
    const failure = /<(?:failure|error) message="([^"]*)"/.exec(m[3]);
    specs.push({ name, status: m[2], ...(failure ? { message: xmlText(failure[1]) } : {}) });
  }
  return specs;
}

export const counts = (specs: SpecResult[]) => {
  const passed = specs.filter((s) => s.status === 'passed').length;
  const skipped = specs.filter((s) => s.status === 'skipped' || s.status === 'pending').length;
  return { passed, failed: specs.length - passed - skipped, skipped };
};
export const summary = (specs: SpecResult[]) => {
  const c = counts(specs);
  return `${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;
};

export interface RunOptions {
  tools: string;
  kubeconfig: string;
  /** Results directory of this run: the JUnit report lands in `<dir>/junit_01.xml`, the log in `<dir>/e2e.log`. */
  dir: string;
  focus: string;
  skip?: string;
  labelFilter?: string;
  /**
   * Which specs of the report this run selected: ginkgo's report also lists every spec its filters left out, as
   * skipped; those are not counted.
   */
  selected: (name: string) => boolean;
  /** Parallel ginkgo processes; 1 runs e2e.test alone (what [Serial] specs need). */
  nodes: number;
  timeoutMs: number;
}

type Filters = Pick<RunOptions, 'focus' | 'skip' | 'labelFilter'>;
const filterArgs = (o: Filters) => [
  `--focus=${o.focus}`,
  ...(o.skip ? [`--skip=${o.skip}`] : []),
  ...(o.labelFilter ? [`--label-filter=${o.labelFilter}`] : []),
];

/** How many specs a run with these filters selects: e2e.test's dry run, which touches no cluster. */
export async function plannedSpecs(tools: string, o: Filters): Promise<number> {
  const args = ['--ginkgo.dry-run', '--ginkgo.no-color', ...filterArgs(o).map((a) => a.replace(/^--/, '--ginkgo.'))];
  const out = await runOk(join(tools, 'e2e.test'), args);
  const ran = /Ran (\d+) of \d+ Specs/.exec(out);
  if (!ran) throw new Error(`e2e.test --ginkgo.dry-run printed no spec count: ${out.slice(-500)}`);
  return Number(ran[1]);
}

/**
 * Run e2e.test (through the ginkgo CLI when parallel) against the cluster; the framework writes the JUnit report of
 * every selected spec (passed, failed, skipped) into the results directory.
 */
export async function runSuite(o: RunOptions): Promise<RunResult> {
  mkdirSync(o.dir, { recursive: true });
  const suiteArgs = [
    `--kubeconfig=${o.kubeconfig}`,
    '--provider=skeleton',
    `--report-dir=${o.dir}`,
    // The lab's masters carry kubeadm's control-plane taint: the framework waits for the other nodes only.
    '--non-blocking-taints=node-role.kubernetes.io/control-plane',
  ];
  const ginkgoArgs = [...filterArgs(o), '--no-color', `--timeout=${Math.ceil(o.timeoutMs / 1000)}s`];
  const [cmd, args] =
    o.nodes > 1
      ? [join(o.tools, 'ginkgo'), [`--procs=${o.nodes}`, ...ginkgoArgs, join(o.tools, 'e2e.test'), '--', ...suiteArgs]]
      : [join(o.tools, 'e2e.test'), [...ginkgoArgs.map((a) => a.replace(/^--/, '--ginkgo.')), ...suiteArgs]];
  const t = Date.now();
  const log = join(o.dir, 'e2e.log');
  const out = openSync(log, 'w');
  // Asynchronous: a test worker blocked for the whole run misses vitest's RPC deadlines.
  const status = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
    const timer = setTimeout(() => child.kill('SIGTERM'), o.timeoutMs + 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      closeSync(out);
      resolve(code);
    });
  });
  const ms = Date.now() - t;
  const junit = join(o.dir, 'junit_01.xml');
  if (!existsSync(junit)) throw new Error(`no JUnit report from ${cmd} (exit ${status}); see ${log}`);
  const specs = parseJunit(readFileSync(junit, 'utf8')).filter((s) => o.selected(s.name));
  writeFileSync(join(o.dir, 'summary.txt'), `${summary(specs)} in ${Math.round(ms / 1000)} s\n`);
  return { status, ms, specs, log };
}
