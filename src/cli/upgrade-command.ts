import type { Command } from 'commander';
import { upgradeCluster } from '../actions/upgrade.js';
import { EXIT_STEP_FAILED, PreflightFailed, UserError } from '../errors/index.js';
import { loadResolved, positiveInt, runOptions, withRunOptions } from './options.js';
import { reportRun } from './report.js';

/** kprov upgrade: one minor (or patch) forward, kubeadm's order and rules; --dry-run prints the plan. */
export function registerUpgradeCommand(program: Command, setExit: (code: number) => void): void {
  withRunOptions(
    program
      .command('upgrade')
      .description(
        'upgrade a running cluster one minor at a time: preflight, control planes one by one, addons, then ' +
          'kubelets (drained, masters first, workers in batches); --dry-run prints the plan',
      )
      .argument('<inventory>', 'Ansible inventory (INI or YAML)')
      .requiredOption('--to <version>', 'target Kubernetes version, e.g. v1.37.2')
      .option('--artifacts-dir <dir>', 'offline bundle of the target version (overrides the artifacts_dir var)')
      .option('--max-unavailable <n>', 'workers upgraded at the same time', positiveInt, 1)
      .option('--drain-timeout <seconds>', 'how long a drain may be blocked (PodDisruptionBudgets)', positiveInt, 300)
      .option('--certificate-renewal <bool>', 'renew control-plane certificates as kubeadm does', 'true'),
  ).action(async (file: string, o: Record<string, unknown>) => {
    if (!['true', 'false'].includes(o.certificateRenewal as string)) {
      throw new UserError(`--certificate-renewal takes true or false, not ${JSON.stringify(o.certificateRenewal)}`);
    }
    const resolved = loadResolved(file);
    const started = Date.now();
    try {
      const result = await upgradeCluster(resolved, {
        ...runOptions(o, resolved),
        target: o.to as string,
        artifactsDir: o.artifactsDir as string | undefined,
        maxUnavailable: o.maxUnavailable as number,
        drainTimeoutMs: (o.drainTimeout as number) * 1000,
        certificateRenewal: o.certificateRenewal !== 'false',
      });
      process.stdout.write(result.planText);
      if (result.outcome) reportRun(result.outcome, 'upgrade', started, setExit);
    } catch (err) {
      if (!(err instanceof PreflightFailed)) throw err;
      process.stderr.write(`error: ${err.message}\n`);
      setExit(EXIT_STEP_FAILED);
    }
  });
}
