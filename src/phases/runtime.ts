import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { CONTAINERD_CRI_SOCKET } from '../kubeadm/constants.js';
import { render } from '../templates/render.js';
import { installCommand, missingPackagesCommand, packageNames } from '../os/packages.js';
import { HostError } from '../errors/index.js';
import { pauseImage } from '../kubeadm/images.js';
import type { Phase } from './phase.js';
import type { Host } from '../host/host.js';
import { shq } from '../ssh/quote.js';
import type { DesiredFile } from '../ssh/files.js';
import type { ClusterSettings } from '../config/settings.js';
import type { Facts } from '../host/facts.js';
import { ensureServiceCurrent } from '../host/service.js';
import { RUNTIME_BINARIES, type Bundle, type BundleRuntime, type RuntimeBinary } from '../artifacts/bundle.js';

export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
/** The unit for a bundle's containerd; in /etc, so it takes precedence over a distribution package's unit. */
export const CONTAINERD_UNIT = '/etc/systemd/system/containerd.service';
export const CNI_BIN = '/opt/cni/bin';
/**
 * Where a bundle's runtime is installed: containerd's release layout under /usr/local (the path its own unit starts
 * and its getting-started guide uses), runc where its `make install` puts it. Both directories come before /usr in
 * the PATH systemd gives services and sudo gives commands, so these win over a distribution's copies.
 */
export const RUNTIME_PATHS: Record<RuntimeBinary, string> = {
  containerd: '/usr/local/bin/containerd',
  'containerd-shim-runc-v2': '/usr/local/bin/containerd-shim-runc-v2',
  ctr: '/usr/local/bin/ctr',
  runc: '/usr/local/sbin/runc',
};

/** The distribution's runtime packages: the online path only. */
const RUNTIME_PACKAGES = ['containerd', 'runc'];

/**
 * What a node needs on the host beyond the runtime, as kubeadm v1.32+ preflight checks it (`mount`, `losetup`; its
 * conntrack check ends with kube-proxy v1.32, which runs in its own image anyway), plus iptables, which the portmap
 * CNI plugin of kprov's flannel configuration runs on the host for hostPort pods and the kubelet uses for its
 * KUBE-IPTABLES-HINT chain (how iptables wrappers in kube-proxy and flannel images pick legacy or nft). Not needed:
 * socat and ethtool (containerd forwards ports itself; nothing runs ethtool) and conntrack (kube-proxy v1.32+ and
 * the CNI plugins clear conntrack entries over netlink). `package` is the logical name of the package that has it.
 */
export const HOST_TOOLS: { tool: string; package: string; why: string }[] = [
  {
    tool: 'iptables',
    package: 'iptables',
    why: "hostPort through the portmap CNI plugin, the kubelet's iptables chains",
  },
  { tool: 'mount', package: 'mount', why: 'the kubelet mounts volumes' },
  { tool: 'losetup', package: 'mount', why: "the kubelet's block volumes" },
];

