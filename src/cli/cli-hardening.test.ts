import { describe, expect, it, vi, afterEach } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run.testing.js';

const run = runCli;

const dir = mkdtempSync(join(tmpdir(), 'kprov-cli-hard-'));
const write = (name: string, text: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const KEY_LINE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop\n';
const pub = write('op.pub', KEY_LINE);
const inventory = write(
  'ok.ini',
  `[masters]\nm1 ansible_host=10.0.0.1\n[workers]\nw1 ansible_host=10.0.0.2\n[all:vars]\nsudo_user_public_key=${pub}\n`,
);

afterEach(() => vi.restoreAllMocks());

describe('audit: --config values (CLI)', () => {
  it('a malformed bootstrapTokens[0].token in --config is exit 2 with file:line, not a stack trace', async () => {
    const config = write(
      'token.yaml',
      'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nbootstrapTokens:\n  - token: nope\n',
    );
    const r = await run('init', inventory, '--dry-run', '--out', join(dir, 'out-token'), '--config', config);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `error: ${config}:4: InitConfiguration: bootstrapTokens[0].token is not a bootstrap token: ` +
        'expected [a-z0-9]{6}.[a-z0-9]{16}\n',
    );
  });

  it('a hostile imageRepository in --config is exit 2 and nothing is rendered', async () => {
    const config = write(
      'repo.yaml',
      'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n' +
        'imageRepository: "registry.k8s.io --anonymous-auth=true"\n',
    );
    const r = await run('init', inventory, '--dry-run', '--out', join(dir, 'out-repo'), '--config', config);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^error: ${config}:3: ClusterConfiguration: imageRepository`));
    expect(r.err).not.toMatch(/internal error|\n\s+at /);
  });
});

describe('audit: input files that cannot be read are clear errors (CLI)', () => {
  it('a FIFO given as the inventory exits 2 at once', async () => {
    const fifo = join(dir, 'fifo-inventory');
    execFileSync('mkfifo', [fifo]);
    const r = await run('inventory', fifo);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`error: ${fifo}: inventory: expected a regular file, got a FIFO (named pipe)\n`);
  });

  it('a binary inventory exits 2 with "not a text file"', async () => {
    const bytes = [0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00, 0x53, 0x45, 0x43, 0x52, 0x45, 0x54];
    const bin = write('binary-inventory', Buffer.from(bytes));
    const r = await run('inventory', bin);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`error: ${bin}:1: inventory: not a text file (it contains NUL bytes)\n`);
  });

  it('certs check reports non-PEM, dangling and looping .crt files as problems: exit 1, no stack', async () => {
    const certs = mkdtempSync(join(tmpdir(), 'kprov-certs-bad-'));
    writeFileSync(join(certs, 'garbage.crt'), 'hello\n');
    symlinkSync(join(certs, 'missing.crt'), join(certs, 'dangling.crt'));
    symlinkSync(join(certs, 'loop-b.crt'), join(certs, 'loop-a.crt'));
    symlinkSync(join(certs, 'loop-a.crt'), join(certs, 'loop-b.crt'));
    mkdirSync(join(certs, 'sub'));
    symlinkSync(certs, join(certs, 'sub', 'up'));
    const r = await run('certs', 'check', certs);
    expect(r.code).toBe(1);
    expect(r.err).toBe('');
    expect(r.out).toContain('✖ garbage.crt\n    problem:  not a PEM certificate');
    expect(r.out).toContain('✖ dangling.crt\n    problem:  not found');
    expect(r.out).toContain('✖ loop-a.crt\n    problem:  symbolic link loop');
    expect(r.out).toContain('4 certificates, 4 with problems');
    const json = JSON.parse((await run('certs', 'check', certs, '--json')).out);
    expect(json.map((c: { file: string; status: string }) => [c.file, c.status])).toEqual([
      ['dangling.crt', 'invalid'],
      ['garbage.crt', 'invalid'],
      ['loop-a.crt', 'invalid'],
      ['loop-b.crt', 'invalid'],
    ]);
  });
});

describe('audit: small CLI findings', () => {
  const dryRun = ['init', '--dry-run', '--out', join(dir, 'out-hosts')];
  const commands: string[][] = [['prepare'], ['init'], ['join'], ['reset'], dryRun];

  for (const cmd of commands) {
    it(`--hosts with an unknown host is exit 2 for ${cmd.join(' ')}`, async () => {
      const log = join(dir, 'typo.log');
      const r = await run(cmd[0], inventory, ...cmd.slice(1), '--hosts', 'm1,typo', '--log-file', log);
      expect(r.code).toBe(2);
      expect(r.err).toBe(
        'error: --hosts: "typo" is not a control-plane or worker host of the inventory (hosts: m1, w1)\n',
      );
    });

    it(`an empty or blank --hosts is a usage error (exit 2) for ${cmd.join(' ')}`, async () => {
      for (const value of ['', ' ', ',', ' , ']) {
        const r = await run(cmd[0], inventory, ...cmd.slice(1), '--hosts', value);
        expect(r.code, JSON.stringify(value)).toBe(2);
        expect(r.err).toMatch(/--hosts.*at least one host/);
      }
    });
  }

  it('--log-file naming an existing directory is rejected at option parsing (exit 2)', async () => {
    const r = await run('prepare', inventory, '--log-file', dir);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--log-file.*is a directory/);
  });

  it('--log-file whose parent is a file is reported clearly (exit 2); a missing parent is created', async () => {
    const r = await run('prepare', inventory, '--log-file', join(pub, 'x.log'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--log-file.*cannot create/);
    const { parseLogFile } = await import('./options.js');
    const file = join(dir, 'new', 'deeper', 'run.log');
    expect(parseLogFile(file)).toBe(file);
    expect(existsSync(join(dir, 'new', 'deeper'))).toBe(true);
  });

  it('kprov inventory text output prints structured vars and settings as JSON, not [object Object]', async () => {
    const inv = write(
      'structured.yaml',
      [
        'all:',
        '  vars:',
        `    sudo_user_public_key: ${pub}`,
        '    registry_mirrors: {registry.k8s.io: http://10.0.0.5:5000}',
        '    kubelet_configuration: {maxPods: 50}',
        '  children:',
        '    masters:',
        '      hosts:',
        '        m1: {ansible_host: 10.0.0.1, labels: [a, b]}',
      ].join('\n'),
    );
    const r = await run('inventory', inv);
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toContain('[object Object]');
    expect(r.out).toContain('registryMirrors: {"registry.k8s.io":["http://10.0.0.5:5000"]}');
    expect(r.out).toContain('kubeletConfiguration: {"maxPods":50}');
    expect(r.out).toContain('labels = ["a","b"]');
  });

  it('kprov inventory works when the operator has no SSH key yet', async () => {
    const home = mkdtempSync(join(tmpdir(), 'kprov-nokey-home-'));
    const inv = write('nokey.ini', '[masters]\nm1 ansible_host=10.0.0.1\n');
    const before = process.env.HOME;
    process.env.HOME = home;
    try {
      const r = await run('inventory', inv);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain('m1');
      // Commands that change hosts still need it.
      const p = await run('prepare', inv, '--log-file', join(dir, 'nokey.log'));
      expect(p.code).toBe(2);
      expect(p.err).toMatch(/no public key for the sudo user/);
    } finally {
      process.env.HOME = before;
    }
  });
});
