import { createHash, randomBytes } from 'node:crypto';
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
  /**
   * Owner (and group, default the owner) of the file's directory: it is created with dirMode and this owner, and an
   * existing one is corrected to both (a user's ~/.kube belongs to the user). Without it, existing directories are
   * left as they are and missing ones are created root-owned.
   */
  dirOwner?: string;
  dirGroup?: string;
  /** A command that must accept the new file before it replaces the old one; %s is the candidate path. */
  validate?: string;
}

export interface FileChange {
  path: string;
  kind: 'create' | 'update' | 'mode';
}

/**
 * Shell: the sha256 (hex) of a file, by OpenSSL where the host has it (it uses the CPU's SHA extensions: 6x faster
 * than coreutils on the lab machine, which counts for a runtime's 100 MB sent to every host), else by sha256sum.
 */
export function sha256Of(file: string): string {
  const tool = 'if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r; else sha256sum; fi';
  return `{ ${tool}; } < ${file} | cut -d' ' -f1`;
}

const digests = new WeakMap<Buffer, string>();
/** A Buffer's digest is kept: one bundle binary (tens of MB) is compared and sent to every host of a run. */
const sha256 = (b: string | Buffer) => {
  if (typeof b === 'string') return createHash('sha256').update(b).digest('hex');
  const known = digests.get(b);
  if (known) return known;
  const d = createHash('sha256').update(b).digest('hex');
  digests.set(b, d);
  return d;
};
const octal = (m: number) => m.toString(8).padStart(4, '0');

/**
 * Compare desired files with what is on the host in one round trip (sha256, mode, owner).
 * Unchanged files are not re-sent: that is what makes re-runs quick and quiet.
 */
export async function planFiles(conn: SshConnection, files: DesiredFile[], sudo: boolean): Promise<FileChange[]> {
  if (files.length === 0) return [];
  const dirState = (f: DesiredFile) =>
    f.dirOwner ? `printf 'dir:%s ' "$(stat -c '%a:%U:%G' ${shq(dirname(f.path))} 2>/dev/null || echo missing)"; ` : '';
  const fileState = (p: string) =>
    `if [ -f ${p} ]; then printf '%s %s ' "$(stat -c '%a %U %G' ${p})" "$(${sha256Of(p)})"; ` +
    'echo; else echo missing; fi';
  const script = files.map((f) => `${dirState(f)}${fileState(shq(f.path))}`).join('; ');
  const { stdout } = await conn.exec(script, { sudo, step: 'compare files' });
  const lines = stdout.trim().split('\n');
  if (lines.length !== files.length)
    throw new HostError(
      conn.name,
      `unexpected output comparing files (${lines.length} lines for ${files.length} files)`,
      { step: 'compare files' },
    );
  const changes: FileChange[] = [];
  for (const [i, f] of files.entries()) {
    const fields = lines[i].trim().split(' ');
    const dir = fields[0].startsWith('dir:') ? fields.shift()!.slice(4) : undefined;
    if (fields[0] === 'missing') {
      changes.push({ path: f.path, kind: 'create' });
      continue;
    }
    const [mode, owner, group, hash] = fields;
    if (hash !== sha256(f.content)) {
      changes.push({ path: f.path, kind: 'update' });
      continue;
    }
    const wantDir = `${(f.dirMode ?? 0o755).toString(8)}:${f.dirOwner}:${f.dirGroup ?? f.dirOwner}`;
    const dirWrong = f.dirOwner !== undefined && dir !== wantDir;
    const fileWrong = Number.parseInt(mode, 8) !== f.mode || owner !== (f.owner ?? 'root');
    if (dirWrong || fileWrong || group !== (f.group ?? f.owner ?? 'root')) {
      changes.push({ path: f.path, kind: 'mode' });
    }
  }
  return changes;
}

/**
 * Where root keeps its own copy of an upload while it is checked and installed: a directory only root can
 * enter, so the login user (who owns the upload in /tmp) cannot change the bytes between check and install.
 */
export const ROOT_STAGING_DIR = '/var/lib/kprov/staging';

/** A fresh name for one install's root-only directory, known here so an interrupted run can remove it. */
export function rootStagingDir(): string {
  return `${ROOT_STAGING_DIR}/${randomBytes(8).toString('hex')}`;
}

/** Shell (as root): create the root-only directory `dir` (mkdir fails if anything already has that name). */
export function makeRootStagingDir(dir: string): string {
  const base = shq(ROOT_STAGING_DIR);
  return `umask 077 && mkdir -p ${base} && chown root:root ${base} && chmod 0700 ${base} && mkdir -m 0700 ${shq(dir)}`;
}

