import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterSettings, HostSpec, Resolved } from '../config/settings.js';
import { Host } from '../host/host.js';
import { FakeConnection, type Responder } from '../ssh/fake-connection.testing.js';
import { KEY_MARK, rewriteKeys, sudoersPath, usersPhase } from './users.js';
import { testContext } from './context.testing.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop';
const OLD_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJhcmJhcmJhcmJhcmJhcmJhcmJhcmJhcmJhcmJhcmJh old@laptop';

function run(responder: Responder, cluster: Partial<ClusterSettings> = {}) {
  const conn = new FakeConnection('m1', responder);
  const host = new Host({ name: 'm1' } as HostSpec, conn.asConnection(), false);
  const resolved = { cluster: { sudoUser: 'ubuntu', sudoUserPublicKey: KEY, ...cluster } } as Resolved;
  const { ctx, warnings } = testContext([host], resolved);
  return { conn, host, warnings, go: () => usersPhase.runHost!(host, ctx) };
}

/** Answers for a host with the given inspect output; visudo and su succeed unless told. */
const hostState =
  (inspect: string, opts: { suFails?: boolean } = {}): Responder =>
  (cmd, o) => {
    if (o.step === 'inspect user') return { stdout: inspect };
    if (o.step === 'compare files') return { stdout: 'missing\n' };
    if (o.step === 'verify sudo user' && opts.suFails) return { code: 1, stderr: 'sudo: a password is required' };
    return cmd ? undefined : { stdout: '' };
  };

describe('the sudo user: kprov owns exactly what it adds', () => {
  it('a changed sudo_user_public_key replaces the key kprov added; keys kprov did not add stay', async () => {
    const { conn, host, go } = run(
      hostState('account=1000:/bin/bash\nmarked=1\nperms=yes\nsudoers=/etc/sudoers.d/90-kprov-ubuntu\n'),
    );
    await go();
    expect(host.changes).toContain("replace kprov's old key of ubuntu with the operator's key");
    const authorize = conn.execs.find((e) => e.step === 'authorize key')!.command;
    expect(authorize).toContain(`grep -v ' ${KEY_MARK}$'`);
    expect(authorize).toContain(`printf '%s\\n' '${KEY} ${KEY_MARK}' >>`);

    // What that rewrite does to a real file: the old kprov key goes, the operator's own keys stay.
    const dir = mkdtempSync(join(tmpdir(), 'kprov-keys-'));
    const f = join(dir, 'authorized_keys');
    writeFileSync(
      f,
      `ssh-rsa AAAAB3Nza admin@desk\n${OLD_KEY} ${KEY_MARK}\n${KEY}\nssh-ed25519 AAAAC3Nzkprov not-managed\n`,
    );
    const r = spawnSync('sh', ['-c', `f=${f}; ${rewriteKeys(KEY)}`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('ssh-rsa AAAAB3Nza admin@desk\nssh-ed25519 AAAAC3Nzkprov not-managed\n');
  });

  it('an unchanged, marked key is left alone', async () => {
    const { conn, host, go } = run(
      hostState('account=1000:/bin/bash\nkey=yes\nmarked=1\nperms=yes\nsudoers=/etc/sudoers.d/90-kprov-ubuntu\n'),
    );
    await go();
    expect(host.changes.filter((c) => c.includes('key'))).toEqual([]);
    expect(conn.execs.some((e) => e.step === 'authorize key')).toBe(false);
  });

  it("a renamed sudo_user: the old one loses kprov's rule and keys; the login user's own rule is kept", async () => {
    const { conn, host, warnings, go } = run(
      hostState(
        'account=1000:/bin/bash\nkey=yes\nmarked=1\nperms=yes\n' +
          'sudoers=/etc/sudoers.d/90-kprov-admin\nsudoers=/etc/sudoers.d/90-kprov-deployer\n',
      ),
    );
    await go();
    expect(host.changes).toContain(
      "remove /etc/sudoers.d/90-kprov-admin and kprov's keys of admin (sudo_user is now ubuntu)",
    );
    const revoke = conn.execs.find((e) => e.step === 'revoke old sudo user')!.command;
    expect(revoke).toMatch(/^rm -f \/etc\/sudoers.d\/90-kprov-admin; u=admin; /);
    expect(conn.script).not.toContain('rm -f /etc/sudoers.d/90-kprov-deployer');
    expect(warnings.join('\n')).toContain('kept /etc/sudoers.d/90-kprov-deployer');
    // It only ever looked at drop-ins that carry kprov's header.
    expect(conn.execs[0].command).toContain(`head -n 1 "$s" | grep -qF '# Managed by kprov'`);
  });

  it('refuses an existing system account, and takes back a rule an earlier run gave it', async () => {
    const { conn, go } = run(hostState(`account=33:/usr/sbin/nologin\nsudoers=${sudoersPath('www-data')}\n`), {
      sudoUser: 'www-data',
    });
    await expect(go()).rejects.toThrow(
      new RegExp(
        /sudo_user www-data is an existing system account \(uid 33, shell \/usr\/sbin\/nologin\).*/.source +
          /kprov_allow_system_sudo_user: true; removed \/etc\/sudoers.d\/90-kprov-www-data/.source,
      ),
    );
    expect(conn.script).toContain(`rm -f ${sudoersPath('www-data')}`);
    expect(conn.execs.some((e) => e.step === 'install files' || e.step === 'authorize key')).toBe(false);
  });

  it('allows a system account when the inventory says so', async () => {
    const { host, go } = run(hostState('account=998:/bin/sh\nkey=yes\nmarked=1\nperms=yes\n'), {
      sudoUser: 'svc',
      allowSystemSudoUser: true,
    });
    await go();
    expect(host.changes).toEqual(['create /etc/sudoers.d/90-kprov-svc']);
  });

  it('removes the rule again when the user cannot log in and sudo, and says so', async () => {
    const { conn, go } = run(hostState('account=none\n', { suFails: true }));
    await expect(go()).rejects.toThrow(
      new RegExp(
        /ubuntu cannot log in and sudo: .*; removed \/etc\/sudoers.d\/90-kprov-ubuntu, /.source +
          /so no sudo rule is left for ubuntu/.source,
      ),
    );
    const steps = conn.execs.map((e) => e.step);
    expect(steps.indexOf('remove sudo rule')).toBeGreaterThan(steps.indexOf('verify sudo user'));
    expect(conn.execs.at(-1)!.command).toBe('rm -f /etc/sudoers.d/90-kprov-ubuntu');
  });
});