/** "v2.4.2", "1.6.20~ds1", "2.1.4" -> the major version. */
export function containerdMajor(version: string | undefined): number | undefined {
  const m = /^v?(\d+)\.\d+/.exec(version?.trim() ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * The config.toml schema for the containerd that will read it: 3 (CRI plugin ids io.containerd.cri.v1.*) for 2.x,
 * 2 for 1.x, and 2 when the version is not known yet (a dry run before the package is installed): 2.x reads it too.
 */
export function containerdConfigVersion(major: number | undefined): 2 | 3 {
  return major !== undefined && major >= 2 ? 3 : 2;
}

/** containerd's files: config.toml, a hosts.toml per insecure or mirrored registry, and crictl's config. */
export function containerdFiles(
  cluster: ClusterSettings,
  facts: Pick<Facts, 'canLowerOomScore'>,
  containerd: { major?: number } = {},
): DesiredFile[] {
  const schema = containerdConfigVersion(containerd.major);
  const files: DesiredFile[] = [
    {
      path: CONTAINERD_CONFIG,
      content: render(schema === 3 ? 'containerd/config-v3.toml' : 'containerd/config.toml', {
        sandboxImage: pauseImage(cluster),
        systemdCgroup: true,
        restrictOomScoreAdj: !facts.canLowerOomScore,
      }),
      mode: 0o644,
    },
    {
      path: '/etc/crictl.yaml',
      content: render('containerd/crictl.yaml', { criSocket: CONTAINERD_CRI_SOCKET }),
      mode: 0o644,
    },
  ];
  // containerd reads these on every pull (config_path): adding or changing one needs no restart.
  const mirrored = Object.keys(cluster.registryMirrors);
  for (const registry of cluster.insecureRegistries.filter((r) => !mirrored.includes(r))) {
    files.push({
      path: `/etc/containerd/certs.d/${registry}/hosts.toml`,
      content: render('containerd/hosts.toml', { registry, server: `http://${registry}` }),
      mode: 0o644,
    });
  }
  for (const [upstream, urls] of Object.entries(cluster.registryMirrors)) {
    // Written as parsed (what was validated), never the raw string: no backslashes, no trailing slash.
    const mirrors = urls
      .map((raw) => new URL(raw))
      .map((u) => ({ url: u.href.replace(/\/+$/, ''), skipVerify: cluster.insecureRegistries.includes(u.host) }));
    // Docker Hub's API is not at its image name's host.
    const server = upstream === 'docker.io' ? 'https://registry-1.docker.io' : `https://${upstream}`;
    files.push({
      path: `/etc/containerd/certs.d/${upstream}/hosts.toml`,
      content: render('containerd/hosts-mirrors.toml', { upstream, server, mirrors }),
      mode: 0o644,
    });
  }
  return files;
}

/**
 * The files a bundle puts on a host: its runtime binaries (when it has one) with containerd's unit, and its CNI
 * plugins in /opt/cni/bin, where containerd's CRI plugin looks for them. read() gives a local file's bytes.
 */
export function bundleFiles(
  bundle: Pick<Bundle, 'runtime' | 'cniPlugins'>,
  read: (localPath: string) => Buffer,
): DesiredFile[] {
  const files: DesiredFile[] = [];
  if (bundle.runtime) {
    for (const b of RUNTIME_BINARIES)
      files.push({ path: RUNTIME_PATHS[b], content: read(bundle.runtime.binaries[b]), mode: 0o755 });
    files.push({
      path: CONTAINERD_UNIT,
      content: render('containerd/containerd.service', { containerd: RUNTIME_PATHS.containerd }),
      mode: 0o644,
    });
  }
  for (const p of bundle.cniPlugins) files.push({ path: `${CNI_BIN}/${basename(p)}`, content: read(p), mode: 0o755 });
  return files;
}

/** The files whose change means containerd must be restarted to run with them. */
export function containerdRestartOn(runtime: BundleRuntime | undefined): string[] {
  return runtime ? [CONTAINERD_CONFIG, CONTAINERD_UNIT, RUNTIME_PATHS.containerd] : [CONTAINERD_CONFIG];
}

const CERTS_D = '/etc/containerd/certs.d';
export const MANAGED_MARK = '# Managed by kprov';

/** A registry dropped from the inventory loses its hosts.toml too; files kprov did not write are left alone. */
async function removeStaleRegistryFiles(host: Host, wanted: string[]): Promise<void> {
  const r = await host.sudo(
    `for f in ${CERTS_D}/*/hosts.toml; do ` +
      `[ -f "$f" ] && head -n 1 "$f" | grep -q ${shq(`^${MANAGED_MARK}`)} && echo "$f"; done; true`,
    { step: 'inspect registry config' },
  );
  for (const stale of r.stdout.split('\n').filter((f) => f && !wanted.includes(f))) {
    await host.change(`remove ${stale} (registry no longer in the inventory)`, () =>
      host.sudo(`rm -f ${shq(stale)} && rmdir --ignore-fail-on-non-empty ${shq(stale.replace(/\/hosts\.toml$/, ''))}`, {
        step: 'remove registry config',
      }),
    );
  }
}

/** Shell printing the tools (of HOST_TOOLS) that are not on root's PATH. Read-only. */
export function missingToolsCommand(): string {
  return `for t in ${HOST_TOOLS.map((t) => t.tool).join(' ')}; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done`;
}

/**
 * With the bundle's runtime nothing is installed from packages, so a host lacking a tool a node needs stops here,
 * before anything changed, with what to install.
 */
async function requireHostTools(host: Host): Promise<void> {
  const missing = (await host.sudo(missingToolsCommand(), { step: 'inspect host tools' })).stdout
    .split('\n')
    .filter(Boolean);
  if (missing.length === 0) return;
  const facts = host.requireFacts();
  const lacking = HOST_TOOLS.filter((t) => missing.includes(t.tool));
  const packages = [
    ...new Set(
      packageNames(
        facts,
        lacking.map((t) => t.package),
      ),
    ),
  ];
  throw new HostError(
    host.name,
    `${missing.join(', ')} not found (${lacking.map((t) => `${t.tool}: ${t.why}`).join('; ')}). The artifact bundle ` +
      `provides the container runtime, so kprov installs no packages: install ${packages.join(' ')} on this host`,
    { step: 'inspect host tools' },
  );
}

/** The online path: the distribution's containerd and runc, and the packages of missing host tools. */
async function installPackages(host: Host, commandTimeoutMs: number): Promise<boolean> {
  const facts = host.requireFacts();
  const out = (
    await host.sudo(
      `${missingPackagesCommand(facts, packageNames(facts, RUNTIME_PACKAGES))}; ${missingToolsCommand()} | ` +
        `sed 's/^/tool:/'`,
      { step: 'inspect packages' },
    )
  ).stdout
    .split('\n')
    .filter(Boolean);
  const tools = out.filter((l) => l.startsWith('tool:')).map((l) => l.slice(5));
  const missing = [
    ...new Set([
      ...out.filter((l) => !l.startsWith('tool:')),
      ...packageNames(
        facts,
        HOST_TOOLS.filter((t) => tools.includes(t.tool)).map((t) => t.package),
      ),
    ]),
  ];
  if (missing.length === 0) return false;
  await host.change(`install ${missing.join(', ')}`, () =>
    host.sudo(installCommand(facts, missing), { step: 'install packages', timeoutMs: commandTimeoutMs }),
  );
  return true;
}

/**
 * containerd + runc, systemd cgroups, the cluster's pause image; running and answering. From the artifact bundle when
 * it has a runtime (binaries, containerd's unit, CNI plugins; no package manager at all), otherwise from the
 * distribution's packages. The config schema follows the containerd that will read it.
 */
export function runtimePhase(bundle?: Bundle): Phase {
  const cache = new Map<string, Buffer>();
  const read = (p: string) => {
    if (!cache.has(p)) cache.set(p, readFileSync(p));
    return cache.get(p)!;
  };
  const runtime = bundle?.runtime;
  return {
    title: 'Container runtime',
    async runHost(host, ctx) {
      const facts = host.requireFacts();
      let major: number | undefined;
      if (runtime) {
        if (runtime.arch !== facts.arch)
          throw new HostError(
            host.name,
            `the artifact bundle's runtime is built for ${runtime.arch}, this host is ${facts.arch}`,
            { step: 'check architecture' },
          );
        await requireHostTools(host);
        major = runtime.containerdMajor;
      } else {
        const installed = await installPackages(host, ctx.commandTimeoutMs);
        major = containerdMajor(facts.containerdVersion);
        if (installed || major === undefined) {
          // Freshly installed (or not there yet in a dry run): ask the binary which containerd it is.
          const v = await host.sudo(`containerd --version 2>/dev/null | awk '{print $3}'`, {
            step: 'inspect containerd',
            allowFailure: true,
          });
          major = containerdMajor(v.stdout);
        }
      }
      const config = containerdFiles(ctx.resolved.cluster, facts, { major });
      const files = [...(bundle ? bundleFiles(bundle, read) : []), ...config];
      const changed = await host.ensureFiles(files);
      await removeStaleRegistryFiles(
        host,
        config.map((f) => f.path),
      );
      // Converge on what runs, not on what this run changed: a run stopped after writing config.toml restarts it
      // next time. A fresh package starts containerd with its default config, so it is restarted once too.
      await ensureServiceCurrent(host, 'containerd', containerdRestartOn(runtime), {
        planned: files,
        reload: changed.includes(CONTAINERD_UNIT),
      });
      if (host.dryRun) return;
      // Proof: the daemon answers, it is the containerd this phase installed, and its CRI plugin is loaded.
      const check = await host.sudo(
        `for i in $(seq 1 30); do ctr version >/dev/null 2>&1 && break; sleep 1; done; ` +
          `ctr version | grep -A1 '^Server' | tail -n 1; ` +
          `ctr plugins ls | awk '$2 == "cri" { print "cri=" $4 }'`,
        { step: 'verify containerd', timeoutMs: 60_000 },
      );
      if (!/cri=ok/.test(check.stdout)) {
        throw new HostError(host.name, `containerd is running but its CRI plugin is not ok`, {
          step: 'verify containerd',
          stderrTail: check.stdout,
        });
      }
      const serving = /Version:\s*(\S+)/.exec(check.stdout)?.[1];
      if (runtime?.containerdVersion && serving !== runtime.containerdVersion) {
        throw new HostError(
          host.name,
          `containerd answers as ${serving ?? 'an unknown version'}, not the bundle's ${runtime.containerdVersion}`,
          { step: 'verify containerd', stderrTail: check.stdout },
        );
      }
    },
  };
}