/**
 * Shell (as root): copy the login user's upload into root's directory, always remove the upload, and check
 * that the copy is exactly what was sent (a swapped or symlinked upload fails here, before anything uses it).
 */
export function takeUpload(upload: string, copy: string, sha: string, what: string): string {
  const c = shq(copy);
  return (
    `{ cp ${shq(upload)} ${c}; rc=$?; rm -f ${shq(upload)}; [ $rc = 0 ]; } && ` +
    `{ [ "$(${sha256Of(c)})" = ${sha} ] || ` +
    `{ echo ${shq(`the upload of ${what} changed before it was installed; nothing was installed`)} >&2; exit 5; }; }`
  );
}

/** Shell: the file's directory exists; with dirOwner, with exactly that owner and mode (never through a symlink). */
function ensureDir(f: DesiredFile): string {
  const dir = shq(dirname(f.path));
  const mode = octal(f.dirMode ?? 0o755);
  const make = `{ [ -d ${dir} ] || mkdir -p -m ${mode} ${dir}; }`;
  if (!f.dirOwner) return make;
  const refuse = `{ echo ${shq(`${dirname(f.path)} is a symbolic link; refusing to change it`)} >&2; exit 4; }`;
  const owner = `${shq(f.dirOwner)}:${shq(f.dirGroup ?? f.dirOwner)}`;
  return `${make} && { [ ! -L ${dir} ] || ${refuse}; } && chown ${owner} ${dir} && chmod ${mode} ${dir}`;
}

/**
 * Put files in place. Uploads go over SFTP to private files of the login user; then, in one remote command as
 * root, each is copied into a root-only directory, checked against its sha256, validated there if asked, and
 * installed with `install` (owner and mode set at creation) as a temp beside the target that is renamed over it,
 * so readers never see a half-written file and the login user never holds a file root then trusts.
 */
export async function applyFiles(
  conn: SshConnection,
  files: DesiredFile[],
  changes: FileChange[],
  sudo: boolean,
): Promise<void> {
  if (changes.length === 0) return;
  const byPath = new Map(files.map((f) => [f.path, f]));
  const steps: string[] = [];
  const uploads: string[] = [];
  const rootDir = rootStagingDir();
  let needsRootDir = false;
  try {
    for (const [i, change] of changes.entries()) {
      const f = byPath.get(change.path)!;
      const owner = shq(f.owner ?? 'root');
      const group = shq(f.group ?? f.owner ?? 'root');
      const target = shq(f.path);
      if (change.kind === 'mode') {
        const refuse = `{ echo ${shq(`${f.path} is a symbolic link; refusing to change it`)} >&2; exit 4; }`;
        const fix = `chown ${owner}:${group} ${target} && chmod ${octal(f.mode)} ${target}`;
        steps.push(`${ensureDir(f)} && { [ ! -L ${target} ] || ${refuse}; } && ${fix}`);
        continue;
      }
      const content = Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content);
      const upload = await conn.stage(content);
      uploads.push(upload);
      needsRootDir = true;
      const copy = `${rootDir}/${i}`;
      // Hidden, so no directory reader takes the half-installed file for a real one (the kubelet reads every
      // file in the static pod directory except dot files; sudo skips sudoers.d names with a dot).
      const slash = f.path.lastIndexOf('/');
      const temp = shq(`${f.path.slice(0, slash + 1)}.${f.path.slice(slash + 1)}.kprov-new`);
      const validate = f.validate
        ? `{ ${f.validate.replace('%s', shq(copy))} >&2 || ` +
          `{ echo ${shq(`validation failed for ${f.path}`)} >&2; exit 4; }; } && `
        : '';
      steps.push(
        `${takeUpload(upload, copy, sha256(content), f.path)} && ${validate}` +
          `${ensureDir(f)} && rm -f ${temp} && ` +
          `install -m ${octal(f.mode)} -o ${owner} -g ${group} ${shq(copy)} ${temp} && mv -f ${temp} ${target}`,
      );
    }
    if (needsRootDir) conn.trackStaging(rootDir);
    const prelude = needsRootDir ? `( ${makeRootStagingDir(rootDir)} ); ` : '';
    await conn.exec(`set -e; ${prelude}${steps.map((s) => `( ${s} )`).join('; ')}`, { sudo, step: 'install files' });
  } finally {
    if (uploads.length > 0 || needsRootDir) {
      const targets = [...uploads, ...(needsRootDir ? [rootDir] : [])];
      await conn.exec(`rm -rf ${targets.map(shq).join(' ')}`, { sudo, allowFailure: true, step: 'clean staging' });
      for (const t of targets) conn.untrackStaging(t);
    }
  }
}
