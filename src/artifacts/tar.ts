import { closeSync, openSync, readSync } from 'node:fs';

/** Read one small member of a tar file by name, scanning headers only (image tarballs can be large). */
export function readTarMember(
  file: string,
  wanted: (name: string) => boolean,
): { name: string; content: Buffer } | undefined {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(512);
    let offset = 0;
    let longName: string | undefined;
    for (;;) {
      if (readSync(fd, header, 0, 512, offset) < 512) return undefined;
      if (header.every((b) => b === 0)) return undefined;
      const field = (start: number, len: number) =>
        header
          .subarray(start, start + len)
          .toString('utf8')
          .replace(/\0.*$/s, '');
      const size = Number.parseInt(field(124, 12).trim() || '0', 8);
      const type = field(156, 1);
      const prefix = field(345, 155);
      let name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
      longName = undefined;
      const dataStart = offset + 512;
      if (type === 'L') {
        const buf = Buffer.alloc(size);
        readSync(fd, buf, 0, size, dataStart);
        longName = buf.toString('utf8').replace(/\0.*$/s, '');
      } else {
        name = name.replace(/^\.\//, '');
        if ((type === '0' || type === '') && wanted(name)) {
          const buf = Buffer.alloc(size);
          readSync(fd, buf, 0, size, dataStart);
          return { name, content: buf };
        }
      }
      offset = dataStart + Math.ceil(size / 512) * 512;
    }
  } finally {
    closeSync(fd);
  }
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
