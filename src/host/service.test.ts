import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseYamlInventory } from '../config/inventory-yaml.js';
import { resolveInventory } from '../config/inventory.js';
import { resolveSettings, type HostSpec } from '../config/settings.js';
import { FakeConnection, type Responder } from '../ssh/fake-connection.testing.js';
import { containerdFiles, runtimePhase } from '../phases/runtime.js';
import { ensureKubelet } from '../phases/cluster/waits.js';
import type { RunContext } from '../phases/phase.js';
import type { Facts } from './facts.js';
import { Host } from './host.js';
import { appliedMarker, configDigestScript, ensureServiceCurrent } from './service.js';
import { testContext } from '../phases/context.testing.js';

const home = mkdtempSync(join(tmpdir(), 'kprov-home-'));
mkdirSync(join(home, '.ssh'));
writeFileSync(
  join(home, '.ssh', 'id_ed25519.pub'),
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop\n',
);
const resolved = resolveSettings(
  resolveInventory(
    parseYamlInventory(
      'all:\n  children:\n    masters:\n      hosts:\n        m1: { ansible_host: 10.0.0.1 }\n',
      'inventory.yaml',
    ),
  ),
  { home },
);
const facts = { packageManager: 'apt', canLowerOomScore: true, osId: 'debian' } as Facts;
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

function hostWith(responder: Responder): { host: Host; conn: FakeConnection; ctx: RunContext } {
  const conn = new FakeConnection('m1', responder);
  const host = new Host({ name: 'm1' } as HostSpec, conn.asConnection(), false);
  host.facts = facts;
  const { ctx } = testContext([host], resolved);
  return { host, conn, ctx };
}

/** A host where containerd's files are all as kprov wants them, and containerd is enabled and active. */
function containerdHost(applied: string, current: string, active = 'active') {
  const files = containerdFiles(resolved.cluster, facts);
  return hostWith((cmd, opts) => {
    if (opts.step === 'compare files')
      return { stdout: files.map((f) => `${f.mode.toString(8)} root root ${sha(f.content)}`).join('\n') + '\n' };
    if (opts.step === 'inspect containerd') return { stdout: `enabled\n${active}\n${applied}\n${current}\n` };
    if (opts.step === 'verify containerd') return { stdout: '1.6.20\ncri=ok\n' };
    if (cmd.includes('dpkg-query')) return { stdout: '' };
    return undefined;
  });
}

describe('services run with the configuration on disk', () => {
  it('restarts containerd started with an older config.toml, though nothing changed in this run', async () => {
    // The run before wrote config.toml and was interrupted before the restart.
    const { host, conn, ctx } = containerdHost('a'.repeat(64), 'b'.repeat(64));
    await runtimePhase().runHost!(host, ctx);
    expect(conn.execs.filter((e) => e.step === 'install files')).toEqual([]);
    expect(host.changes).toEqual(['restart containerd (it runs with an older /etc/containerd/config.toml)']);
    const restart = conn.execs.find((e) => e.step === 'restart containerd')!;
    expect(restart.command).toContain('systemctl restart containerd');
    // The record is written after the restart, from the files as they are then.
    expect(restart.command.indexOf('systemctl restart')).toBeLessThan(
      restart.command.indexOf(appliedMarker('containerd')),
    );
  });

  it('leaves a running containerd alone when it runs with the configuration on disk', async () => {
    const { host, conn, ctx } = containerdHost('c'.repeat(64), 'c'.repeat(64));
    await runtimePhase().runHost!(host, ctx);
    expect(host.changes).toEqual([]);
    expect(conn.script).not.toContain('systemctl restart');
  });

  it('starts a stopped service and restarts one kprov has no record for', async () => {
    const stopped = containerdHost('c'.repeat(64), 'c'.repeat(64), 'inactive');
    await runtimePhase().runHost!(stopped.host, stopped.ctx);
    expect(stopped.host.changes).toEqual(['start containerd']);
    const fresh = containerdHost('none', 'c'.repeat(64));
    await runtimePhase().runHost!(fresh.host, fresh.ctx);
    expect(fresh.host.changes).toEqual(['restart containerd (not yet started by kprov with its configuration)']);
  });

  it('the kubelet converges the same way', async () => {
    const { host } = hostWith((_cmd, opts) =>
      opts.step === 'inspect kubelet'
        ? { stdout: `enabled\nactive\n${'a'.repeat(64)}\n${'b'.repeat(64)}\n` }
        : undefined,
    );
    await ensureKubelet(host, []);
    expect(host.changes).toEqual([
      'restart kubelet (it runs with an older /var/lib/kubelet/config.yaml, /var/lib/kubelet/instance-config.yaml, ' +
        '/var/lib/kubelet/kubeadm-flags.env, /etc/systemd/system/kubelet.service.d/10-kubeadm.conf, ' +
        '/etc/systemd/system/kubelet.service)',
    ]);
  });

  it('reloads systemd for a changed unit even when no restart follows, and enables as one command', async () => {
    const { host, conn } = hostWith(() => ({ stdout: `disabled\nactive\n${'c'.repeat(64)}\n${'c'.repeat(64)}\n` }));
    await ensureServiceCurrent(host, 'containerd', ['/etc/containerd/config.toml'], { reload: true });
    expect(host.changes).toEqual(['enable containerd', 'reload systemd units']);
    expect(conn.execs.at(-1)).toMatchObject({
      command: 'set -e; systemctl enable --no-reload containerd; systemctl daemon-reload',
      step: 'daemon-reload',
    });
    const plain = hostWith(() => ({ stdout: `disabled\nactive\n${'c'.repeat(64)}\n${'c'.repeat(64)}\n` }));
    await ensureServiceCurrent(plain.host, 'containerd', ['/etc/containerd/config.toml']);
    expect(plain.conn.execs.at(-1)).toMatchObject({ command: 'set -e; systemctl enable containerd' });
  });

  it('dry-run reports the restart without doing it', async () => {
    const { host, conn } = hostWith(() => ({ stdout: `enabled\nactive\nnone\n${'b'.repeat(64)}\n` }));
    const dry = new Host(host.spec, conn.asConnection(), true);
    await ensureServiceCurrent(dry, 'containerd', ['/etc/containerd/config.toml']);
    expect(dry.changes).toHaveLength(1);
    expect(conn.script).not.toContain('systemctl restart');
  });

  it('the digest covers path and content, and a missing file', () => {
    const d = mkdtempSync(join(tmpdir(), 'kprov-digest-'));
    const f = join(d, 'config.toml');
    const digest = () =>
      spawnSync('sh', ['-c', configDigestScript([f, join(d, 'absent')])], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(f, 'a');
    const one = digest();
    expect(one).toMatch(/^[0-9a-f]{64}$/);
    expect(digest()).toBe(one);
    writeFileSync(f, 'b');
    expect(digest()).not.toBe(one);
  });

  it('counts a planned file as written, so a dry run knows whether a restart would follow', () => {
    const d = mkdtempSync(join(tmpdir(), 'kprov-digest-'));
    const [f, g] = [join(d, 'config.toml'), join(d, "unit's")];
    const digest = (planned?: Map<string, string>) =>
      spawnSync('sh', ['-c', configDigestScript([f, g], planned)], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(f, 'drifted');
    writeFileSync(g, 'unit');
    const planned = digest(new Map([[f, sha('wanted')]]));
    expect(planned).not.toBe(digest());
    writeFileSync(f, 'wanted');
    expect(digest()).toBe(planned);
  });
});
