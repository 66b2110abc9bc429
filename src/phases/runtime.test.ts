import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { parseYamlInventory } from '../config/inventory-yaml.js';
import { resolveInventory } from '../config/inventory.js';
import { resolveSettings, type HostSpec } from '../config/settings.js';
import type { Bundle } from '../artifacts/bundle.js';
import { pauseImage } from '../kubeadm/images.js';
import { HostError } from '../errors/index.js';
import type { Facts } from '../host/facts.js';
import { Host } from '../host/host.js';
import { FakeConnection } from '../ssh/fake-connection.testing.js';
import { testContext } from './context.testing.js';
import {
  bundleFiles,
  CONTAINERD_UNIT,
  containerdConfigVersion,
  containerdFiles,
  containerdMajor,
  containerdRestartOn,
  MANAGED_MARK,
  runtimePhase,
} from './runtime.js';

const home = mkdtempSync(join(tmpdir(), 'kprov-home-'));
mkdirSync(join(home, '.ssh'));
writeFileSync(
  join(home, '.ssh', 'id_ed25519.pub'),
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop\n',
);

const inventory = (vars: string) =>
  `all:\n  vars:\n${vars}\n  children:\n    masters:\n      hosts:\n        m1: { ansible_host: 10.0.0.1 }\n`;
const facts = (canLowerOomScore: boolean) => ({ canLowerOomScore }) as Facts;
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const resolve = (vars: string) =>
  resolveSettings(resolveInventory(parseYamlInventory(inventory(vars), 'inventory.yaml')), { home });
const hostsToml = (vars: string) =>
  Object.fromEntries(
    containerdFiles(resolve(vars).cluster, { canLowerOomScore: true })
      .filter((f) => f.path.endsWith('hosts.toml'))
      .map((f) => [f.path, f.content]),
  );

describe('containerd registry configuration', () => {
  it('writes a hosts.toml per mirrored registry: mirrors first, in order, then the upstream', () => {
    const files = hostsToml(
      `    registry_mirrors:\n      registry.k8s.io: [http://10.0.0.5:5000/, https://mirror.internal]\n` +
        `      docker.io: https://10.0.0.6:5443\n    insecure_registries: [10.0.0.6:5443]`,
    );
    // The insecure mirror also gets its own file, for images named after it directly.
    expect(Object.keys(files).sort()).toEqual([
      '/etc/containerd/certs.d/10.0.0.6:5443/hosts.toml',
      '/etc/containerd/certs.d/docker.io/hosts.toml',
      '/etc/containerd/certs.d/registry.k8s.io/hosts.toml',
    ]);
    const k8s = files['/etc/containerd/certs.d/registry.k8s.io/hosts.toml'];
    expect(k8s).toContain('server = "https://registry.k8s.io"');
    expect(k8s.indexOf('[host."http://10.0.0.5:5000"]')).toBeLessThan(k8s.indexOf('[host."https://mirror.internal"]'));
    expect(k8s).not.toContain('skip_verify');
    const hub = files['/etc/containerd/certs.d/docker.io/hosts.toml'];
    expect(hub).toContain('server = "https://registry-1.docker.io"');
    expect(hub).toMatch(
      /\[host\."https:\/\/10\.0\.0\.6:5443"\]\n {2}capabilities = \["pull", "resolve"\]\n {2}skip_verify = true/,
    );
  });

  it('marks every hosts.toml it writes, so a registry dropped from the inventory can be removed safely', () => {
    const files = hostsToml(
      `    registry_mirrors:\n      registry.k8s.io: http://10.0.0.5:5000\n    insecure_registries: [10.0.0.7:5000]`,
    );
    expect(Object.keys(files)).toHaveLength(2);
    for (const content of Object.values(files)) expect(String(content).startsWith(MANAGED_MARK)).toBe(true);
  });

  it('keeps a plain insecure registry as its own HTTP host', () => {
    const files = hostsToml('    insecure_registries: 10.0.0.7:5000');
    expect(files['/etc/containerd/certs.d/10.0.0.7:5000/hosts.toml']).toContain('server = "http://10.0.0.7:5000"');
  });
});

