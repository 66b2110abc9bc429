import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { kprov, SYNC_TIMEOUT_MS } from '../helpers/cli.js';
import { openssh } from '../helpers/ssh.js';
import type { Lab } from '../../src/lab/lab.js';

// Real hosts: containers with systemd and sshd on the local Docker engine, made by `kprov lab up`.
const home = mkdtempSync(join(tmpdir(), 'kprov-it-'));
const env = { KPROV_HOME: home };
const LAB = 'itprep';
let lab: Lab;

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', timeout: SYNC_TIMEOUT_MS });
const onNode = (node: string, cmd: string) => docker('exec', `kprov-${LAB}-${node}`, 'sh', '-c', cmd);
const ip = (node: string) => lab.nodes.find((n) => n.name === node)!.ip;
/** Per-host status lines of the summary, e.g. { master1: 'unchanged' }. */
function statuses(stdout: string): Record<string, string> {
  return Object.fromEntries([...stdout.matchAll(/^[✔✖] (\S+): (.+)$/gm)].map((m) => [m[1], m[2]]));
}
function inventoryVariant(name: string, edit: (text: string) => string): string {
  const file = join(home, name);
  writeFileSync(file, edit(readFileSync(lab.inventory, 'utf8')));
  return file;
}

beforeAll(async () => {
  const up = await kprov(['lab', 'up', '--name', LAB, '--masters', '1', '--workers', '2'], env);
  expect(up.code, up.stderr).toBe(0);
  lab = JSON.parse(readFileSync(join(home, 'labs', LAB, 'lab.json'), 'utf8'));
  console.log(`lab up: ${up.ms} ms`);
});

afterAll(async () => {
  const down = await kprov(['lab', 'down', '--name', LAB], env);
  expect(down.code, down.stderr).toBe(0);
  expect(docker('ps', '-aq', '--filter', `label=io.kprov.lab=${LAB}`).trim()).toBe('');
});

