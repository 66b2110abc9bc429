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
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors/index.js';
import { imageRefsInTar } from './tar.js';

/**
 * An offline artifact bundle (artifacts_dir):
 *   bin/kubelet, bin/kubectl     Kubernetes binaries for the hosts' architecture
 *   runtime/bin/containerd, runtime/bin/containerd-shim-runc-v2, runtime/bin/ctr, runtime/bin/runc
 *                                the container runtime (optional, all four or none; static Linux executables):
 *                                installed with its systemd unit instead of the distribution's packages
 *   cni/*                        CNI plugins (optional; otherwise the distribution's package): at least bridge,
 *                                host-local, loopback and portmap, which kprov's flannel configuration uses
 *   images/*.tar                 container images (docker-archive or OCI layout) to import into containerd
 *   SHA256SUMS                   optional "<sha256>  <relative path>" lines, checked before anything is sent
 */
export interface Bundle {
  dir: string;
  /** kubelet and kubectl (always present in a bundle loaded for init). */
  binaries: Record<string, string>;
  cniPlugins: string[];
  images: { file: string; refs: string[] }[];
  runtime?: BundleRuntime;
}

export const RUNTIME_BINARIES = ['containerd', 'containerd-shim-runc-v2', 'ctr', 'runc'] as const;
/** The reference CNI plugins kprov's flannel configuration uses (flannel delegates to bridge and host-local). */
export const REFERENCE_CNI_PLUGINS = ['bridge', 'host-local', 'loopback', 'portmap'];
export type RuntimeBinary = (typeof RUNTIME_BINARIES)[number];

/** The bundle's container runtime, as its containerd binary describes itself. */
export interface BundleRuntime {
  binaries: Record<RuntimeBinary, string>;
  /** containerd's major version (from its Go module path): decides the configuration schema kprov writes. */
  containerdMajor: number;
  /** containerd's module version, when its build information carries one. */
  containerdVersion?: string;
  /** The machine the binaries are for, as `uname -m` names it (x86_64, aarch64). */
  arch: string;
}

/** What a bundle is loaded for: init needs the Kubernetes binaries; prepare uses only the runtime and CNI plugins. */
export type BundleUse = 'init' | 'prepare';

/**
 * Read a bundle and check it against its SHA256SUMS. With a cache file, a file whose size, mtime and inode
 * match its last successful check is not hashed again (rsync's quick check): a 1.8 GB bundle costs seconds.
 * For prepare, only the runtime and CNI plugins are read and checked.
 */
export function loadBundle(dir: string, checkedCache?: string, use: BundleUse = 'init'): Bundle {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`artifacts_dir ${dir} is not a directory`);
  const binaries: Record<string, string> = {};
  for (const name of ['kubelet', 'kubectl']) {
    const p = join(dir, 'bin', name);
    if (existsSync(p)) binaries[name] = p;
    else if (use === 'init') throw new UserError(`artifacts_dir ${dir} has no bin/${name}`);
  }
  const cniDir = join(dir, 'cni');
  const cniPlugins = existsSync(cniDir) ? readdirSync(cniDir).map((f) => join(cniDir, f)) : [];
  const imagesDir = join(dir, 'images');
  const images =
    use === 'init' && existsSync(imagesDir)
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
  verifyChecksums(dir, checkedCache, use === 'prepare' ? (p) => /^(runtime|cni)\//.test(p) : () => true);
  const runtime = loadRuntime(dir);
  const lacking = REFERENCE_CNI_PLUGINS.filter((p) => !cniPlugins.some((f) => basename(f) === p));
  // With a runtime the bundle stands in for every package, the distribution's CNI plugins included.
  if (runtime && lacking.length > 0)
    throw new UserError(`artifacts_dir ${dir} has a runtime but its cni/ lacks ${lacking.join(', ')}`);
  return { dir, binaries, cniPlugins, images, runtime };
}