describe('containerd configuration schema', () => {
  it('follows the containerd that reads it: 3 for 2.x, 2 for 1.x and while unknown', () => {
    expect(containerdMajor('v2.4.2')).toBe(2);
    expect(containerdMajor('1.6.20~ds1')).toBe(1);
    expect(containerdMajor('2.1.4~ds1\n')).toBe(2);
    expect(containerdMajor('')).toBeUndefined();
    expect(containerdMajor(undefined)).toBeUndefined();
    expect([1, 2, 3, undefined].map(containerdConfigVersion)).toEqual([2, 3, 3, 2]);
  });

  it('writes version 3 for containerd 2.x: CRI images and runtime plugins, pinned sandbox, systemd cgroups', () => {
    const { cluster } = resolve('    insecure_registries: 10.0.0.7:5000');
    const [config] = containerdFiles(cluster, facts(false), { major: 2 });
    expect(String(config.content).startsWith(MANAGED_MARK)).toBe(true);
    const toml = parse(String(config.content)) as Record<string, unknown>;
    expect(toml.version).toBe(3);
    expect(toml.plugins).toEqual({
      'io.containerd.cri.v1.images': {
        pinned_images: { sandbox: pauseImage(cluster) },
        registry: { config_path: '/etc/containerd/certs.d' },
      },
      'io.containerd.cri.v1.runtime': {
        restrict_oom_score_adj: true,
        containerd: {
          default_runtime_name: 'runc',
          runtimes: { runc: { runtime_type: 'io.containerd.runc.v2', options: { SystemdCgroup: true } } },
        },
        cni: { bin_dirs: ['/opt/cni/bin'], conf_dir: '/etc/cni/net.d' },
      },
    });
  });

  it('keeps version 2 for containerd 1.x, as before', () => {
    for (const major of [1, undefined]) {
      const [config] = containerdFiles(resolve('').cluster, facts(true), { major });
      const toml = parse(String(config.content)) as { version: number; plugins: Record<string, unknown> };
      expect(toml.version).toBe(2);
      expect(Object.keys(toml.plugins)).toEqual(['io.containerd.grpc.v1.cri']);
    }
  });
});

describe('the container runtime from the bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kprov-rt-'));
  const local = (name: string) => {
    writeFileSync(join(dir, name), `binary ${name}\n`);
    return join(dir, name);
  };
  const bundle: Bundle = {
    dir,
    binaries: {},
    images: [],
    cniPlugins: ['bridge', 'host-local', 'loopback', 'portmap'].map(local),
    runtime: {
      binaries: {
        containerd: local('containerd'),
        'containerd-shim-runc-v2': local('containerd-shim-runc-v2'),
        ctr: local('ctr'),
        runc: local('runc'),
      },
      containerdMajor: 2,
      containerdVersion: 'v2.4.2',
      arch: 'x86_64',
    },
  };
  const cluster = resolve('').cluster;
  const wanted = [...bundleFiles(bundle, readFileSync), ...containerdFiles(cluster, facts(true), { major: 2 })];

  /** A host answering as a fresh one (every file missing) or as one where every file is in place. */
  function host(state: 'fresh' | 'current', opts: { tools?: string; serving?: string; dryRun?: boolean } = {}) {
    const conn = new FakeConnection('m1', (_cmd, o) => {
      if (o.step === 'inspect host tools') return { stdout: opts.tools ?? '' };
      if (o.step === 'compare files')
        return {
          stdout: wanted
            .map((f) => (state === 'fresh' ? 'missing' : `${f.mode.toString(8)} root root ${sha(f.content)}`))
            .join('\n'),
        };
      if (o.step === 'inspect containerd')
        return { stdout: state === 'fresh' ? 'disabled\ninactive\nnone\nd1\n' : 'enabled\nactive\nd1\nd1\n' };
      if (o.step === 'verify containerd') return { stdout: `  Version:  ${opts.serving ?? 'v2.4.2'}\ncri=ok\n` };
      return undefined;
    });
    const h = new Host({ name: 'm1' } as HostSpec, conn.asConnection(), opts.dryRun ?? false);
    h.facts = { ...facts(true), arch: 'x86_64', packageManager: 'apt' } as Facts;
    const { ctx } = testContext([h], resolve(''));
    return { h, conn, ctx };
  }

  it('places binaries, unit and CNI plugins where containerd and its unit expect them', () => {
    expect(wanted.map((f) => `${f.path} ${f.mode.toString(8)}`)).toEqual([
      '/usr/local/bin/containerd 755',
      '/usr/local/bin/containerd-shim-runc-v2 755',
      '/usr/local/bin/ctr 755',
      '/usr/local/sbin/runc 755',
      '/etc/systemd/system/containerd.service 644',
      '/opt/cni/bin/bridge 755',
      '/opt/cni/bin/host-local 755',
      '/opt/cni/bin/loopback 755',
      '/opt/cni/bin/portmap 755',
      '/etc/containerd/config.toml 644',
      '/etc/crictl.yaml 644',
    ]);
    const unit = String(wanted.find((f) => f.path === CONTAINERD_UNIT)!.content);
    expect(unit).toContain('\nExecStart=/usr/local/bin/containerd\n');
    expect(unit).toContain('\nType=notify\nDelegate=yes\nKillMode=process\n');
    expect(containerdRestartOn(bundle.runtime)).toEqual([
      '/etc/containerd/config.toml',
      CONTAINERD_UNIT,
      '/usr/local/bin/containerd',
    ]);
    expect(containerdRestartOn(undefined)).toEqual(['/etc/containerd/config.toml']);
  });

  it('installs it on a fresh host without any package manager, restarts containerd once, and checks it', async () => {
    const { h, conn, ctx } = host('fresh');
    await runtimePhase(bundle).runHost!(h, ctx);
    expect(conn.script).not.toMatch(/apt-get|dpkg|dnf|yum|rpm /);
    expect(h.changes).toEqual([
      ...wanted.map((f) => `create ${f.path}`),
      'enable containerd',
      'reload systemd units',
      'start containerd',
    ]);
    // systemd's part is one command: enable (no reload of its own), reload, start, record what it started with.
    const systemd = conn.execs.filter((e) => e.command.includes('systemctl') && !e.command.includes('is-active'));
    expect(systemd.map((e) => e.step)).toEqual(['start containerd']);
    const start = systemd[0].command;
    expect(start).toMatch(/systemctl enable --no-reload containerd; d=.*systemctl daemon-reload; systemctl restart/);
    expect(start).toContain('/usr/local/bin/containerd');
    expect(start).toContain(CONTAINERD_UNIT);
    expect([...conn.uploads.values()].map(String)).toContain('binary runc\n');
  });

  it('changes nothing on a host where it is in place and running', async () => {
    const { h, conn, ctx } = host('current');
    await runtimePhase(bundle).runHost!(h, ctx);
    expect(h.changes).toEqual([]);
    expect(conn.execs.filter((e) => e.step === 'install files')).toEqual([]);
  });

  it('dry-run lists every change and makes none', async () => {
    const { h, conn, ctx } = host('fresh', { dryRun: true });
    await runtimePhase(bundle).runHost!(h, ctx);
    expect(h.changes).toHaveLength(wanted.length + 3);
    expect(conn.uploads.size).toBe(0);
    expect(conn.script).not.toMatch(/systemctl (restart|enable|daemon-reload)|install -m/);
  });

  it('stops before any change on a host that lacks a tool a node needs, saying what to install', async () => {
    const { h, conn, ctx } = host('fresh', { tools: 'iptables\nlosetup\n' });
    const err = await runtimePhase(bundle).runHost!(h, ctx).catch((e) => e);
    expect(err).toBeInstanceOf(HostError);
    expect(err.message).toBe(
      "iptables, losetup not found (iptables: hostPort through the portmap CNI plugin, the kubelet's iptables " +
        "chains; losetup: the kubelet's block volumes). The artifact bundle provides the container runtime, so " +
        'kprov installs no packages: install iptables mount on this host',
    );
    expect(conn.execs.map((e) => e.step)).toEqual(['inspect host tools']);
  });

  it('refuses a host of another architecture, and a containerd that answers as another version', async () => {
    const arm = host('fresh');
    arm.h.facts = { ...arm.h.facts!, arch: 'aarch64' };
    await expect(runtimePhase(bundle).runHost!(arm.h, arm.ctx)).rejects.toThrow(
      "the artifact bundle's runtime is built for x86_64, this host is aarch64",
    );
    const old = host('current', { serving: '1.6.20~ds1' });
    await expect(runtimePhase(bundle).runHost!(old.h, old.ctx)).rejects.toThrow(
      "containerd answers as 1.6.20~ds1, not the bundle's v2.4.2",
    );
  });
});

