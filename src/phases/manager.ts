import { Listr, PRESET_TIMER, type ListrTask } from 'listr2';
import { HostError } from '../errors/index.js';
import type { Host } from '../host/host.js';
import type { Phase, RunContext } from './phase.js';

export interface PhaseReport {
  phase: string;
  host: string;
  status: 'changed' | 'unchanged' | 'failed' | 'skipped';
  changes: string[];
  ms: number;
}

export interface RunOutcome {
  reports: PhaseReport[];
  failed: Host[];
}

export type Renderer = 'default' | 'simple' | 'silent';

export function chooseRenderer(verbose: boolean, quiet = false): Renderer {
  if (quiet) return 'silent';
  return process.stdout.isTTY && !process.env.CI && !verbose ? 'default' : 'simple';
}

/** Hosts still in the run: not failed in an earlier phase. */
export const alive = (ctx: RunContext): Host[] => ctx.hosts.filter((h) => !h.failed);

function asHostError(host: Host, phase: string, err: unknown): HostError {
  if (err instanceof HostError)
    return err.step ? err : new HostError(err.host, err.message, { ...err, step: phase }, { cause: err.cause });
  const e = err as Error;
  return new HostError(host.name, e?.message ?? String(err), { step: phase }, { cause: err });
}

/**
 * Run phases in order. Within a phase, hosts run in parallel (bounded). A host that fails is reported
 * with its step and dropped from later phases; the other hosts carry on. Connections are closed by the caller.
 */
export async function runPhases(phases: Phase[], ctx: RunContext, renderer: Renderer): Promise<RunOutcome> {
  const reports: PhaseReport[] = [];
  const tasks: ListrTask[] = phases.map((phase) => ({
    title: phase.title,
    task: async (_c, task) => {
      if (ctx.abort?.aborted) return void task.skip(`${phase.title}: interrupted`);
      const hosts = (phase.select ?? alive)(ctx).filter((h) => !h.failed);
      if (hosts.length === 0) {
        task.skip(`${phase.title}: no hosts`);
        return;
      }
      if (phase.runAll) {
        const started = Date.now();
        for (const h of hosts) h.changes = [];
        const problems = await phase.runAll(hosts, ctx);
        for (const h of hosts) {
          const problem = problems.get(h.name);
          if (problem) h.failed = new HostError(h.name, problem, { step: phase.title });
          reports.push({
            phase: phase.title,
            host: h.name,
            status: problem ? 'failed' : 'unchanged',
            changes: [],
            ms: Date.now() - started,
          });
        }
        if (problems.size > 0) throw new Error([...problems].map(([h, p]) => `${h}: ${p}`).join('; '));
        return;
      }
      return task.newListr(
        hosts.map((host) => ({
          title: host.name,
          task: async (_c2, sub) => {
            if (ctx.abort?.aborted) return void sub.skip(`${host.name}: interrupted`);
            const started = Date.now();
            host.changes = [];
            ctx.inFlight?.set(host.name, phase.title);
            try {
              await phase.runHost!(host, ctx);
              ctx.inFlight?.delete(host.name);
            } catch (err) {
              if (!ctx.abort?.aborted) ctx.inFlight?.delete(host.name);
              host.failed = asHostError(host, phase.title, err);
              reports.push({
                phase: phase.title,
                host: host.name,
                status: 'failed',
                changes: host.changes,
                ms: Date.now() - started,
              });
              ctx.log.write(host.name, `FAILED in ${phase.title}: ${host.failed.toString()}`);
              throw new Error(host.failed.message);
            }
            const changed = host.changes.length > 0;
            reports.push({
              phase: phase.title,
              host: host.name,
              status: changed ? 'changed' : 'unchanged',
              changes: [...host.changes],
              ms: Date.now() - started,
            });
            const verb = ctx.dryRun ? 'would change' : 'changed';
            sub.title = `${host.name}: ${changed ? `${verb} ${host.changes.length}` : 'unchanged'}`;
            if (changed) sub.output = host.changes.join('\n');
          },
        })),
        { concurrent: ctx.concurrency, exitOnError: false },
      );
    },
  }));
  const list = new Listr(tasks, {
    concurrent: false,
    exitOnError: false,
    renderer,
    rendererOptions: { timer: PRESET_TIMER, collapseSubtasks: false, persistentOutput: true },
    fallbackRenderer: 'simple',
    fallbackRendererOptions: { timer: PRESET_TIMER },
    // kprov handles SIGINT/SIGTERM itself (session.ts): listr2's own handler would exit 127 before any cleanup.
    registerSignalListeners: false,
  } as never);
  await list.run();
  return { reports, failed: ctx.hosts.filter((h) => h.failed) };
}