describe('kprov prepare on lab hosts', () => {
  it('creates the sudo user and a running containerd on every host', async () => {
    const r = await kprov(['prepare', lab.inventory], env);
    console.log(`prepare (first run, 3 hosts): ${r.ms} ms`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(statuses(r.stdout)).toEqual({
      master1: 'made 10 changes',
      worker1: 'made 10 changes',
      worker2: 'made 10 changes',
    });
    for (const node of lab.nodes) {
      // Log in as the new user with the lab key through the real OpenSSH client, and sudo without a password.
      const login = await openssh(
        { user: 'ubuntu', host: node.ip, key: lab.privateKey, knownHosts: lab.knownHosts },
        'id -un && sudo -n true && echo sudo-ok',
      );
      expect(login.stdout, login.stderr).toBe('ubuntu\nsudo-ok\n');
      expect(
        onNode(
          node.name,
          'stat -c "%a %U" /etc/sudoers.d/90-kprov-ubuntu /home/ubuntu/.ssh /home/ubuntu/.ssh/authorized_keys',
        ),
      ).toBe('440 root\n700 ubuntu\n600 ubuntu\n');
      expect(onNode(node.name, 'systemctl is-active containerd; systemctl is-enabled containerd')).toBe(
        'active\nenabled\n',
      );
      expect(onNode(node.name, 'ctr plugins ls | awk \'$2 == "cri" {print $4}\'')).toBe('ok\n');
      expect(onNode(node.name, 'grep -c "SystemdCgroup = true" /etc/containerd/config.toml')).toBe('1\n');
      expect(onNode(node.name, 'sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables')).toBe('1\n1\n');
    }
  });

  it('changes nothing on a second run', async () => {
    const r = await kprov(['prepare', lab.inventory], env);
    console.log(`prepare (re-run, 3 hosts): ${r.ms} ms`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(statuses(r.stdout)).toEqual({ master1: 'unchanged', worker1: 'unchanged', worker2: 'unchanged' });
  });

  it('dry-run reports drift exactly and repairs nothing; a real run repairs it', async () => {
    onNode('worker1', 'rm /etc/crictl.yaml && chmod 0600 /etc/containerd/config.toml');
    const dry = await kprov(['prepare', lab.inventory, '--dry-run'], env);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    expect(statuses(dry.stdout)).toEqual({
      master1: 'unchanged',
      worker1: 'would make 2 changes',
      worker2: 'unchanged',
    });
    expect(dry.stdout).toContain('- Container runtime: create /etc/crictl.yaml');
    expect(dry.stdout).toContain('- Container runtime: fix mode/owner of /etc/containerd/config.toml');
    expect(onNode('worker1', 'test -e /etc/crictl.yaml && echo present || echo absent')).toBe('absent\n');
    const fix = await kprov(['prepare', lab.inventory, '--hosts', 'worker1'], env);
    expect(fix.code, fix.stdout).toBe(0);
    expect(statuses(fix.stdout)).toEqual({ worker1: 'made 2 changes' });
    expect(onNode('worker1', 'stat -c %a /etc/containerd/config.toml /etc/crictl.yaml')).toBe('644\n644\n');
  });

  it('refuses a changed host key and shows both fingerprints', async () => {
    const knownHosts = join(home, 'known_hosts_wrong');
    const otherKey = join(home, 'otherkey');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey], { timeout: SYNC_TIMEOUT_MS });
    const fake = readFileSync(`${otherKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    writeFileSync(
      knownHosts,
      readFileSync(lab.knownHosts, 'utf8').replace(
        new RegExp(`^${ip('master1').replace(/\./g, '\\.')} .*$`, 'm'),
        `${ip('master1')} ${fake}`,
      ),
    );
    const inv = inventoryVariant('wrong-key.yaml', (t) => t.replace(lab.knownHosts, knownHosts));
    const r = await kprov(['prepare', inv], env);
    expect(r.code).toBe(1);
    expect(statuses(r.stdout)).toMatchObject({ master1: 'FAILED', worker1: 'unchanged', worker2: 'unchanged' });
    expect(r.stdout).toMatch(
      new RegExp(
        `master1: \\[connect\\] HOST KEY CHANGED for ${ip('master1').replace(/\./g, '\\.')}: ` +
          `known_hosts \\(.*:1\\) has SHA256:\\S+, the host presented SHA256:\\S+`,
      ),
    );
  });

  it('refuses an unknown host unless trust-on-first-use is chosen, which records the key', async () => {
    const knownHosts = join(home, 'known_hosts_empty');
    writeFileSync(knownHosts, '');
    const strict = await kprov(
      ['prepare', inventoryVariant('unknown.yaml', (t) => t.replace(lab.knownHosts, knownHosts)), '--hosts', 'worker2'],
      env,
    );
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(
      /worker2: \[connect\] unknown host key for \S+ \(SHA256:\S+\): not in .*known_hosts_empty/,
    );
    const tofu = await kprov(
      [
        'prepare',
        inventoryVariant('tofu.yaml', (t) =>
          t.replace(lab.knownHosts, knownHosts).replace('vars:', 'vars:\n    kprov_host_key_checking: accept-new'),
        ),
        '--hosts',
        'worker2',
      ],
      env,
    );
    expect(tofu.code, tofu.stdout).toBe(0);
    const recorded = readFileSync(knownHosts, 'utf8');
    expect(recorded).toBe(
      readFileSync(lab.knownHosts, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith(`${ip('worker2')} `))
        .join('\n') + '\n',
    );
  });

  it('works as a non-root user whose sudo needs a password, without leaking it', async () => {
    const password = 'Pw-' + Math.random().toString(36).slice(2);
    onNode(
      'worker2',
      `id ops >/dev/null 2>&1 || useradd -m -s /bin/bash ops; echo 'ops:${password}' | chpasswd; ` +
        "echo 'ops ALL=(ALL) ALL' > /etc/sudoers.d/ops; chmod 440 /etc/sudoers.d/ops; " +
        'mkdir -p ~ops/.ssh; cp /root/.ssh/authorized_keys ~ops/.ssh/; chown -R ops ~ops/.ssh',
    );
    onNode('worker2', 'rm -f /etc/crictl.yaml');
    const log = join(home, 'become.log');
    const inv = inventoryVariant('become.yaml', (t) =>
      t.replace('ansible_user: root', `ansible_user: ops\n    ansible_become_password: ${password}`),
    );
    const r = await kprov(['prepare', inv, '--hosts', 'worker2', '--log-file', log, '--verbose'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(statuses(r.stdout)).toEqual({ worker2: 'made 1 change' });
    expect(onNode('worker2', 'stat -c %U /etc/crictl.yaml')).toBe('root\n');
    expect(readFileSync(log, 'utf8')).toContain('sudo');
    for (const text of [r.stdout, r.stderr, readFileSync(log, 'utf8')]) expect(text).not.toContain(password);
    // A wrong password is reported as such.
    const bad = await kprov(
      [
        'prepare',
        inventoryVariant('badpw.yaml', (t) =>
          t.replace('ansible_user: root', 'ansible_user: ops\n    ansible_become_password: wrong-password'),
        ),
        '--hosts',
        'worker2',
      ],
      env,
    );
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/worker2: \[.*\] sudo rejected the become password for ops/);
  });

  it('reaches hosts through a jump host', async () => {
    const inv = inventoryVariant('jump.yaml', (t) =>
      t.replace(
        /(worker\d:\n\s+ansible_host: \S+)/g,
        `$1\n          ansible_ssh_common_args: '-o ProxyJump=root@${ip('master1')}'`,
      ),
    );
    onNode('worker1', 'rm -f /etc/crictl.yaml');
    const r = await kprov(['prepare', inv, '--hosts', 'worker1'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(statuses(r.stdout)).toEqual({ worker1: 'made 1 change' });
    // sshd on worker1 saw the connection come from master1, the jump host.
    expect(
      onNode(
        'worker1',
        `journalctl -u ssh --no-pager | grep -c "Accepted publickey for root from ${ip('master1')} "`,
      ).trim(),
    ).not.toBe('0');
  });

  it('reports an unreachable host clearly and finishes the others', async () => {
    docker('stop', `kprov-${LAB}-worker2`);
    try {
      const r = await kprov(['prepare', lab.inventory, '--connect-timeout', '3'], env);
      expect(r.code).toBe(1);
      expect(statuses(r.stdout)).toEqual({ master1: 'unchanged', worker1: 'unchanged', worker2: 'FAILED' });
      expect(r.stdout).toMatch(
        new RegExp(
          `worker2: \\[connect\\] cannot connect to root@${ip('worker2').replace(/\./g, '\\.')}:22: .*\\(3 attempts\\)`,
        ),
      );
      expect(r.stderr).toContain('1 of 3 hosts failed: worker2');
    } finally {
      docker('start', `kprov-${LAB}-worker2`);
    }
  });
});
