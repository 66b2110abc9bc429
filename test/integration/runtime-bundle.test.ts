import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kprov, runOk, SYNC_TIMEOUT_MS } from '../helpers/cli.js';
import type { Lab } from '../../src/lab/lab.js';

// Issue 10, offline: containerd, runc and the CNI plugins from the artifact bundle on hosts that have no package
// manager and no mirror to reach. The runtime is built from its Go modules by the e2e harness (cached per version).
const home = mkdtempSync(join(tmpdir(), 'kprov-it-rt-'));
const env = { KPROV_HOME: home };
const LAB = 'itrt';
const bundle = join(home, 'bundle');
let lab: Lab;

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', timeout: SYNC_TIMEOUT_MS });
const onNode = (node: string, cmd: string) => docker('exec', `kprov-${LAB}-${node}`, 'sh', '-c', cmd);
const statuses = (stdout: string) =>
  Object.fromEntries([...stdout.matchAll(/^[✔✖] (\S+): (.+)$/gm)].map((m) => [m[1], m[2]]));
const prepare = (...args: string[]) => kprov(['prepare', lab.inventory, '--artifacts-dir', bundle, ...args], env);

/** Every package manager command logs its call and fails; nothing on port 80/443 answers. */
const OFFLINE =
  'for b in /usr/bin/apt-get /usr/bin/apt /usr/bin/dpkg /usr/bin/dpkg-query; do [ -e $b.real ] || mv $b $b.real; ' +
  `printf '#!/bin/sh\\necho "$0 $*" >> /var/log/pkg-called\\nexit 100\\n' > $b; chmod 755 $b; done; ` +
  'iptables -A OUTPUT -p tcp -m multiport --dports 80,443 -j REJECT';

/** A static program in an image made from scratch: what it prints shows runc ran it, and under seccomp. */
function checkImage(dir: string): string {
  writeFileSync(
    join(dir, 'check.c'),
    '#include <stdio.h>\n#include <string.h>\n' +
      'int main(void) { char l[256]; FILE *f = fopen("/proc/self/status", "r");\n' +
      '  puts("hello from runc");\n' +
      '  while (f && fgets(l, sizeof l, f)) if (!strncmp(l, "Seccomp:", 8)) fputs(l, stdout);\n  return 0; }\n',
  );
  execFileSync('gcc', ['-Os', '-static', '-o', join(dir, 'check'), join(dir, 'check.c')], { timeout: SYNC_TIMEOUT_MS });
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY check /check\nENTRYPOINT ["/check"]\n');
  execFileSync('docker', ['build', '-q', '-t', 'kprov.local/rtcheck:1', dir], {
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
    timeout: SYNC_TIMEOUT_MS,
  });
  const tar = join(dir, 'rtcheck.tar');
  docker('save', '-o', tar, 'kprov.local/rtcheck:1');
  return tar;
}

beforeAll(async () => {
  const cache = join(process.env.KPROV_E2E_CACHE ?? join(homedir(), '.cache', 'kprov-e2e'), 'runtime');
  const script = fileURLToPath(new URL('../e2e/build-runtime.sh', import.meta.url));
  const started = Date.now();
  await runOk('bash', [script, cache, bundle], { inheritStderr: true });
  console.log(`runtime bundle: ${Date.now() - started} ms`);
  const up = await kprov(['lab', 'up', '--name', LAB, '--masters', '1', '--workers', '1'], env);
  expect(up.code, up.stderr).toBe(0);
  lab = JSON.parse(readFileSync(join(home, 'labs', LAB, 'lab.json'), 'utf8'));
  const images = join(home, 'image');
  mkdirSync(images);
  const tar = checkImage(images);
  for (const n of lab.nodes) docker('cp', tar, `kprov-${LAB}-${n.name}:/root/rtcheck.tar`);
});

afterAll(async () => {
  const down = await kprov(['lab', 'down', '--name', LAB], env);
  expect(down.code, down.stderr).toBe(0);
});

