import type { Command } from 'commander';
import { collectStatus } from '../actions/status.js';
import { EXIT_OK, EXIT_STEP_FAILED } from '../errors/index.js';
import { evaluate } from '../status/model.js';
import { formatStatus } from '../status/view.js';
import { sleep } from '../util/wait.js';
import { loadResolved, positiveInt, runOptions, withRunOptions } from './options.js';

/** kprov status: read-only; exit 0 when healthy, 1 when degraded (the reasons are listed). */
export function registerStatusCommand(program: Command, setExit: (code: number) => void): void {
  withRunOptions(
    program
      .command('status')
      .description(
        'hosts, nodes, static pods, /readyz, etcd members and leader, leader-election leases, certificate expiry ' +
          'and bootstrap tokens; exit 1 when degraded (changes nothing)',
      )
      .argument('<inventory>', 'Ansible inventory (INI or YAML)')
      .option('--json', 'machine-readable output', false)
      .option('--watch [seconds]', 'refresh every N seconds (default 5) until interrupted', positiveInt),
  ).action(async (file: string, o: Record<string, unknown>) => {
    const resolved = loadResolved(file);
    const opts = runOptions(o, resolved);
    const watch = o.watch === true ? 5 : (o.watch as number | undefined);
    for (;;) {
      const status = await collectStatus(resolved, opts);
      const { problems, notes } = evaluate(status);
      const text = o.json
        ? `${JSON.stringify({ ...status, healthy: problems.length === 0, problems, notes }, null, 2)}\n`
        : formatStatus(status);
      // On a terminal, --watch redraws in place; elsewhere each picture follows the last.
      if (watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
      process.stdout.write(text);
      if (!watch) {
        setExit(problems.length === 0 ? EXIT_OK : EXIT_STEP_FAILED);
        return;
      }
      await sleep(watch * 1000);
    }
  });
}
