import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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

/**
 * Read a bundle and check it against its SHA256SUMS. With a cache file, a file whose size, mtime and inode
 * match its last successful check is not hashed again (rsync's quick check): a 1.8 GB bundle costs seconds.
 */
export function loadBundle(dir: string, checkedCache?: string): Bundle {
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
    ? readdirSync(imagesDir)
        .filter((f) => f.endsWith('.tar'))
        .sort()
        .map((f) => {
          const file = join(imagesDir, f);
          const refs = imageRefsInTar(file);
          if (refs.length === 0)
            throw new UserError(
              `image tarball ${file} names no image ` +
                '(docker save with a tag, or an OCI layout with a ref.name annotation)',
            );
          return { file, refs };
        })
    : [];
  verifyChecksums(dir, checkedCache);
  return { dir, binaries, cniPlugins, images };
}

type Checked = Record<string, { sha256: string; size: number; mtimeMs: number; ino: number }>;

function readChecked(file: string | undefined): Checked {
  if (!file || !existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Checked;
  } catch {
    return {};
  }
}

function verifyChecksums(dir: string, cacheFile?: string): void {
  const sums = join(dir, 'SHA256SUMS');
  if (!existsSync(sums)) return;
  const checked = readChecked(cacheFile);
  let dirty = false;
  for (const [i, line] of readFileSync(sums, 'utf8').split('\n').entries()) {
    const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
    if (!m) continue;
    const path = resolve(dir, m[2]);
    if (!existsSync(path))
      throw new UserError(`SHA256SUMS line ${i + 1}: ${m[2]} is missing`, { file: sums, line: i + 1 });
    const st = statSync(path);
    const seen = checked[path];
    if (seen && seen.sha256 === m[1] && seen.size === st.size && seen.mtimeMs === st.mtimeMs && seen.ino === st.ino)
      continue;
    const actual = sha256File(path);
    if (actual !== m[1])
      throw new UserError(`checksum mismatch for ${m[2]}: expected ${m[1]}, got ${actual}`, {
        file: sums,
        line: i + 1,
      });
    checked[path] = { sha256: actual, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
    dirty = true;
  }
  if (cacheFile && dirty) {
    mkdirSync(dirname(cacheFile), { recursive: true, mode: 0o700 });
    writeFileSync(cacheFile, JSON.stringify(checked, null, 1) + '\n', { mode: 0o600 });
  }
}

/** sha256 of a file read in chunks (image tarballs are hundreds of MB). */
function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}
