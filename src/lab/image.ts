import { mkdtempSync, rmSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';
import { UserError } from '../errors/index.js';
import { render } from '../templates/render.js';
import { LAB_ROOTFS_PACKAGES } from './packages.js';

/** Bump when the recipe changes, so old cached images are not reused: the rootfs and the node layer separately. */
export const LAB_BASE_IMAGE = 'kprov-lab-base:bookworm-1';
export const LAB_NODE_IMAGE = 'kprov-lab-node:bookworm-6';

const q = $({ quiet: true });

export async function imageExists(image: string): Promise<boolean> {
  const r = await q({ nothrow: true })`docker image inspect ${image}`;
  return r.exitCode === 0;
}

/**
 * Build the lab node image locally: no registry pulls. mmdebstrap makes a Debian rootfs from the
 * package mirror, docker imports it, and a small Dockerfile adds the PID-1 wrapper and systemd tweaks.
 */
export async function ensureLabImage(progress: (m: string) => void = () => {}): Promise<string> {
  if (await imageExists(LAB_NODE_IMAGE)) return LAB_NODE_IMAGE;
  if (!(await imageExists(LAB_BASE_IMAGE))) {
    const which = await q({ nothrow: true })`command -v mmdebstrap`;
    if (which.exitCode !== 0)
      throw new UserError('building the lab image needs mmdebstrap: apt-get install mmdebstrap');
    const dir = mkdtempSync(join(tmpdir(), 'kprov-rootfs-'));
    try {
      progress('building a Debian bookworm rootfs with mmdebstrap (about a minute, once)');
      const packages = LAB_ROOTFS_PACKAGES.join(',');
      await q`mmdebstrap --variant=minbase --include=${packages} bookworm ${join(dir, 'rootfs.tar')}`;
      await q`docker import ${join(dir, 'rootfs.tar')} ${LAB_BASE_IMAGE}`;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const ctx = mkdtempSync(join(tmpdir(), 'kprov-image-'));
  try {
    progress(`building ${LAB_NODE_IMAGE}`);
    for (const f of ['lab-init', 'kprov-lab-cgroups.service'])
      copyFileSync(fileURLToPath(new URL(`../../templates/lab/${f}`, import.meta.url)), join(ctx, f));
    writeFileSync(join(ctx, 'Dockerfile'), render('lab/Dockerfile', { baseImage: LAB_BASE_IMAGE }));
    await q({ env: { ...process.env, DOCKER_BUILDKIT: '0' } })`docker build -q -t ${LAB_NODE_IMAGE} ${ctx}`;
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return LAB_NODE_IMAGE;
}
