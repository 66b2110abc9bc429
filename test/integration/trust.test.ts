import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { KPROV_BIN, kprov, SYNC_TIMEOUT_MS } from '../helpers/cli.js';
import { openssh } from '../helpers/ssh.js';
import type { Lab } from '../../src/lab/lab.js';
import { SshConnection } from '../../src/ssh/connection.js';
import { RunLog } from '../../src/log/logger.js';
import { Host } from '../../src/host/host.js';
import type { HostSpec } from '../../src/config/settings.js';
import { kubeconfigFileFor } from '../../src/actions/init.js';

// Issue 8 on a real host: services converge on what runs, ~/.kube ownership, sudo revocation, signals.
const home = mkdtempSync(join(tmpdir(), 'kprov-it-trust-'));
const env = { KPROV_HOME: home };
const LAB = 'ittrust';
let lab: Lab;

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', timeout: SYNC_TIMEOUT_MS });
const onNode = (cmd: string) => docker('exec', `kprov-${LAB}-master1`, 'sh', '-c', cmd);
const ip = () => lab.nodes.find((n) => n.name === 'master1')!.ip;
const statuses = (stdout: string) =>
  Object.fromEntries([...stdout.matchAll(/^[✔✖] (\S+): (.+)$/gm)].map((m) => [m[1], m[2]]));
function variant(name: string, edit: (text: string) => string): string {
  const file = join(home, name);
  writeFileSync(file, edit(readFileSync(lab.inventory, 'utf8')));
  return file;
}

beforeAll(async () => {
  const up = await kprov(['lab', 'up', '--name', LAB, '--masters', '1', '--workers', '0'], env);
  expect(up.code, up.stderr).toBe(0);
  lab = JSON.parse(readFileSync(join(home, 'labs', LAB, 'lab.json'), 'utf8'));
  const first = await kprov(['prepare', lab.inventory], env);
  expect(first.code, first.stdout + first.stderr).toBe(0);
});

afterAll(async () => {
  const down = await kprov(['lab', 'down', '--name', LAB], env);
  expect(down.code, down.stderr).toBe(0);
});

