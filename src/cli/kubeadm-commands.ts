import { readInputText } from '../config/read-input.js';
import { Option, type Command } from 'commander';
import type { Resolved } from '../config/settings.js';
import { joinForeignCluster } from '../actions/join-foreign.js';
import { UserError, EXIT_STEP_FAILED } from '../errors/index.js';
import { caCertHash } from '../kubeadm/discovery.js';
import { formatToken, generateToken } from '../kubeadm/token.js';
import { registerTokenCommands } from './token-commands.js';
import { certificateExpiry, formatExpiry } from '../actions/certs-expiration.js';
import { renewCertificates } from '../actions/certs-renew.js';
import { uploadCerts } from '../actions/certs-upload.js';
import { CERTS_TOKEN_HOURS } from '../phases/cluster/upload-certs.js';
import { RENEWABLE_NAMES, renewalFor } from '../kubeadm/renew.js';
import { renderToDirectory } from '../actions/render.js';
import { checkCertificates, formatCertReport } from '../actions/certs-check.js';
import { checkHosts, loadResolved, withRunOptions, runOptions } from './options.js';
import { initCluster } from '../actions/init.js';
import { resetHosts } from '../actions/reset.js';
import { reportRun } from './report.js';
import { positiveInt } from './options.js';

/** join's flags for a cluster kprov did not create (kubeadm join's names). */
interface ForeignFlags {
  token?: string;
  discoveryTokenCaCertHash?: string[];
  endpoint?: string;
  discoveryTokenUnsafeSkipCaVerification?: boolean;
}

/** The flags of init and join, as commander parses them (see clusterCommand). */
interface ClusterFlags extends Record<string, unknown> {
  dryRun?: boolean;
  out?: string;
  hosts?: string[];
  pkiDir?: string;
  config?: string;
  artifactsDir?: string;
  readyTimeout: number;
}

