import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { HostError } from '../errors/index.js';
import type { SshConnection } from './connection.js';
import { shq } from './quote.js';

/** A file kprov wants on a host, with the exact mode and owner it must have. */
export interface DesiredFile {
  path: string;
  content: string | Buffer;
  mode: number;
  owner?: string;
  group?: string;
  /** Mode for missing parent directories (default 0755). */
  dirMode?: number;
  /** A command that must accept the new file before it replaces the old one; %s is the candidate path. */
  validate?: string;
}

export interface FileChange {
  path: string;
  kind: 'create' | 'update' | 'mode';
}

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const octal = (m: number) => m.toString(8).padStart(4, '0');

/**
 * Compare desired files with what is on the host in one round trip (sha256, mode, owner).
 * Unchanged files are not re-sent: that is what makes re-runs quick and quiet.
 */
export async function planFiles(conn: SshConnection, files: DesiredFile[], sudo: boolean): Promise<FileChange[]> {
  if (files.length === 0) return [];
  const script = files
    .map((f) => `if [ -f ${shq(f.path)} ]; then printf '%s %s ' "$(stat -c '%a %U %G' ${shq(f.path)})" "$(sha256sum < ${shq(f.path)} | cut -d' ' -f1)"; echo; else echo missing; fi`)
    .join('; ');
  const { stdout } = await conn.exec(script, { sudo, step: 'compare files' });
  const lines = stdout.trim().split('\n');
  if (lines.length !== files.length) throw new HostError(conn.name, `unexpected output comparing files (${lines.length} lines for ${files.length} files)`, { step: 'compare files' });
  const changes: FileChange[] = [];
  files.forEach((f, i) => {
    const fields = lines[i].trim().split(' ');
    if (fields[0] === 'missing') return void changes.push({ path: f.path, kind: 'create' });
    const [mode, owner, group, hash] = fields;
    if (hash !== sha256(f.content)) return void changes.push({ path: f.path, kind: 'update' });
    if (Number.parseInt(mode, 8) !== f.mode || owner !== (f.owner ?? 'root') || group !== (f.group ?? f.owner ?? 'root')) {
      changes.push({ path: f.path, kind: 'mode' });
    }
  });
  return changes;
}

/**
 * Put files in place: stage over SFTP, validate if asked, then cp + chown + chmod to a temp name
 * beside the target and rename it over the target, so readers never see a half-written file.
 * All installs happen in one remote command.
 */
export async function applyFiles(conn: SshConnection, files: DesiredFile[], changes: FileChange[], sudo: boolean): Promise<void> {
  if (changes.length === 0) return;
  const byPath = new Map(files.map((f) => [f.path, f]));
  const steps: string[] = [];
  const staged: string[] = [];
  try {
    for (const change of changes) {
      const f = byPath.get(change.path)!;
      const owner = `${f.owner ?? 'root'}:${f.group ?? f.owner ?? 'root'}`;
      const target = shq(f.path);
      if (change.kind === 'mode') {
        steps.push(`chown ${shq(owner)} ${target} && chmod ${octal(f.mode)} ${target}`);
        continue;
      }
      const stagedPath = await conn.stage(Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content));
      staged.push(stagedPath);
      const temp = shq(`${f.path}.kprov-new`);
      const dir = shq(dirname(f.path));
      const validate = f.validate ? `{ ${f.validate.replace('%s', shq(stagedPath))} >&2 || { echo ${shq(`validation failed for ${f.path}`)} >&2; exit 4; }; } && ` : '';
      steps.push(
        `${validate}{ [ -d ${dir} ] || mkdir -p -m ${octal(f.dirMode ?? 0o755)} ${dir}; } && cp ${shq(stagedPath)} ${temp} && chown ${shq(owner)} ${temp} && chmod ${octal(f.mode)} ${temp} && mv -f ${temp} ${target}`,
      );
    }
    await conn.exec(`set -e; ${steps.map((s) => `( ${s} )`).join('; ')}`, { sudo, step: 'install files' });
  } finally {
    if (staged.length > 0) await conn.exec(`rm -f ${staged.map(shq).join(' ')}`, { sudo: false, allowFailure: true, step: 'clean staging' });
  }
}
