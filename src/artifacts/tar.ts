import { closeSync, openSync, readSync } from 'node:fs';

interface TarHeader {
  name: string;
  size: number;
  /** '0' (or '') a file, '5' a directory, 'L' a GNU long name for the next member. */
  type: string;
  mode: number;
}

/** One 512-byte ustar header; undefined at the end-of-archive (zero) block. */
function parseHeader(header: Buffer): TarHeader | undefined {
  if (header.every((b) => b === 0)) return undefined;
  const field = (start: number, len: number) =>
    header
      .subarray(start, start + len)
      .toString('utf8')
      .replace(/\0.*$/s, '');
  const prefix = field(345, 155);
  return {
    name: prefix ? `${prefix}/${field(0, 100)}` : field(0, 100),
    size: Number.parseInt(field(124, 12).trim() || '0', 8),
    type: field(156, 1),
    mode: Number.parseInt(field(100, 8).trim() || '0', 8),
  };
}

/**
 * Walk a tar's members through read(offset, length) (a file or a buffer), resolving GNU long names. `visit` sees
 * each file member's header and reads its data on demand; returning true stops the walk.
 */
function walkTar(
  read: (offset: number, length: number) => Buffer,
  visit: (member: TarHeader, data: () => Buffer) => boolean | undefined,
): void {
  let offset = 0;
  let longName: string | undefined;
  for (;;) {
    const block = read(offset, 512);
    if (block.length < 512) return;
    const header = parseHeader(block);
    if (!header) return;
    const dataStart = offset + 512;
    const data = () => read(dataStart, header.size);
    if (header.type === 'L') {
      longName = data().toString('utf8').replace(/\0.*$/s, '');
    } else {
      const name = (longName ?? header.name).replace(/^\.\//, '');
      longName = undefined;
      if ((header.type === '0' || header.type === '') && visit({ ...header, name }, data)) return;
    }
    offset = dataStart + Math.ceil(header.size / 512) * 512;
  }
}

/** Read one small member of a tar file by name, scanning headers only (image tarballs can be large). */
export function readTarMember(
  file: string,
  wanted: (name: string) => boolean,
): { name: string; content: Buffer } | undefined {
  const fd = openSync(file, 'r');
  try {
    let found: { name: string; content: Buffer } | undefined;
    walkTar(
      (offset, length) => {
        const buf = Buffer.alloc(length);
        return buf.subarray(0, readSync(fd, buf, 0, length, offset));
      },
      (member, data) => {
        if (!wanted(member.name)) return false;
        found = { name: member.name, content: data() };
        return true;
      },
    );
    return found;
  } finally {
    closeSync(fd);
  }
}

export interface TarEntry {
  name: string;
  content: Buffer;
  mode: number;
}

/** Every file member of a tar held in memory (directories are implied by the names). */
export function readTar(tar: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  walkTar(
    (offset, length) => tar.subarray(offset, offset + length),
    (member, data) => void entries.push({ name: member.name, content: Buffer.from(data()), mode: member.mode }),
  );
  return entries;
}

/** A ustar archive of files (names up to 100 bytes, or 255 with a prefix), readable by any tar. */
export function writeTar(entries: TarEntry[], mtime = new Date()): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const header = Buffer.alloc(512);
    let name = e.name;
    let prefix = '';
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf('/', name.length - 1);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
      if (cut < 0 || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(name) > 100) {
        throw new Error(`tar: name too long: ${e.name}`);
      }
    }
    const put = (value: string, start: number, len: number) => header.write(value, start, len, 'utf8');
    const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, '0');
    put(name, 0, 100);
    put(octal(e.mode & 0o7777, 8), 100, 8);
    put(octal(0, 8), 108, 8);
    put(octal(0, 8), 116, 8);
    put(octal(e.content.length, 12), 124, 12);
    put(octal(Math.floor(mtime.getTime() / 1000), 12), 136, 12);
    put('0', 156, 1);
    put('ustar\0', 257, 6);
    put('00', 263, 2);
    put(prefix, 345, 155);
    // The checksum is computed with its own field as spaces.
    header.fill(' ', 148, 156);
    const sum = header.reduce((n, b) => n + b, 0);
    put(`${octal(sum, 7)}\0 `, 148, 8);
    blocks.push(header, e.content, Buffer.alloc((512 - (e.content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** Image references in a docker-archive (manifest.json RepoTags) or OCI layout (index.json annotations). */
export function imageRefsInTar(file: string): string[] {
  const docker = readTarMember(file, (n) => n === 'manifest.json');
  if (docker) {
    const manifest = JSON.parse(docker.content.toString()) as { RepoTags?: string[] }[];
    return manifest.flatMap((m) => m.RepoTags ?? []).map(normalizeRef);
  }
  const oci = readTarMember(file, (n) => n === 'index.json');
  if (oci) {
    const index = JSON.parse(oci.content.toString()) as { manifests?: { annotations?: Record<string, string> }[] };
    return (index.manifests ?? [])
      .map((m) => m.annotations?.['io.containerd.image.name'] ?? m.annotations?.['org.opencontainers.image.ref.name'])
      .filter((r): r is string => Boolean(r) && r!.includes(':'))
      .map(normalizeRef);
  }
  return [];
}

/** containerd names images fully: "nginx:1" is docker.io/library/nginx:1. */
export function normalizeRef(ref: string): string {
  const first = ref.split('/')[0];
  const hasRegistry = ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return ref;
  return ref.includes('/') ? `docker.io/${ref}` : `docker.io/library/${ref}`;
}