describe('the container runtime from packages', () => {
  function host(answers: { missing: string; version?: string }) {
    const conn = new FakeConnection('m1', (cmd, o) => {
      if (o.step === 'inspect packages') return { stdout: answers.missing };
      if (o.step === 'inspect containerd' && cmd.includes('--version')) return { stdout: `${answers.version}\n` };
      if (o.step === 'compare files') return { stdout: 'missing\nmissing\n' };
      if (o.step === 'inspect containerd') return { stdout: 'enabled\nactive\nnone\nd1\n' };
      if (o.step === 'verify containerd') return { stdout: '  Version:  2.1.4~ds1\ncri=ok\n' };
      return undefined;
    });
    const h = new Host({ name: 'm1' } as HostSpec, conn.asConnection(), false);
    h.facts = { ...facts(true), arch: 'x86_64', packageManager: 'apt' } as Facts;
    return { h, conn, ctx: testContext([h], resolve('')).ctx };
  }

  it('installs containerd, runc and missing tools, then writes the config its version reads', async () => {
    const { h, conn, ctx } = host({ missing: 'containerd\nrunc\ntool:iptables\n', version: '2.1.4~ds1' });
    await runtimePhase().runHost!(h, ctx);
    expect(h.changes[0]).toBe('install containerd, runc, iptables');
    expect(conn.execs.find((e) => e.step === 'install packages')!.command).toContain(
      'install -y -q --no-install-recommends containerd runc iptables',
    );
    const config = [...conn.uploads.values()].map(String).find((c) => c.includes('version = '));
    expect(config).toContain('version = 3\n');
  });

  it('keeps version 2 for an installed containerd 1.x and asks nothing more', async () => {
    const { h, conn, ctx } = host({ missing: '' });
    h.facts = { ...h.facts!, containerdVersion: '1.6.20~ds1' };
    await runtimePhase().runHost!(h, ctx);
    expect(conn.execs.filter((e) => e.step === 'install packages' || e.command.includes('--version'))).toEqual([]);
    const config = [...conn.uploads.values()].map(String).find((c) => c.includes('version = '));
    expect(config).toContain('version = 2\n');
  });
});
