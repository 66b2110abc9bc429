import type { PhaseReport, RunOutcome } from '../phases/manager.js';
import type { RunContext } from '../phases/phase.js';
import { EXIT_STEP_FAILED } from '../errors/index.js';
import type { Host } from '../host/host.js';

/** The end-of-run summary: per host, what changed (or would), and every failure with its step. */
export function summarize(reports: PhaseReport[], hosts: Host[], dryRun: boolean): string {
  const lines: string[] = [];
  for (const host of hosts) {
    const mine = reports.filter((r) => r.host === host.name);
    const changes = mine.flatMap((r) => r.changes.map((c) => `${r.phase}: ${c}`));
    if (host.failed) {
      lines.push(`✖ ${host.name}: FAILED`);
      lines.push(
        ...host.failed
          .toString()
          .split('\n')
          .map((l) => `    ${l}`),
      );
      if (changes.length > 0) lines.push(`    changes made before the failure:`, ...changes.map((c) => `      - ${c}`));
    } else if (changes.length === 0) {
      lines.push(`✔ ${host.name}: unchanged`);
    } else {
      lines.push(
        `✔ ${host.name}: ${dryRun ? 'would make' : 'made'} ${changes.length} ` +
          `change${changes.length === 1 ? '' : 's'}`,
      );
      lines.push(...changes.map((c) => `    - ${c}`));
    }
  }
  return lines.join('\n');
}

export function phaseTimings(reports: PhaseReport[]): string {
  const byPhase = new Map<string, number>();
  for (const r of reports) byPhase.set(r.phase, Math.max(byPhase.get(r.phase) ?? 0, r.ms));
  return [...byPhase].map(([p, ms]) => `${p} ${(ms / 1000).toFixed(1)}s`).join(', ');
}

/** Print the per-host summary and timings; a failed host makes the exit code 1, with what to do next. */
export function reportRun(
  outcome: RunOutcome & { ctx: RunContext },
  what: string,
  started: number,
  setExit: (code: number) => void,
): void {
  process.stdout.write('\n' + summarize(outcome.reports, outcome.ctx.hosts, outcome.ctx.dryRun) + '\n');
  process.stdout.write(
    `\n${outcome.ctx.dryRun ? `${what} (dry run)` : what} ` +
      `finished in ${((Date.now() - started) / 1000).toFixed(1)}s (${phaseTimings(outcome.reports)}); ` +
      `log: ${outcome.ctx.log.file}\n`,
  );
  if (outcome.failed.length > 0) {
    process.stderr.write(
      `\n${outcome.failed.length} of ${outcome.ctx.hosts.length} hosts failed: ` +
        `${outcome.failed.map((h) => h.name).join(', ')}. ` +
        'The other hosts are done; fix the cause and re-run (completed steps are skipped).\n',
    );
    setExit(EXIT_STEP_FAILED);
  }
}
