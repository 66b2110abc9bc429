import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import ssh2, { type ConnectConfig, type SFTPWrapper, type ClientChannel, type Client as SshClient } from 'ssh2';
import type { Duplex } from 'node:stream';
import { HostError, UserError, tail } from '../errors/index.js';
import type { RunLog } from '../log/logger.js';
import { checkHostKey, fingerprint, knownKeyTypes, knownHostsName, recordHostKey } from './known-hosts.js';
import { shq } from './quote.js';

export interface Endpoint {
  /** Name used in messages (the inventory host name). */
  name: string;
  host: string;
  port: number;
  user: string;
  privateKeyFile?: string;
  privateKeyPassphrase?: string;
  password?: string;
  knownHostsFile: string;
  hostKeyChecking: 'strict' | 'accept-new';
}

export interface ConnectOptions {
  connectTimeoutMs: number;
  connectAttempts: number;
  /** A connection to tunnel through (jump host). */
  via?: SshConnection;
}

export interface ExecOptions {
  sudo?: boolean;
  stdin?: string | Buffer;
  timeoutMs?: number;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  /** What this command is for, in error messages and logs. */
  step?: string;
  /** Do not log the command line (it carries secrets that cannot be registered). */
  quiet?: boolean;
  /** Run even though the run was interrupted (cleanup). */
  afterAbort?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 10 * 60_000;
const STAGE_CHUNK = 32 * 1024;
const STAGE_PARALLEL_WRITES = 16;

// ssh2 is CommonJS: take its parts from the default export so Node's ESM loader finds them.
const { Client, utils: sshUtils } = ssh2;
type Client = SshClient;

const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
};

/**
 * One SSH connection to one host, reused for every command and file transfer.
 * Commands run under /bin/sh with LC_ALL=C; with sudo they go through `sudo -n`, or `sudo -S`
 * fed the become password on stdin (never on the command line, so never in a process list).
 */
export class SshConnection {
  private client: Client | undefined;
  private sftpSession: Promise<SFTPWrapper> | undefined;
  /** Uploads and root-only staging directories that exist on the host until their install step removes them. */
  private readonly staging = new Set<string>();
  /** Commands running now: an interrupted run stops them. */
  private readonly channels = new Set<ClientChannel>();
  private aborted = false;

  constructor(
    readonly endpoint: Endpoint,
    private readonly log: RunLog,
    private readonly become: { enabled: boolean; password?: string } = { enabled: false },
  ) {
    log.addSecret(endpoint.password);
    log.addSecret(become.password);
  }

  get name(): string {
    return this.endpoint.name;
  }

