import type { Duplex } from 'node:stream';
import type { Endpoint, ExecOptions, ExecResult, SshConnection } from './connection.js';

export interface RecordedExec {
  command: string;
  sudo: boolean;
  step?: string;
}

export type Responder = (command: string, opts: ExecOptions) => Partial<ExecResult> | undefined;

/**
 * A recording stand-in for SshConnection: every command is recorded, answered by the responder
 * (empty output, exit 0 when it has nothing to say), and uploads are kept in memory.
 */
export class FakeConnection {
  readonly execs: RecordedExec[] = [];
  readonly uploads = new Map<string, Buffer>();
  readonly endpoint: Endpoint;
  private n = 0;

  constructor(
    readonly name: string,
    private readonly responder: Responder = () => undefined,
    endpoint: Partial<Endpoint> = {},
  ) {
    this.endpoint = {
      name,
      host: '10.0.0.1',
      port: 22,
      user: 'deployer',
      knownHostsFile: '/dev/null',
      hostKeyChecking: 'strict',
      ...endpoint,
    };
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.execs.push({ command, sudo: opts.sudo ?? false, step: opts.step });
    const r = this.responder(command, opts) ?? {};
    const result = { stdout: r.stdout ?? '', stderr: r.stderr ?? '', code: r.code ?? 0 };
    if (result.code !== 0 && !opts.allowFailure)
      throw new Error(`${opts.step ?? 'command'} failed: exit ${result.code}`);
    return result;
  }

  /** Every forward() target, "host:port", in order. */
  readonly forwards: string[] = [];
  /** What forward() connects to (a test's scripted server); without one, forwarding fails as a refused tunnel. */
  forwarder?: (host: string, port: number) => Promise<Duplex>;

  async forward(host: string, port: number): Promise<Duplex> {
    this.forwards.push(`${host}:${port}`);
    if (!this.forwarder) throw new Error(`cannot open tunnel to ${host}:${port}: Connection refused`);
    return this.forwarder(host, port);
  }

  async stage(content: Buffer): Promise<string> {
    const path = `/tmp/.kprov-upload${++this.n}`;
    this.uploads.set(path, content);
    return path;
  }

  async stageFile(localPath: string): Promise<string> {
    const path = `/tmp/.kprov-upload${++this.n}`;
    this.uploads.set(path, Buffer.from(`file:${localPath}`));
    return path;
  }

  readonly staged = new Set<string>();
  aborted = false;
  private readonly onAbort: (() => void)[] = [];

  trackStaging(path: string): void {
    this.staged.add(path);
  }
  untrackStaging(path: string): void {
    this.staged.delete(path);
  }
  pendingStaging(): string[] {
    return [...this.staged];
  }

  /** A command that runs until the connection is aborted (then fails, as a killed remote command does). */
  runsUntilAborted(): Promise<never> {
    return new Promise((_resolve, reject) => this.onAbort.push(() => reject(new Error('interrupted'))));
  }

  abort(): void {
    this.aborted = true;
    for (const f of this.onAbort.splice(0)) f();
  }

  async cleanupStaging(): Promise<string[]> {
    const paths = this.pendingStaging();
    if (paths.length) await this.exec(`rm -rf ${paths.join(' ')}`, { sudo: true, step: 'clean staging' });
    this.staged.clear();
    return paths;
  }

  /** Every command, in order, joined: for assertions on what ran. */
  get script(): string {
    return this.execs.map((e) => e.command).join('\n');
  }

  asConnection(): SshConnection {
    return this as unknown as SshConnection;
  }
}
