import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors/index.js';
import { imageRefsInTar } from './tar.js';

/**
 * An offline artifact bundle (artifacts_dir):
 *   bin/kubelet, bin/kubectl     Kubernetes binaries for the hosts' architecture
 *   cni/*                        CNI plugins (optional; otherwise the distribution's package)
 *   images/*.tar                 container images (docker-archive or OCI layout) to import into containerd
 *   SHA256SUMS                   optional "<sha256>  <relative path>" lines, checked before anything is sent
 */
export interface Bundle {
  dir: string;
  binaries: Record<string, string>;
  cniPlugins: string[];
  images: { file: string; refs: string[] }[];
}

export function loadBundle(dir: string): Bundle {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`artifacts_dir ${dir} is not a directory`);
  const binaries: Record<string, string> = {};
  for (const name of ['kubelet', 'kubectl']) {
    const p = join(dir, 'bin', name);
    if (!existsSync(p)) throw new UserError(`artifacts_dir ${dir} has no bin/${name}`);
    binaries[name] = p;
  }
  const cniDir = join(dir, 'cni');
  const cniPlugins = existsSync(cniDir) ? readdirSync(cniDir).map((f) => join(cniDir, f)) : [];
  const imagesDir = join(dir, 'images');
  const images = existsSync(imagesDir)
    ? readdirSync(imagesDir).filter((f) => f.endsWith('.tar')).sort().map((f) => {
        const file = join(imagesDir, f);
        const refs = imageRefsInTar(file);
        if (refs.length === 0) throw new UserError(`image tarball ${file} names no image (docker save with a tag, or an OCI layout with a ref.name annotation)`);
        return { file, refs };
      })
    : [];
  verifyChecksums(dir);
  return { dir, binaries, cniPlugins, images };
}

function verifyChecksums(dir: string): void {
  const sums = join(dir, 'SHA256SUMS');
  if (!existsSync(sums)) return;
  for (const [i, line] of readFileSync(sums, 'utf8').split('\n').entries()) {
    const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
    if (!m) continue;
    const path = join(dir, m[2]);
    if (!existsSync(path)) throw new UserError(`SHA256SUMS line ${i + 1}: ${m[2]} is missing`, { file: sums, line: i + 1 });
    const actual = createHash('sha256').update(readFileSync(path)).digest('hex');
    if (actual !== m[1]) throw new UserError(`checksum mismatch for ${m[2]}: expected ${m[1]}, got ${actual}`, { file: sums, line: i + 1 });
  }
}
