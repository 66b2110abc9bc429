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

export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
const NODE_PACKAGES = ['containerd', 'runc', 'conntrack', 'socat', 'iptables', 'ethtool'];

/** containerd's files: config.toml, a hosts.toml per insecure or mirrored registry, and crictl's config. */
export function containerdFiles(cluster: ClusterSettings, facts: Pick<Facts, 'canLowerOomScore'>): DesiredFile[] {
  const files: DesiredFile[] = [
    {
      path: CONTAINERD_CONFIG,
      content: render('containerd/config.toml', {
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

/** containerd + runc from the distribution, systemd cgroups, the cluster's pause image; running and answering. */
export const runtimePhase: Phase = {
  title: 'Container runtime',
  async runHost(host, ctx) {
    const facts = host.requireFacts();
    const names = packageNames(facts, NODE_PACKAGES);
    const missing = (await host.sudo(missingPackagesCommand(facts, names), { step: 'inspect packages' })).stdout
      .split('\n')
      .filter(Boolean);
    if (missing.length > 0) {
      await host.change(`install ${missing.join(', ')}`, () =>
        host.sudo(installCommand(facts, missing), { step: 'install packages', timeoutMs: ctx.commandTimeoutMs }),
      );
    }
    const wanted = containerdFiles(ctx.resolved.cluster, facts);
    await host.ensureFiles(wanted);
    await removeStaleRegistryFiles(
      host,
      wanted.map((f) => f.path),
    );
    // Converge on what runs, not on what this run changed: a run stopped after writing config.toml restarts it
    // next time. A fresh package starts containerd with its default config, so it is restarted once too.
    await ensureServiceCurrent(host, 'containerd', [CONTAINERD_CONFIG]);
    if (host.dryRun) return;
    // Proof: the daemon answers and its CRI plugin is loaded.
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
  },
};
