import type { HostSpec } from '../config/settings.js';
import type { HostError } from '../errors/index.js';
import type { SshConnection, ExecOptions, ExecResult } from '../ssh/connection.js';
import { applyFiles, planFiles, type DesiredFile } from '../ssh/files.js';
import type { Facts } from './facts.js';

/**
 * A host being worked on: its spec, its one SSH connection, its facts, and the changes made
 * (or, in dry-run, planned) in the current phase. Every remote change goes through change() or
 * ensureFiles(), so dry-run is exact and "unchanged" is reported honestly.
 */
export class Host {
  facts?: Facts;
  changes: string[] = [];
  failed?: HostError;

  constructor(
    readonly spec: HostSpec,
    readonly conn: SshConnection,
    readonly dryRun: boolean,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  requireFacts(): Facts {
    if (!this.facts) throw new Error(`${this.name}: facts were not gathered`);
    return this.facts;
  }

  /** Run a command as root (through sudo when the login user is not root). Read-only commands run in dry-run too. */
  sudo(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.conn.exec(command, { ...opts, sudo: true });
  }

  /** Run a command as the login user. */
  run(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.conn.exec(command, { ...opts, sudo: false });
  }

  /** Record a change; carry it out unless this is a dry run. */
  async change(description: string, apply: () => Promise<unknown>): Promise<void> {
    this.changes.push(description);
    if (!this.dryRun) await apply();
  }

  /**
   * Record a change the cluster reported after it was made: an apply that moved an object's resourceVersion, an
   * etcd member added or promoted. Such steps run only outside dry runs (they return early with plan()), so one
   * reaching here in a dry run is a bug, and it is refused rather than reported as if nothing happened.
   */
  changed(description: string): void {
    if (this.dryRun) throw new Error(`${this.name}: "${description}" was carried out during a dry run`);
    this.changes.push(description);
  }

  /** What a dry run would do at a step whose exact changes only the live cluster can tell. */
  plan(description: string): void {
    if (!this.dryRun) throw new Error(`${this.name}: plan("${description}") outside a dry run`);
    this.changes.push(description);
  }

  /**
   * Make files match. Returns the paths whose content changed (or would): those are what a service
   * must reload for; a mode/owner fix is recorded as a change but is not returned.
   */
  async ensureFiles(files: DesiredFile[]): Promise<string[]> {
    const changes = await planFiles(this.conn, files, true);
    for (const c of changes)
      this.changes.push(
        `${c.kind === 'create' ? 'create' : c.kind === 'update' ? 'update' : 'fix mode/owner of'} ${c.path}`,
      );
    if (!this.dryRun) await applyFiles(this.conn, files, changes, true);
    return changes.filter((c) => c.kind !== 'mode').map((c) => c.path);
  }
}
