/** Test helpers: Go binaries as the linker lays them out, small enough to write in a test. */

/** What the Go linker writes: the buildinfo header, then the Go version and module lines as varint strings. */
export function goBinary(modLines: string, machine = 62): Buffer {
  const elf = Buffer.alloc(64);
  elf.write('\x7fELF', 0, 'latin1');
  elf[4] = 2; // 64-bit
  elf[5] = 1; // little-endian
  elf.writeUInt16LE(machine, 18);
  const header = Buffer.alloc(32);
  header.write('\xff Go buildinf:', 0, 'latin1');
  header[14] = 8;
  header[15] = 2; // strings inline
  const str = (s: string) => {
    const b = Buffer.from(s);
    const len: number[] = [];
    for (let n = b.length; ; n >>= 7) {
      len.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
      if (n < 0x80) break;
    }
    return Buffer.concat([Buffer.from(len), b]);
  };
  const sentinel = Buffer.alloc(16, 0x30);
  const mod = Buffer.concat([sentinel, Buffer.from(modLines), sentinel]).toString('latin1');
  return Buffer.concat([elf, Buffer.alloc(1000), header, str('go1.26.8'), str(mod), Buffer.alloc(100)]);
}

export const CONTAINERD2 =
  'path\tgithub.com/containerd/containerd/v2/cmd/containerd\n' +
  'mod\tgithub.com/containerd/containerd/v2\tv2.4.2\th1:abc=\n' +
  'dep\tgithub.com/containerd/containerd/api\tv1.12.0\th1:def=\n';
