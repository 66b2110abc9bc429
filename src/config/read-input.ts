import { readFileSync, statSync, type Stats } from 'node:fs';
import { UserError } from '../errors/index.js';

/** What kind of thing a path is, for messages ("a directory", "a FIFO"...). */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'not found (or a symbolic link to nothing)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'symbolic link loop';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    default:
      return e?.code ? `cannot read it (${e.code})` : `cannot read it (${String((err as Error)?.message ?? err)})`;
  }
}

/** Index of the first byte that is not part of valid UTF-8, or -1. */
export function firstInvalidUtf8(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i];
    let need = 0;
    let min = 0;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

const lineAt = (buf: Uint8Array, index: number) => {
  let line = 1;
  for (let i = 0; i < index; i++) if (buf[i] === 0x0a) line++;
  return line;
};

/**
 * Read a file the user named (inventory, vars file, --config, key, certificate) as UTF-8 text.
 * Every way it can go wrong is a UserError naming the file: missing, dangling symlink, no permission,
 * a directory, a FIFO (refused before opening, which would block), binary content, invalid UTF-8 (with its line).
 */
export function readInputText(file: string, what = 'file'): string {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (err) {
    throw new UserError(`${what}: ${fsReason(err)}`, { file });
  }
  if (!st.isFile()) throw new UserError(`${what}: expected a regular file, got ${kindOf(st)}`, { file });
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new UserError(`${what}: ${fsReason(err)}`, { file });
  }
  const nul = buf.indexOf(0);
  if (nul !== -1) {
    throw new UserError(`${what}: not a text file (it contains NUL bytes)`, { file, line: lineAt(buf, nul) });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    const bad = firstInvalidUtf8(buf);
    const at = Math.max(bad, 0);
    const byte = buf[at].toString(16).padStart(2, '0');
    throw new UserError(`${what}: not valid UTF-8 text (byte 0x${byte} at offset ${bad})`, {
      file,
      line: lineAt(buf, Math.max(bad, 0)),
    });
  }
}