  async connect(opts: ConnectOptions): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= opts.connectAttempts; attempt++) {
      try {
        this.client = await this.connectOnce(opts);
        return;
      } catch (err) {
        lastError = err;
        // Authentication and host-key problems do not get better by retrying.
        const level = (err as { level?: string }).level;
        if (err instanceof HostError || err instanceof UserError || level === 'client-authentication') break;
        if (attempt < opts.connectAttempts) {
          this.log.write(this.name, `connect attempt ${attempt} failed (${(err as Error).message}); retrying`);
          await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
        }
      }
    }
    throw this.connectError(lastError, opts);
  }

  private connectError(err: unknown, opts: ConnectOptions): HostError {
    if (err instanceof HostError) return err;
    const e = err as Error & { level?: string; code?: string };
    const target =
      `${this.endpoint.user}@${this.endpoint.host}:${this.endpoint.port}` +
      `${opts.via ? ` via ${opts.via.endpoint.host}` : ''}`;
    let message: string;
    if (e.level === 'client-authentication') {
      const tried = [
        this.endpoint.privateKeyFile && 'key file',
        process.env.SSH_AUTH_SOCK && 'ssh-agent',
        this.endpoint.password && 'password',
      ].filter(Boolean);
      const nothing = 'nothing: set ansible_ssh_private_key_file, ansible_password or run ssh-agent';
      message = `authentication failed for ${target} (tried: ${tried.join(', ') || nothing})`;
    } else if (e.level === 'client-timeout') {
      message =
        `cannot connect to ${target}: timed out after ${opts.connectTimeoutMs / 1000}s ` +
        `(${opts.connectAttempts} attempts)`;
    } else {
      message =
        `cannot connect to ${target}: ${e.message}` +
        `${e.code && !e.message.includes(e.code) ? ` (${e.code})` : ''} (${opts.connectAttempts} attempts)`;
    }
    return new HostError(this.name, message, { step: 'connect' }, { cause: err });
  }

  private async connectOnce(opts: ConnectOptions): Promise<Client> {
    const ep = this.endpoint;
    let sock: Duplex | undefined;
    if (opts.via) sock = await opts.via.forward(ep.host, ep.port);
    let hostKeyError: HostError | undefined;
    const types = knownKeyTypes(ep.knownHostsFile, ep.host, ep.port);
    const config: ConnectConfig = {
      host: ep.host,
      port: ep.port,
      username: ep.user,
      sock,
      readyTimeout: opts.connectTimeoutMs,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      password: ep.password,
      agent: process.env.SSH_AUTH_SOCK,
      hostVerifier: (key: Buffer) => {
        const verdict = checkHostKey(ep.knownHostsFile, ep.host, ep.port, key);
        const name = knownHostsName(ep.host, ep.port);
        if (verdict.status === 'known') {
          for (const w of verdict.warnings ?? []) this.log.write(this.name, `warning: ${w}`);
          return true;
        }
        if (verdict.status === 'revoked') {
          hostKeyError = new HostError(
            this.name,
            `HOST KEY REVOKED for ${name}: the host presented ${fingerprint(key)}, ` +
              `which ${verdict.file}:${verdict.line} ` +
              'marks @revoked. Refusing to connect (as OpenSSH does), even if the key is also listed as known.',
            { step: 'connect' },
          );
          return false;
        }
        if (verdict.status === 'cert-authority-only') {
          hostKeyError = new HostError(
            this.name,
            `known_hosts names ${name} only in a @cert-authority line (${verdict.file}:${verdict.line}): ` +
              'kprov does not verify host certificates. ' +
              `Add the host's own key (ssh-keyscan -p ${ep.port} ${ep.host}) to ${ep.knownHostsFile}.`,
            { step: 'connect' },
          );
          return false;
        }
        if (verdict.status === 'changed') {
          hostKeyError = new HostError(
            this.name,
            `HOST KEY CHANGED for ${name}: known_hosts (${verdict.file}:${verdict.line}) has ${verdict.expected}, ` +
              `the host presented ${fingerprint(key)}. ` +
              'This may be a man-in-the-middle attack, or the host was reinstalled; ' +
              `if you trust the new key, remove line ${verdict.line} of ${verdict.file}.`,
            { step: 'connect' },
          );
          return false;
        }
        if (ep.hostKeyChecking === 'accept-new') {
          recordHostKey(ep.knownHostsFile, ep.host, ep.port, key);
          this.log.write(this.name, `recorded new host key ${fingerprint(key)} for ${name} in ${ep.knownHostsFile}`);
          return true;
        }
        hostKeyError = new HostError(
          this.name,
          `unknown host key for ${name} (${fingerprint(key)}): not in ${ep.knownHostsFile}. ` +
            `Verify it and add it (ssh-keyscan -p ${ep.port} ${ep.host} >> ${ep.knownHostsFile}), ` +
            'or set kprov_host_key_checking=accept-new to trust on first use.',
          { step: 'connect' },
        );
        return false;
      },
    };
    if (types.length > 0) {
      // Ask for the key type we already know, so a host with several keys is not reported as unknown.
      config.algorithms = { serverHostKey: types.flatMap((t) => HOST_KEY_ALGORITHMS[t] ?? [t]) as never };
    }
    if (ep.privateKeyFile) {
      let key: Buffer;
      try {
        key = readFileSync(ep.privateKeyFile);
      } catch (err) {
        throw new HostError(this.name, `cannot read private key ${ep.privateKeyFile}: ${(err as Error).message}`, {
          step: 'connect',
        });
      }
      const parsed = sshUtils.parseKey(key, ep.privateKeyPassphrase);
      if (parsed instanceof Error) {
        const hint = /encrypted|passphrase/i.test(parsed.message)
          ? ' (set KPROV_SSH_KEY_PASSPHRASE for a passphrase-protected key)'
          : '';
        throw new HostError(this.name, `cannot use private key ${ep.privateKeyFile}: ${parsed.message}${hint}`, {
          step: 'connect',
        });
      }
      config.privateKey = key;
      config.passphrase = ep.privateKeyPassphrase;
    }
    const client = new Client();
    return await new Promise<Client>((resolve, reject) => {
      client.once('ready', () => {
        client.removeAllListeners('error');
        client.on('error', (err) => this.log.write(this.name, `connection error: ${err.message}`));
        resolve(client);
      });
      // on, not once: a host that accepts TCP but never speaks SSH (hung, paused) errors twice, first the
      // handshake timeout, then "connection lost" when the socket closes; a second unheard error would crash kprov.
      let failed = false;
      client.on('error', (err) => {
        if (failed) return;
        failed = true;
        client.destroy();
        reject(hostKeyError ?? err);
      });
      try {
        client.connect(config);
      } catch (err) {
        reject(new HostError(this.name, `cannot start SSH: ${(err as Error).message}`, { step: 'connect' }));
      }
    });
  }

  /** Open a TCP tunnel through this connection (this host acting as jump host). */
  forward(host: string, port: number): Promise<Duplex> {
    const client = this.requireClient();
    return new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, host, port, (err, stream) =>
        err
          ? reject(
              new HostError(this.name, `cannot open tunnel to ${host}:${port}: ${err.message}`, { step: 'connect' }),
            )
          : resolve(stream),
      );
    });
  }

  private requireClient(): Client {
    if (!this.client) throw new Error(`${this.name}: not connected`);
    return this.client;
  }

  /** Build the remote command line: POSIX sh, C locale, and sudo when asked and needed. */
  private wrap(command: string, sudo: boolean): { line: string; stdinPrefix?: string } {
    const script = `export LC_ALL=C; ${command}`;
    if (!sudo || this.endpoint.user === 'root') return { line: `sh -c ${shq(script)}` };
    if (this.become.password)
      return { line: `sudo -k -S -p '' -- sh -c ${shq(script)}`, stdinPrefix: `${this.become.password}\n` };
    return { line: `sudo -n -- sh -c ${shq(script)}` };
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.aborted && !opts.afterAbort) throw new HostError(this.name, 'interrupted', { step: opts.step });
    const client = this.requireClient();
    const sudo = opts.sudo ?? this.become.enabled;
    const { line, stdinPrefix } = this.wrap(command, sudo);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const started = Date.now();
    const logged = opts.quiet ? '(command hidden)' : command;
    const result = await new Promise<ExecResult>((resolve, reject) => {
      client.exec(line, (err, stream: ClientChannel) => {
        if (err)
          return reject(
            new HostError(this.name, `cannot start command: ${err.message}`, { step: opts.step, command: logged }),
          );
        this.channels.add(stream);
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(() => {
          stream.signal('KILL');
          stream.close();
          reject(
            new HostError(this.name, `command timed out after ${Math.round(timeoutMs / 1000)}s`, {
              step: opts.step,
              command: this.log.redact(logged),
              stderrTail: tail(stderr),
            }),
          );
        }, timeoutMs);
        stream.on('data', (d: Buffer) => (stdout += d.toString()));
        stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        stream.on('close', (code: number | null) => {
          this.channels.delete(stream);
          clearTimeout(timer);
          resolve({ stdout, stderr, code });
        });
        if (stdinPrefix) stream.write(stdinPrefix);
        if (opts.stdin !== undefined) stream.write(opts.stdin);
        stream.end();
      });
    });
    this.log.write(
      this.name,
      `$ ${logged}  -> exit ${result.code} in ${Date.now() - started}ms` +
        `${result.stderr ? `\n  stderr: ${tail(result.stderr, 4)}` : ''}`,
    );
    if (this.aborted && !opts.afterAbort) {
      throw new HostError(this.name, 'interrupted', { step: opts.step, command: this.log.redact(logged) });
    }
    if (result.code !== 0 && !opts.allowFailure) {
      let message = `command failed with exit code ${result.code}`;
      if (sudo && this.endpoint.user !== 'root' && /a password is required|no tty present/.test(result.stderr)) {
        message =
          `sudo needs a password for ${this.endpoint.user}: ` +
          'set ansible_become_password (or use passwordless sudo)';
      } else if (sudo && /incorrect password|Sorry, try again/.test(result.stderr)) {
        message = `sudo rejected the become password for ${this.endpoint.user}`;
      }
      throw new HostError(this.name, message, {
        step: opts.step,
        command: this.log.redact(logged),
        exitCode: result.code,
        stderrTail: this.log.redact(tail(result.stderr)),
      });
    }
    return result;
  }

  private sftp(): Promise<SFTPWrapper> {
    if (!this.sftpSession) {
      const client = this.requireClient();
      this.sftpSession = new Promise((resolve, reject) =>
        client.sftp((err, s) =>
          err ? reject(new HostError(this.name, `SFTP unavailable: ${err.message}`, { step: 'upload' })) : resolve(s),
        ),
      );
    }
    return this.sftpSession;
  }

  /**
   * Write bytes to a fresh private staging file (0600, owned by the login user); returns its path. Writes of 32 KiB
   * go out 16 at a time (ssh2's own writes wait for each answer: a 40 MB binary took 1,250 round trips in a row).
   */
  async stage(content: Buffer): Promise<string> {
    const sftp = await this.sftp();
    const path = `/tmp/.kprov-${randomBytes(8).toString('hex')}`;
    this.staging.add(path);
    const failed = (err: Error) =>
      new HostError(this.name, `upload to ${path} failed: ${err.message}`, { step: 'upload' });
    const handle = await new Promise<Buffer>((resolve, reject) =>
      sftp.open(path, 'wx', { mode: 0o600 }, (err, h) => (err ? reject(failed(err)) : resolve(h))),
    );
    let next = 0;
    const writer = async () => {
      while (next < content.length) {
        const offset = next;
        next += STAGE_CHUNK;
        const length = Math.min(STAGE_CHUNK, content.length - offset);
        await new Promise<void>((resolve, reject) =>
          sftp.write(handle, content, offset, length, offset, (err) => (err ? reject(failed(err)) : resolve())),
        );
      }
    };
    try {
      await Promise.all(Array.from({ length: STAGE_PARALLEL_WRITES }, writer));
    } finally {
      await new Promise<void>((resolve) => sftp.close(handle, () => resolve()));
    }
    return path;
  }

  /** Stream a local file to a fresh private staging file (large files: images, binaries); returns its path. */
  async stageFile(localPath: string): Promise<string> {
    const sftp = await this.sftp();
    const path = `/tmp/.kprov-${randomBytes(8).toString('hex')}`;
    this.staging.add(path);
    await new Promise<void>((resolve, reject) =>
      sftp.fastPut(localPath, path, { mode: 0o600, concurrency: 16 }, (err) =>
        err
          ? reject(new HostError(this.name, `upload of ${localPath} failed: ${err.message}`, { step: 'upload' }))
          : resolve(),
      ),
    );
    return path;
  }

  /** Remember a staging path (an upload or a root-only directory) until untrackStaging: an aborted run removes it. */
  trackStaging(path: string): void {
    this.staging.add(path);
  }

  untrackStaging(path: string): void {
    this.staging.delete(path);
  }

  /** Staging paths not yet removed. */
  pendingStaging(): string[] {
    return [...this.staging];
  }

  /** Read a remote file readable by the login user (or through sudo cat for protected files). */
  async readFile(path: string, opts: { sudo?: boolean } = {}): Promise<Buffer | undefined> {
    const r = await this.exec(`if [ -f ${shq(path)} ]; then base64 < ${shq(path)}; else exit 3; fi`, {
      sudo: opts.sudo,
      allowFailure: true,
      step: 'read',
      quiet: false,
    });
    if (r.code === 3) return undefined;
    if (r.code !== 0)
      throw new HostError(this.name, `cannot read ${path}`, {
        step: 'read',
        exitCode: r.code,
        stderrTail: tail(r.stderr),
      });
    return Buffer.from(r.stdout.replace(/\s+/g, ''), 'base64');
  }

  /**
   * Stop for an interrupted run: no new commands start, and running ones are sent TERM and their channels closed
   * (sudo passes the signal on; the closed channel hangs up the rest).
   */
  abort(): void {
    this.aborted = true;
    for (const ch of this.channels) {
      try {
        ch.signal('TERM');
        ch.close();
      } catch {
        // the channel is already gone
      }
    }
  }

  /** Remove every upload and root-only staging directory still on the host; returns what was removed. */
  async cleanupStaging(): Promise<string[]> {
    const paths = this.pendingStaging();
    if (paths.length === 0 || !this.client) return [];
    const opts = { sudo: true, afterAbort: true, step: 'clean staging', timeoutMs: 15_000 };
    await this.exec(`rm -rf ${paths.map(shq).join(' ')}`, opts);
    for (const p of paths) this.staging.delete(p);
    return paths;
  }

  close(): void {
    this.client?.end();
    this.client = undefined;
    this.sftpSession = undefined;
  }
}