describe('the container runtime from the artifact bundle', () => {
  it('replaces the distribution containerd of a host prepared online', async () => {
    const online = await kprov(['prepare', lab.inventory, '--hosts', 'worker1'], env);
    expect(online.code, online.stdout + online.stderr).toBe(0);
    expect(onNode('worker1', 'containerd --version; head -n 2 /etc/containerd/config.toml | tail -n 1')).toMatch(
      /^containerd .* 1\.6\.\d+.*\nversion = 2\n$/,
    );
  });

  it('installs containerd 2.x, runc and the CNI plugins with no package manager and no mirror', async () => {
    for (const n of lab.nodes) onNode(n.name, OFFLINE);
    const r = await prepare();
    console.log(`prepare with the bundle runtime (2 hosts, one fresh): ${r.ms} ms`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(statuses(r.stdout)).toEqual({
      master1: expect.stringMatching(/^made \d+ changes$/),
      worker1: expect.any(String),
    });
    expect(r.stdout).toContain('Container runtime: create /usr/local/bin/containerd');
    expect(r.stdout).toMatch(/worker1: made \d+ changes[^✔✖]*restart containerd/);
    for (const n of lab.nodes) {
      expect(onNode(n.name, 'cat /var/log/pkg-called 2>/dev/null || echo none')).toBe('none\n');
      expect(onNode(n.name, 'containerd --version; runc --version | head -n 1')).toMatch(
        /^containerd github.com\/containerd\/containerd\/v2 v2\.\d+\.\d+ *\nrunc version 1\.\d+\.\d+\n$/,
      );
      // The daemon that answers is the bundle's, started from kprov's unit, with the schema 3 config.
      expect(onNode(n.name, "ctr version 2>/dev/null | grep -A1 '^Server' | tail -n 1")).toMatch(/Version:\s+v2\./);
      expect(onNode(n.name, 'systemctl show containerd -p FragmentPath --value')).toBe(
        '/etc/systemd/system/containerd.service\n',
      );
      expect(onNode(n.name, 'grep -E "^version|SystemdCgroup|sandbox =" /etc/containerd/config.toml')).toMatch(
        /^version = 3\n\s+sandbox = "registry\.k8s\.io\/pause:[\d.]+"\n\s+SystemdCgroup = true\n$/,
      );
      expect(onNode(n.name, 'ctr plugins ls 2>/dev/null | awk \'$2 == "cri" {print $4}\'')).toBe('ok\n');
      expect(onNode(n.name, 'ls /opt/cni/bin')).toBe('bridge\nhost-local\nloopback\nportmap\n');
      // runc runs a container, under the default seccomp profile (runc was built with libseccomp).
      const run = onNode(
        n.name,
        'ctr images import /root/rtcheck.tar >/dev/null 2>&1 && ' +
          'ctr run --rm --seccomp kprov.local/rtcheck:1 c1 2>/dev/null',
      );
      expect(run).toBe('hello from runc\nSeccomp:\t2\n');
    }
  });

  it('changes nothing on a second run', async () => {
    const r = await prepare();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(statuses(r.stdout)).toEqual({ master1: 'unchanged', worker1: 'unchanged' });
  });

  it('dry-run reports a drifted binary and unit exactly, and the run repairs them', async () => {
    onNode('worker1', 'echo drift >> /usr/local/sbin/runc; echo "# drift" >> /etc/systemd/system/containerd.service');
    const started = onNode('worker1', 'systemctl show containerd -p ActiveEnterTimestampMonotonic --value');
    const dry = await prepare('--dry-run');
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    expect(statuses(dry.stdout)).toEqual({ master1: 'unchanged', worker1: 'would make 3 changes' });
    for (const change of [
      'update /usr/local/sbin/runc',
      'update /etc/systemd/system/containerd.service',
      'reload systemd units',
    ])
      expect(dry.stdout).toContain(`- Container runtime: ${change}`);
    const fix = await prepare('--hosts', 'worker1');
    expect(fix.code, fix.stdout).toBe(0);
    expect(statuses(fix.stdout)).toEqual({ worker1: 'made 3 changes' });
    // The unit went back to what containerd was started with: no restart.
    expect(onNode('worker1', 'systemctl show containerd -p ActiveEnterTimestampMonotonic --value')).toBe(started);
  });

  it('stops on a host that lacks a tool a node needs, and says what to install', async () => {
    onNode('master1', 'mv /usr/sbin/iptables /usr/sbin/iptables.aside');
    try {
      const r = await prepare();
      expect(r.code).toBe(1);
      expect(statuses(r.stdout)).toEqual({ master1: 'FAILED', worker1: 'unchanged' });
      expect(r.stdout).toContain(
        'master1: [inspect host tools] iptables not found (iptables: hostPort through the portmap CNI plugin',
      );
      expect(r.stdout).toContain('kprov installs no packages: install iptables on this host');
    } finally {
      onNode('master1', 'mv /usr/sbin/iptables.aside /usr/sbin/iptables');
    }
  });
});
