import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError, EXIT_STEP_FAILED } from '../errors/index.js';
import { caCertHash } from '../kubeadm/discovery.js';
import { formatToken, generateToken } from '../kubeadm/token.js';
import { renderToDirectory } from '../actions/render.js';
import { checkCertificates, formatCertReport } from '../actions/certs-check.js';
import { loadResolved } from './main.js';

export function registerKubeadmCommands(program: Command, setExit: (code: number) => void): void {
  program
    .command('init')
    .description('create a cluster: kubeadm init on the first master and join for the rest (with --dry-run --out: render every file instead)')
    .argument('<inventory>', 'Ansible inventory (INI or YAML)')
    .option('--dry-run', 'connect to nothing; render what kprov would place on each host', false)
    .option('--out <dir>', 'with --dry-run: where to write DIR/<host>/<absolute path>, DIR/cluster/ and DIR/join-command.txt')
    .option('--pki-dir <dir>', 'where CAs, keys and kubeconfigs are kept between runs (default: DIR/.kprov-pki)')
    .option('--config <file>', 'kubeadm.k8s.io/v1beta4 configuration (ClusterConfiguration, InitConfiguration, KubeletConfiguration, KubeProxyConfiguration)')
    .action(async (file: string, o: { dryRun: boolean; out?: string; pkiDir?: string; config?: string }) => {
      if (!o.dryRun) throw new UserError('kprov init currently renders only: run it with --dry-run --out DIR (bringing up the cluster over SSH is not implemented yet)');
      if (!o.out) throw new UserError('--dry-run needs --out DIR');
      const resolved = loadResolved(file, { offline: true });
      const started = Date.now();
      const { plan, fileCount, out } = await renderToDirectory(resolved, { out: o.out, pkiDir: o.pkiDir, configFile: o.config });
      const count = (a: string) => plan.events.filter((e) => e.action === a).length;
      process.stdout.write(
        `rendered ${fileCount} files for ${resolved.hosts.length} hosts into ${out} in ${Date.now() - started} ms\n` +
          `certificates and kubeconfigs: ${count('created')} created, ${count('reused')} reused, ${count('renewed')} renewed\n` +
          `control-plane endpoint ${plan.endpoint}; CA cert hash ${plan.caCertHash}\n` +
          `join command: ${out}/join-command.txt\n`,
      );
    });

  program
    .command('ca-hash')
    .description('print the discovery-token-ca-cert-hash of a CA certificate')
    .argument('<ca.crt>', 'PEM CA certificate')
    .action((file: string) => {
      let pem: string;
      try {
        pem = readFileSync(file, 'utf8');
      } catch (err) {
        throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
      }
      try {
        process.stdout.write(caCertHash(pem) + '\n');
      } catch (err) {
        throw new UserError(`not a PEM certificate: ${(err as Error).message}`, { file });
      }
    });

  const token = program.command('token').description('bootstrap tokens');
  token
    .command('generate')
    .description('print a new random bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})')
    .action(() => {
      process.stdout.write(formatToken(generateToken()) + '\n');
    });

  const certs = program.command('certs').description('certificates');
  certs
    .command('check')
    .description('list every certificate under DIR (and client certificates in kubeconfigs) with subject, SANs, expiry and whether it verifies against its CA')
    .argument('<dir>', 'directory, e.g. /etc/kubernetes or an --out DIR')
    .option('--json', 'machine-readable output', false)
    .action((dir: string, o: { json: boolean }) => {
      const report = checkCertificates(dir);
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : formatCertReport(report));
      if (report.some((r) => r.status !== 'ok')) setExit(EXIT_STEP_FAILED);
    });
}