export function registerKubeadmCommands(program: Command, setExit: (code: number) => void): void {
  const clusterCommand = (name: string, description: string) =>
    withRunOptions(
      program.command(name).description(description).argument('<inventory>', 'Ansible inventory (INI or YAML)'),
    )
      .option(
        '--pki-dir <dir>',
        'where CAs, keys and kubeconfigs are kept between runs ' +
          '(default: ~/.kprov/clusters/<name>-<id>/pki; with --out: DIR/.kprov-pki)',
      )
      .option(
        '--config <file>',
        'kubeadm.k8s.io/v1beta4 configuration ' +
          '(ClusterConfiguration, InitConfiguration, KubeletConfiguration, KubeProxyConfiguration)',
      )
      .option(
        '--artifacts-dir <dir>',
        'offline bundle: bin/kubelet, bin/kubectl, images/*.tar, cni/*, runtime/bin/* ' +
          '(overrides the artifacts_dir var)',
      )
      .option('--ready-timeout <seconds>', 'how long to wait for nodes to become Ready', positiveInt, 600);
  const runCluster = async (file: string, o: ClusterFlags, what: string, loaded?: Resolved) => {
    const resolved = loaded ?? loadResolved(file);
    const started = Date.now();
    const outcome = await initCluster(resolved, {
      ...runOptions(o, resolved),
      pkiDir: o.pkiDir,
      configFile: o.config,
      artifactsDir: o.artifactsDir,
      readyTimeoutMs: o.readyTimeout * 1000,
    });
    reportRun(outcome, what, started, setExit);
    if (outcome.adminConf) process.stdout.write(`admin kubeconfig: ${outcome.adminConf}\n`);
  };

  clusterCommand(
    'join',
    'join inventory hosts that are not in the cluster yet (workers via bootstrap-token discovery and TLS bootstrap); ' +
      'with --token, --discovery-token-ca-cert-hash and --endpoint (or the join_token, ' +
      'discovery_token_ca_cert_hash and join_endpoint vars): join workers to a cluster kprov did not create',
  )
    .option('--token <token>', "a bootstrap token of the cluster ([a-z0-9]{6}.[a-z0-9]{16}), as kubeadm join's")
    .option(
      '--discovery-token-ca-cert-hash <sha256:hex>',
      'pin of the cluster CA (sha256:<hex> of its public key); repeat it or separate with commas to allow several',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--endpoint <host:port>', "an API server (or load balancer) of the cluster, kubeadm join's endpoint")
    .addOption(new Option('--discovery-token-unsafe-skip-ca-verification').hideHelp())
    .action(async (file: string, o: ClusterFlags & ForeignFlags) => {
      if (o.discoveryTokenUnsafeSkipCaVerification) {
        throw new UserError(
          '--discovery-token-unsafe-skip-ca-verification is not supported: kprov joins only after checking the ' +
            'cluster CA against --discovery-token-ca-cert-hash (kubeadm token create --print-join-command on a ' +
            'control-plane host prints it)',
        );
      }
      const flags = { token: o.token, discoveryTokenCaCertHash: o.discoveryTokenCaCertHash, endpoint: o.endpoint };
      const resolved = loadResolved(file, { join: flags });
      if (!resolved.cluster.foreignJoin) return runCluster(file, o, 'join', resolved);
      const own = [o.pkiDir && '--pki-dir', o.config && '--config'].filter(Boolean);
      if (own.length > 0) {
        throw new UserError(
          `${own.join(' and ')}: for clusters kprov creates; a cluster kprov did not create keeps its own PKI and ` +
            'configuration (the join reads them from the cluster)',
        );
      }
      const started = Date.now();
      const outcome = await joinForeignCluster(resolved, {
        ...runOptions(o, resolved),
        artifactsDir: o.artifactsDir,
        readyTimeoutMs: o.readyTimeout * 1000,
      });
      reportRun(outcome, 'join', started, setExit);
      if (outcome.run.joined.length > 0 && outcome.failed.length === 0) {
        const at = resolved.cluster.foreignJoin.endpoint;
        process.stdout.write(`joined ${outcome.run.joined.join(', ')} to the cluster at ${at}\n`);
      }
    });

  withRunOptions(
    program
      .command('reset')
      .description(
        'drain and delete nodes, then clean them up as kubeadm reset does (plus CNI config and iptables rules)',
      )
      .argument('<inventory>', 'Ansible inventory (INI or YAML)'),
  ).action(async (file: string, o: Record<string, unknown>) => {
    const resolved = loadResolved(file);
    const opts = runOptions(o, resolved);
    if (!opts.only?.length) throw new UserError('kprov reset needs --hosts a,b (the hosts to reset)');
    const started = Date.now();
    reportRun(await resetHosts(resolved, { ...opts, targets: opts.only }), 'reset', started, setExit);
  });

  clusterCommand(
    'init',
    'create or converge a cluster: prepare hosts, kubeadm init on the first master, join the rest ' +
      '(with --dry-run --out DIR: render every file, connect to nothing)',
  )
    .option(
      '--out <dir>',
      'with --dry-run: write DIR/<host>/<absolute path>, DIR/cluster/ and DIR/join-command.txt instead of connecting',
    )
    .action(async (file: string, o: ClusterFlags) => {
      if (!(o.dryRun && o.out)) return runCluster(file, o, 'init');
      const resolved = loadResolved(file, { offline: true });
      checkHosts(o.hosts, resolved);
      const started = Date.now();
      const { plan, fileCount, out } = await renderToDirectory(resolved, {
        out: o.out,
        pkiDir: o.pkiDir,
        configFile: o.config,
      });
      const count = (a: string) => plan.events.filter((e) => e.action === a).length;
      process.stdout.write(
        `rendered ${fileCount} files for ${resolved.hosts.length} hosts into ${out} in ${Date.now() - started} ms\n` +
          `certificates and kubeconfigs: ${count('created')} created, ${count('reused')} reused, ` +
          `${count('renewed')} renewed\n` +
          `control-plane endpoint ${plan.endpoint}; CA cert hash ${plan.caCertHash}\n` +
          `join command: ${out}/join-command.txt\n`,
      );
    });

  program
    .command('ca-hash')
    .description('print the discovery-token-ca-cert-hash of a CA certificate')
    .argument('<ca.crt>', 'PEM CA certificate')
    .action((file: string) => {
      const pem = readInputText(file, 'CA certificate');
      try {
        process.stdout.write(caCertHash(pem) + '\n');
      } catch (err) {
        throw new UserError(`not a PEM certificate: ${(err as Error).message}`, { file });
      }
    });

  const token = program.command('token').description('bootstrap tokens');
  registerTokenCommands(token, setExit);
  token
    .command('generate')
    .description('print a new random bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})')
    .action(() => {
      process.stdout.write(formatToken(generateToken()) + '\n');
    });

  const certs = program.command('certs').description('certificates');
  withRunOptions(
    certs
      .command('renew')
      .description(
        'renew leaf certificates and kubeconfigs on the masters with the same keys and CAs, restarting the ' +
          'control-plane components that read them one master and one component at a time',
      )
      .argument('<inventory>', 'Ansible inventory (INI or YAML)')
      .argument('[names...]', `all (the default), or any of: ${RENEWABLE_NAMES.join(', ')}`),
  ).action(async (file: string, names: string[], o: Record<string, unknown>) => {
    renewalFor(names); // a wrong name is refused before the inventory is read
    const resolved = loadResolved(file);
    const started = Date.now();
    reportRun(await renewCertificates(resolved, runOptions(o, resolved), names), 'certs renew', started, setExit);
  });
  withRunOptions(
    certs
      .command('upload')
      .description(
        'upload the CAs and service-account key, encrypted with a new certificate key, to kube-system/kubeadm-certs ' +
          'for 2 h, for upstream kubeadm join --control-plane --certificate-key (kubeadm init phase upload-certs)',
      )
      .argument('<inventory>', 'Ansible inventory (INI or YAML)'),
  ).action(async (file: string, o: Record<string, unknown>) => {
    const resolved = loadResolved(file);
    const { result, outcome } = await uploadCerts(resolved, runOptions(o, resolved));
    if (!result) {
      for (const h of outcome.failed) process.stderr.write(`${h.name}: ${h.failed?.message}\n`);
      return setExit(EXIT_STEP_FAILED);
    }
    process.stderr.write(
      `kube-system/kubeadm-certs uploaded; it is deleted after ${CERTS_TOKEN_HOURS} h. Certificate key:\n`,
    );
    process.stdout.write(`${result}\n`);
  });
  withRunOptions(
    certs
      .command('check-expiration')
      .description('every certificate and kubeconfig on the masters (or --hosts): expiry, residual time and CA')
      .argument('<inventory>', 'Ansible inventory (INI or YAML)')
      .option('--json', 'machine-readable output', false),
  ).action(async (file: string, o: Record<string, unknown>) => {
    const resolved = loadResolved(file);
    const { found, outcome } = await certificateExpiry(resolved, runOptions(o, resolved));
    process.stdout.write(o.json ? `${JSON.stringify(found, null, 2)}\n` : formatExpiry(found));
    for (const h of outcome.failed) process.stderr.write(`${h.name}: ${h.failed?.message}\n`);
    const expired = found.some((h) => h.certificates.some((c) => Date.parse(c.notAfter) <= Date.now()));
    if (expired || outcome.failed.length > 0) setExit(EXIT_STEP_FAILED);
  });
  certs
    .command('check')
    .description(
      'list every certificate under DIR (and client certificates in kubeconfigs) with subject, SANs, expiry ' +
        'and whether it verifies against its CA',
    )
    .argument('<dir>', 'directory, e.g. /etc/kubernetes or an --out DIR')
    .option('--json', 'machine-readable output', false)
    .action((dir: string, o: { json: boolean }) => {
      const report = checkCertificates(dir);
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : formatCertReport(report));
      if (report.some((r) => r.status !== 'ok')) setExit(EXIT_STEP_FAILED);
    });
}
