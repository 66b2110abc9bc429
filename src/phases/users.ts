import { render } from '../templates/render.js';
import { shq } from '../ssh/quote.js';
import { SshConnection } from '../ssh/connection.js';
import { HostError } from '../errors/index.js';
import type { Phase } from './phase.js';
import { jumpFor } from './connect.js';

/** The drop-in file name for the sudo user's rule; sudo ignores names with dots, so none here. */
export const sudoersPath = (user: string) => `/etc/sudoers.d/90-kprov-${user}`;

/**
 * Create the cluster admin user: account, the operator's public key, passwordless sudo
 * (validated with visudo before it is installed), then prove it by logging in as that user.
 */
export const usersPhase: Phase = {
  title: 'Sudo user',
  async runHost(host, ctx) {
    const { sudoUser: user, sudoUserPublicKey: key, sudoUserPrivateKeyFile } = ctx.resolved.cluster;
    const state = await host.sudo(
      `id -u ${shq(user)} >/dev/null 2>&1 && echo exists=yes || echo exists=no; ` +
        `h=$(getent passwd ${shq(user)} | cut -d: -f6); [ -n "$h" ] && grep -qxF ${shq(key)} "$h/.ssh/authorized_keys" 2>/dev/null && echo key=yes || echo key=no; ` +
        `[ -n "$h" ] && [ "$(stat -c '%a %U' "$h/.ssh" 2>/dev/null)" = "700 ${user}" ] && [ "$(stat -c '%a %U' "$h/.ssh/authorized_keys" 2>/dev/null)" = "600 ${user}" ] && echo perms=yes || echo perms=no`,
      { step: 'inspect user' },
    );
    const has = (k: string) => state.stdout.includes(`${k}=yes`);

    if (!has('exists')) {
      await host.change(`create user ${user}`, () => host.sudo(`useradd --create-home --shell /bin/bash ${shq(user)}`, { step: 'create user' }));
    }
    if (!has('key') || !has('perms')) {
      await host.change(`authorize the operator's key for ${user}`, () =>
        host.sudo(
          `h=$(getent passwd ${shq(user)} | cut -d: -f6) && g=$(id -gn ${shq(user)}) && install -d -m 0700 -o ${shq(user)} -g "$g" "$h/.ssh" && ` +
            `touch "$h/.ssh/authorized_keys" && { grep -qxF ${shq(key)} "$h/.ssh/authorized_keys" || printf '%s\\n' ${shq(key)} >> "$h/.ssh/authorized_keys"; } && ` +
            `chown ${shq(user)}:"$g" "$h/.ssh/authorized_keys" && chmod 0600 "$h/.ssh/authorized_keys"`,
          { step: 'authorize key' },
        ),
      );
    }
    await host.ensureFiles([{ path: sudoersPath(user), content: render('host/sudoers', { sudoUser: user }), mode: 0o440, validate: 'visudo -cf %s' }]);

    if (host.dryRun) return;
    // Proof: the user logs in with the operator's key and sudo works without a password.
    if (sudoUserPrivateKeyFile) {
      const probe = new SshConnection({ ...host.conn.endpoint, name: `${host.name} (as ${user})`, user, privateKeyFile: sudoUserPrivateKeyFile, password: undefined }, ctx.log);
      try {
        await probe.connect({ connectTimeoutMs: ctx.connectTimeoutMs, connectAttempts: 1, via: await jumpFor(host, ctx) });
        await probe.exec('sudo -n true', { step: 'verify sudo user', timeoutMs: 30_000 });
      } catch (err) {
        throw new HostError(host.name, `${user} cannot log in and sudo: ${(err as Error).message}`, { step: 'verify sudo user' });
      } finally {
        probe.close();
      }
    } else {
      await host.sudo(`su - ${shq(user)} -c 'sudo -n true'`, { step: 'verify sudo user' });
    }
  },
};
