import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { withRunOptions, runOptions, loadResolved } from './options.js';
import { describeError, EXIT_OK, EXIT_USAGE } from '../errors/index.js';
import { redactedInventory, formatInventory } from './inventory-view.js';
import { runOnHosts } from '../actions/session.js';
import { preparePhases } from '../actions/prepare.js';
import { loadBundle } from '../artifacts/bundle.js';
import { kprovHome } from '../config/state-dir.js';
import { reportRun } from './report.js';
import { registerKubeadmCommands } from './kubeadm-commands.js';
import { registerLabCommands } from './lab-commands.js';
import { registerUpgradeCommand } from './upgrade-command.js';
import { registerStatusCommand } from './status-command.js';
import { registerKubeconfigCommand } from './kubeconfig-command.js';
import { registerBackupCommands } from './backup-commands.js';

const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('kprov')
    .description('Turn a few Linux machines into a Kubernetes cluster over SSH.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('inventory')
    .description('print the resolved inventory: hosts, groups, roles and effective vars (secrets redacted)')
    .argument('<file>', 'Ansible inventory (INI or YAML)')
    .option('--json', 'machine-readable output', false)
    .action((file: string, o: { json: boolean }) => {
      // A read-only view: no SSH key or key file needs to exist yet (only commands that change hosts need them).
      const resolved = loadResolved(file, { offline: true, foreign: 'allow' });
      process.stdout.write(
        o.json ? JSON.stringify(redactedInventory(resolved), null, 2) + '\n' : formatInventory(resolved),
      );
    });

  withRunOptions(
    program
      .command('prepare')
      .description('create the sudo user, set kernel prerequisites and install containerd on every host')
      .argument('<inventory>', 'Ansible inventory (INI or YAML)'),
  )
    .option(
      '--artifacts-dir <dir>',
      'offline bundle: its runtime/bin/* (containerd, runc) and cni/* replace the packages ' +
        '(overrides the artifacts_dir var)',
    )
    .action(async (file: string, o: Record<string, unknown> & { artifactsDir?: string }) => {
      // Hosts alone: also for an inventory of workers that will join a cluster kprov did not create.
      const resolved = loadResolved(file, { foreign: 'allow' });
      const opts = runOptions(o, resolved);
      const started = Date.now();
      const artifacts = o.artifactsDir ?? resolved.cluster.artifactsDir;
      const bundle = artifacts
        ? loadBundle(artifacts, join(kprovHome(), 'cache', 'bundle-checked.json'), 'prepare')
        : undefined;
      const outcome = await runOnHosts(resolved, preparePhases(bundle), opts, 'prepare');
      reportRun(outcome, 'prepare', started, setExit);
    });

  registerKubeadmCommands(program, setExit);
  registerStatusCommand(program, setExit);
  registerUpgradeCommand(program, setExit);
  registerKubeconfigCommand(program);
  registerBackupCommands(program, setExit);
  registerLabCommands(program);
  return program;
}

/** Run the CLI and return the exit code: 0 ok, 1 a step failed on a host, 2 usage or configuration error. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const program = buildProgram((c) => (exitCode = Math.max(exitCode, c)));
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; any parse error is a usage error.
      return err.exitCode === 0 ||
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
        ? EXIT_OK
        : EXIT_USAGE;
    }
    const { message, exitCode: code } = describeError(err);
    process.stderr.write(message + '\n');
    return code;
  }
}
