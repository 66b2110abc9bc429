import { createReadStream, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { HostError } from '../errors/index.js';
import { REFERENCE_CNI_PLUGINS, type Bundle } from '../artifacts/bundle.js';
import { installCommand, missingPackagesCommand } from '../os/packages.js';
import { shq } from '../ssh/quote.js';
import { kubeletUnit } from '../kubeadm/kubelet.js';
import { makeRootStagingDir, rootStagingDir, takeUpload, type DesiredFile } from '../ssh/files.js';
import type { Host } from '../host/host.js';
import type { Phase } from './phase.js';

export const KUBELET_UNIT = '/etc/systemd/system/kubelet.service';
const CNI_BIN = '/opt/cni/bin';
const CONTROL_PLANE_IMAGES = /\/(kube-apiserver|kube-controller-manager|kube-scheduler|etcd):/;

const archOf = (host: Host) => (host.requireFacts().arch === 'aarch64' ? 'arm64' : 'amd64');

/**
 * kubelet (and kubectl on control-plane hosts), the kubelet unit, and (without a bundle's) the distribution's CNI
 * plugins. From the artifact bundle when there is one (sent only when its sha256 differs), otherwise downloaded on
 * the host from the official release layout and checked against the published sha256. The version may be known
 * only once the run has started (a join to a cluster kprov did not create takes the cluster's): then a function.
 */
export function binariesPhase(versionOf: string | (() => string), bundle: Bundle | undefined): Phase {
  const cache = new Map<string, Buffer>();
  const bytes = (p: string) => {
    if (!cache.has(p)) cache.set(p, readFileSync(p));
    return cache.get(p)!;
  };
  return {
    title: 'Kubernetes binaries',
    async runHost(host, ctx) {
      const version = typeof versionOf === 'string' ? versionOf : versionOf();
      const names = host.spec.controlPlane ? ['kubelet', 'kubectl'] : ['kubelet'];
      const files: DesiredFile[] = [{ path: KUBELET_UNIT, content: kubeletUnit('/usr/bin/kubelet'), mode: 0o644 }];
      if (bundle) {
        // The bundle's CNI plugins were installed with the runtime (they belong to containerd's CRI plugin).
        for (const n of names) files.push({ path: `/usr/bin/${n}`, content: bytes(bundle.binaries[n]), mode: 0o755 });
      } else {
        const versions = await host.sudo(
          names
            .map((n) => `/usr/bin/${n} --version 2>/dev/null | grep -o 'v[0-9.]*' | head -n1 || echo none`)
            .join('; '),
          { step: 'inspect binaries', allowFailure: true },
        );
        const have = versions.stdout.trim().split('\n');
        for (const [i, n] of names.entries()) {
          if (have[i] === version) continue;
          const url = `https://dl.k8s.io/release/${version}/bin/linux/${archOf(host)}/${n}`;
          await host.change(`download ${n} ${version}`, () =>
            host.sudo(
              `set -e; t=$(mktemp); curl -fsSL --retry 3 -o "$t" ${shq(url)}; ` +
                `echo "$(curl -fsSL --retry 3 ${shq(`${url}.sha256`)})  $t" | sha256sum -c - >/dev/null || ` +
                `{ echo "checksum mismatch for ${n}" >&2; rm -f "$t"; exit 1; }; ` +
                `install -m 0755 "$t" /usr/bin/${n}; rm -f "$t"`,
              { step: `download ${n}`, timeoutMs: ctx.commandTimeoutMs },
            ),
          );
        }
      }
      const changed = await host.ensureFiles(files);
      if (changed.includes(KUBELET_UNIT))
        await host.change('reload systemd units', () =>
          host.sudo('systemctl daemon-reload', { step: 'daemon-reload' }),
        );
      if (!bundle || bundle.cniPlugins.length === 0) {
        // The distribution's reference plugins (Debian: containernetworking-plugins in /usr/lib/cni), linked where
        // containerd looks.
        const facts = host.requireFacts();
        const missing = (
          await host.sudo(missingPackagesCommand(facts, ['containernetworking-plugins']), { step: 'inspect CNI' })
        ).stdout.trim();
        if (missing)
          await host.change('install containernetworking-plugins', () =>
            host.sudo(installCommand(facts, ['containernetworking-plugins']), {
              step: 'install CNI plugins',
              timeoutMs: ctx.commandTimeoutMs,
            }),
          );
        const links = await host.sudo(
          REFERENCE_CNI_PLUGINS.map((p) => `[ -e ${CNI_BIN}/${p} ] || echo ${p}`).join('; '),
          {
            step: 'inspect CNI',
          },
        );
        const absent = links.stdout.split('\n').filter(Boolean);
        if (absent.length > 0) {
          await host.change(`link CNI plugins ${absent.join(', ')} into ${CNI_BIN}`, () =>
            host.sudo(
              `mkdir -p ${CNI_BIN} && for p in ${absent.join(' ')}; do ` +
                'for d in /usr/lib/cni /usr/libexec/cni; do ' +
                `[ -x "$d/$p" ] && ln -sf "$d/$p" ${CNI_BIN}/$p && break; done; ` +
                `[ -e ${CNI_BIN}/$p ] || { echo "CNI plugin $p not found" >&2; exit 1; }; done`,
              { step: 'link CNI plugins' },
            ),
          );
        }
      }
    },
  };
}

/** Import the bundle's images into containerd's k8s.io namespace, skipping images already there. */
export function imagesPhase(bundle: Bundle | undefined): Phase {
  const hashes = new Map<string, Promise<string>>();
  const imageSha = (file: string) => {
    if (!hashes.has(file)) hashes.set(file, sha256File(file));
    return hashes.get(file)!;
  };
  return {
    title: 'Container images',
    async runHost(host) {
      if (!bundle || bundle.images.length === 0) return; // online: the kubelet pulls from image_repository
      // A dry run on a host the runtime phase has not set up yet has no ctr: then no image is there.
      const listed = await host.sudo('ctr -n k8s.io images ls -q', { step: 'list images', allowFailure: host.dryRun });
      const present = new Set(listed.code === 0 ? listed.stdout.split('\n').filter(Boolean) : []);
      for (const image of bundle.images) {
        if (!host.spec.controlPlane && image.refs.every((r) => CONTROL_PLANE_IMAGES.test(r))) continue;
        if (image.refs.every((r) => present.has(r))) continue;
        await host.change(`import ${image.refs.join(', ')}`, async () => {
          const sha = await imageSha(image.file);
          const upload = await host.conn.stageFile(image.file);
          // containerd reads root's own checked copy, never the login user's upload.
          const dir = rootStagingDir();
          const copy = `${dir}/image.tar`;
          host.conn.trackStaging(dir);
          try {
            await host.sudo(
              `set -e; ( ${makeRootStagingDir(dir)} ); ( ${takeUpload(upload, copy, sha, basename(image.file))} ); ` +
                `ctr -n k8s.io images import ${shq(copy)} >/dev/null`,
              { step: `import ${basename(image.file)}`, timeoutMs: 600_000 },
            );
          } finally {
            await host.sudo(`rm -rf ${shq(upload)} ${shq(dir)}`, { allowFailure: true, step: 'clean staging' });
            host.conn.untrackStaging(upload);
            host.conn.untrackStaging(dir);
          }
          const after = new Set(
            (await host.sudo('ctr -n k8s.io images ls -q', { step: 'list images' })).stdout.split('\n'),
          );
          const still = image.refs.filter((r) => !after.has(r));
          if (still.length)
            throw new HostError(
              host.name,
              `after importing ${basename(image.file)}, containerd still lacks ${still.join(', ')}`,
              { step: 'import images' },
            );
        });
      }
    },
  };
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('error', reject)
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')));
  });
}