function loadRuntime(dir: string): BundleRuntime | undefined {
  const binDir = join(dir, 'runtime', 'bin');
  const paths = Object.fromEntries(RUNTIME_BINARIES.map((b) => [b, join(binDir, b)])) as Record<RuntimeBinary, string>;
  const present = RUNTIME_BINARIES.filter((b) => existsSync(paths[b]));
  if (present.length === 0) return undefined;
  const missing = RUNTIME_BINARIES.filter((b) => !present.includes(b));
  if (missing.length > 0)
    throw new UserError(
      `artifacts_dir ${dir} has an incomplete runtime: runtime/bin/ lacks ${missing.join(', ')} ` +
        `(a bundle's runtime is ${RUNTIME_BINARIES.join(', ')})`,
    );
  const archs = new Set<string>();
  for (const b of RUNTIME_BINARIES) {
    const arch = elfMachine(readHead(paths[b], 64));
    if (!arch) throw new UserError(`runtime/bin/${b} in ${dir} is not a Linux executable for x86_64 or aarch64`);
    archs.add(arch);
  }
  if (archs.size > 1) throw new UserError(`runtime/bin/ in ${dir} mixes architectures: ${[...archs].join(', ')}`);
  const module = containerdModule(goModInfo(readFileSync(paths.containerd)) ?? '');
  if (!module)
    throw new UserError(
      `runtime/bin/containerd in ${dir} carries no Go build information naming containerd's module ` +
        '(is it containerd?)',
    );
  return { binaries: paths, containerdMajor: module.major, containerdVersion: module.version, arch: [...archs][0] };
}

function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** The machine of a little-endian ELF executable, named as `uname -m` names it. */
export function elfMachine(head: Buffer): string | undefined {
  if (head.length < 20 || head.toString('latin1', 0, 4) !== '\x7fELF' || head[5] !== 1) return undefined;
  return { 62: 'x86_64', 183: 'aarch64' }[head.readUInt16LE(18)];
}

/**
 * The module information Go links into every binary (what `go version -m` prints): the "\xff Go buildinf:"
 * header, then (Go 1.18 and later, flag 2) the Go version and the module lines as varint-prefixed strings.
 */
export function goModInfo(binary: Buffer): string | undefined {
  const at = binary.indexOf('\xff Go buildinf:', 0, 'latin1');
  if (at < 0 || (binary[at + 15] & 2) === 0) return undefined;
  let pos = at + 32;
  const next = (): string | undefined => {
    let len = 0;
    for (let shift = 0; pos < binary.length; shift += 7) {
      const b = binary[pos++];
      len += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    if (pos + len > binary.length) return undefined;
    const s = binary.toString('utf8', pos, pos + len);
    pos += len;
    return s;
  };
  if (next() === undefined) return undefined;
  const mod = next();
  // Between 16-byte sentinels, as the linker writes it.
  return mod && mod.length >= 33 && mod[mod.length - 17] === '\n' ? mod.slice(16, -16) : mod;
}

/** containerd's module among the module lines: its major version from the path, its version if recorded. */
export function containerdModule(modInfo: string): { major: number; version?: string } | undefined {
  const m = /^(?:mod|dep)\tgithub\.com\/containerd\/containerd(?:\/v(\d+))?\t(\S+)/m.exec(modInfo);
  if (!m) return undefined;
  return { major: m[1] ? Number(m[1]) : 1, version: /^v\d/.test(m[2]) ? m[2] : undefined };
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

function verifyChecksums(dir: string, cacheFile: string | undefined, wanted: (path: string) => boolean): void {
  const sums = join(dir, 'SHA256SUMS');
  if (!existsSync(sums)) return;
  const checked = readChecked(cacheFile);
  let dirty = false;
  for (const [i, line] of readFileSync(sums, 'utf8').split('\n').entries()) {
    const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
    if (!m || !wanted(m[2].replace(/^\.\//, ''))) continue;
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
