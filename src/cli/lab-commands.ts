import { InvalidArgumentError, type Command } from 'commander';
import { labDown, labList, labUp } from '../lab/lab.js';
import { LAB_DRIVERS, type LabDriverName } from '../lab/driver.js';
import { positiveInt, nonNegativeInt } from './options.js';

function driverOption(value: string): LabDriverName {
  if ((LAB_DRIVERS as readonly string[]).includes(value)) return value as LabDriverName;
  throw new InvalidArgumentError(`must be one of ${LAB_DRIVERS.join(', ')}`);
}

export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .description(
      'lab hosts on the local Docker engine, LXD or QEMU VMs (systemd + sshd, images built locally, no pulls)',
    );
  lab
    .command('up')
    .description('start lab hosts and write an Ansible inventory for them')
    .option('--masters <n>', 'control-plane hosts', positiveInt, 1)
    .option('--workers <n>', 'worker hosts', nonNegativeInt, 2)
    .option('--name <name>', 'lab name', 'lab')
    .option('--driver <driver>', `what runs the nodes: ${LAB_DRIVERS.join(', ')}`, driverOption, 'docker')
    .option('--fix-host-limits', 'raise fs.inotify limits (sysctl, needs root) if the lab would exhaust them', false)
    .option('--unprivileged', 'lxd only: unprivileged containers (user namespaces) instead of privileged ones', false)
    .option(
      '--ipv6 [subnet]',
      'dual-stack lab: an IPv6 subnet on the Docker network (default: one /64 per lab name in fd6b:7072:6f76::/48), ' +
        'node_ip6 on every host and IPv4,IPv6 pod and service networks',
    )
    .action(
      async (o: {
        masters: number;
        workers: number;
        name: string;
        fixHostLimits: boolean;
        ipv6?: boolean | string;
        driver: LabDriverName;
        unprivileged: boolean;
      }) => {
        const started = Date.now();
        const l = await labUp(o, (m) => process.stderr.write(`lab: ${m}\n`));
        for (const n of l.nodes) {
          process.stderr.write(`  ${n.name.padEnd(10)} ${n.role.padEnd(7)} ${n.ip}${n.ip6 ? ` ${n.ip6}` : ''}\n`);
        }
        process.stderr.write(`lab "${l.name}" up in ${((Date.now() - started) / 1000).toFixed(1)}s; inventory:\n`);
        process.stdout.write(l.inventory + '\n');
      },
    );
  lab
    .command('down')
    .description('remove the lab: containers, volumes, network, host firewall rules and its state')
    .option('--name <name>', 'lab name', 'lab')
    .option(
      '--driver <driver>',
      "the lab's driver, only for a lab whose state was never saved (default: from the lab's state, else docker)",
      driverOption,
    )
    .action(async (o: { name: string; driver?: LabDriverName }) => {
      const stateDirs = await labDown(o.name, o.driver);
      for (const d of stateDirs) process.stderr.write(`removed the lab's cluster state ${d}\n`);
      process.stderr.write(`lab "${o.name}" removed\n`);
    });
  lab
    .command('ls')
    .description('list labs')
    .action(async () => {
      for (const l of await labList())
        process.stdout.write(`${l.name}\t${l.driver}\t${l.running}/${l.nodes} running\t${l.inventory}\n`);
    });
}