describe('trust and convergence on a real host', () => {
  it('restarts containerd running an older config.toml though the file is right (interrupted run)', async () => {
    // containerd was last started by kprov with one config.toml (another version's pause image); then a run wrote
    // the new one and was stopped before restarting containerd.
    onNode('cp /etc/containerd/config.toml /root/want');
    const older = await kprov(
      ['prepare', variant('v135.yaml', (t) => t.replace('vars:', 'vars:\n    kubernetes_version: v1.35.4'))],
      env,
    );
    expect(older.code, older.stdout + older.stderr).toBe(0);
    expect(older.stdout).toContain('restart containerd');
    expect(onNode('grep -c pause:3.10.1 /etc/containerd/config.toml')).toBe('1\n');
    onNode('cp /root/want /etc/containerd/config.toml');
    const r = await kprov(['prepare', lab.inventory], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('restart containerd (it runs with an older /etc/containerd/config.toml)');
    const again = await kprov(['prepare', lab.inventory], env);
    expect(statuses(again.stdout)).toEqual({ master1: 'unchanged' });
  });

  it("gives the user its ~/.kube, fixing one an earlier run made root's", async () => {
    onNode('rm -rf /home/ubuntu/.kube && mkdir -m 0700 /home/ubuntu/.kube && echo old > /home/ubuntu/.kube/config');
    const log = new RunLog(undefined);
    const conn = new SshConnection(
      {
        name: 'master1',
        host: ip(),
        port: 22,
        user: 'root',
        privateKeyFile: lab.privateKey,
        knownHostsFile: lab.knownHosts,
        hostKeyChecking: 'strict',
      },
      log,
    );
    await conn.connect({ connectTimeoutMs: 10_000, connectAttempts: 1 });
    try {
      const host = new Host({ name: 'master1' } as HostSpec, conn, false);
      await host.ensureFiles([kubeconfigFileFor('ubuntu', '/home/ubuntu', 'apiVersion: v1\nkind: Config\n')]);
      expect(onNode('stat -c "%a %U %G" /home/ubuntu/.kube /home/ubuntu/.kube/config')).toBe(
        '700 ubuntu ubuntu\n600 ubuntu ubuntu\n',
      );
      const login = await openssh(
        { user: 'ubuntu', host: ip(), key: lab.privateKey, knownHosts: lab.knownHosts },
        'cat ~/.kube/config',
      );
      expect(login.stdout, login.stderr).toBe('apiVersion: v1\nkind: Config\n');
      // No upload or root copy is left behind.
      expect(onNode('ls -A /tmp | grep -c "^.kprov-" || true; ls -A /var/lib/kprov/staging | wc -l')).toBe('0\n0\n');
    } finally {
      conn.close();
    }
  });

  it('a new sudo_user_public_key replaces the old one, and a renamed sudo_user loses its rule', async () => {
    const newKey = join(home, 'newkey');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', newKey], { timeout: SYNC_TIMEOUT_MS });
    onNode(
      'echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVzZXJ1c2VydXNlcnVzZXJ1c2VydXNlcnVzZXJ1 admin@desk" ' +
        '>> /home/ubuntu/.ssh/authorized_keys',
    );
    const inv = variant('newkey.yaml', (t) => t.replace(`${lab.privateKey}.pub`, `${newKey}.pub`));
    const r = await kprov(['prepare', inv], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const as = (key: string) =>
      openssh({ user: 'ubuntu', host: ip(), key, knownHosts: lab.knownHosts }, 'sudo -n true && echo ok');
    expect((await as(newKey)).stdout).toBe('ok\n');
    expect((await as(lab.privateKey)).code).not.toBe(0);
    // The key kprov did not add stays.
    expect(onNode('grep -c admin@desk /home/ubuntu/.ssh/authorized_keys')).toBe('1\n');

    const renamed = variant('renamed.yaml', (t) =>
      t.replace(`${lab.privateKey}.pub`, `${newKey}.pub`).replace('vars:', 'vars:\n    sudo_user: kadmin'),
    );
    const r2 = await kprov(['prepare', renamed], env);
    expect(r2.code, r2.stdout + r2.stderr).toBe(0);
    expect(onNode('ls /etc/sudoers.d/')).not.toContain('90-kprov-ubuntu');
    expect((await as(newKey)).code).not.toBe(0);
  });

  it('refuses a system account as sudo_user and leaves it no rule', async () => {
    const inv = variant('www.yaml', (t) => t.replace('vars:', 'vars:\n    sudo_user: www-data'));
    const r = await kprov(['prepare', inv], env);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('sudo_user www-data is an existing system account');
    expect(onNode('ls /etc/sudoers.d/')).not.toContain('90-kprov-www-data');
  });

  it('SIGINT in the middle of a step exits 130, says what was half-done and leaves no staging files', async () => {
    // A slow containerd restart to interrupt: a drop-in that sleeps before starting, and no record of its config.
    onNode(
      'mkdir -p /etc/systemd/system/containerd.service.d && printf "[Service]\\nExecStartPre=/bin/sleep 20\\n" > ' +
        '/etc/systemd/system/containerd.service.d/slow.conf && systemctl daemon-reload && ' +
        'rm /var/lib/kprov/applied/containerd.sha256',
    );
    try {
      const child = spawn(process.execPath, [KPROV_BIN, 'prepare', lab.inventory, '--verbose'], {
        env: { ...process.env, CI: 'true', ...env },
      });
      let stderr = '';
      let stdout = '';
      let sent = false;
      child.stdout.on('data', (d) => (stdout += d));
      const code = await new Promise<number | null>((resolve) => {
        child.stderr.on('data', (d) => {
          stderr += d;
          // Commands are logged when they end: once containerd's state was read, its (slow) restart is running.
          if (!sent && stderr.includes('systemctl is-active containerd')) {
            sent = true;
            setTimeout(() => child.kill('SIGINT'), 2000);
          }
        });
        child.on('close', (c) => resolve(c));
      });
      expect(code, stdout + stderr).toBe(130);
      expect(stderr).toContain('interrupted by SIGINT');
      expect(stderr).toContain('master1: stopped during "Container runtime"');
      expect(onNode('ls -A /tmp | grep -c "^.kprov-" || true; ls -A /var/lib/kprov/staging | wc -l')).toBe('0\n0\n');
    } finally {
      onNode('rm -rf /etc/systemd/system/containerd.service.d && systemctl daemon-reload');
    }
    // The next run finishes the job.
    const r = await kprov(['prepare', lab.inventory], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(onNode('systemctl is-active containerd')).toBe('active\n');
  });
});
