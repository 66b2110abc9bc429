import { render } from '../templates/render.js';
import { shq } from '../ssh/quote.js';
import { SshConnection } from '../ssh/connection.js';
import { HostError } from '../errors/index.js';
import type { Host } from '../host/host.js';
import type { Phase } from './phase.js';
import { jumpFor } from './connect.js';

/** The drop-in file name for the sudo user's rule; sudo ignores names with dots, so none here. */
export const sudoersPath = (user: string) => `/etc/sudoers.d/90-kprov-${user}`;
const SUDOERS_GLOB = '/etc/sudoers.d/90-kprov-*';
/** The first line of every sudoers drop-in kprov writes (templates/host/sudoers.hbs): only those are removed. */
export const SUDOERS_HEADER = '# Managed by kprov';
/** Appended to the keys kprov adds to authorized_keys: kprov removes only keys carrying it. */
export const KEY_MARK = 'kprov-managed';

/** Shell: rewrite the authorized_keys file in $f without kprov-marked keys and without the line `keep` (if given). */
export function rewriteKeys(keep?: string): string {
  const keepFilter = keep ? ` | grep -vxF ${shq(keep)}` : '';
  return (
    `if [ -f "$f" ] && [ ! -L "$f" ]; then ` +
    `t=$(mktemp "$(dirname "$f")/.kprov-keys.XXXXXX") && ` +
    `{ grep -v ${shq(` ${KEY_MARK}$`)} "$f"${keepFilter}; true; } > "$t" && ` +
    `chown --reference="$f" "$t" && chmod 0600 "$t" && mv -f "$t" "$f"; fi`
  );
}

/** Shell: remove kprov-marked keys, except `keep`, from the authorized_keys of the user the caller put in $u. */
function dropMarkedKeys(keep?: string): string {
  const home = `h=$(getent passwd "$u" | cut -d: -f6); f="$h/.ssh/authorized_keys"`;
  return `${home}; if [ -n "$h" ]; then ${rewriteKeys(keep)}; fi`;
}

interface UserState {
  account?: { uid: number; shell: string };
  key: boolean;
  otherMarked: number;
  unmarked: boolean;
  perms: boolean;
  sudoers: string[];
}

async function inspect(host: Host, user: string, marked: string, publicKey: string): Promise<UserState> {
  const u = shq(user);
  const r = await host.sudo(
    `if p=$(getent passwd ${u}); then echo "account=$(echo "$p" | cut -d: -f3,7)"; else echo account=none; fi; ` +
      `h=$(getent passwd ${u} | cut -d: -f6); f="$h/.ssh/authorized_keys"; ` +
      `[ -n "$h" ] && grep -qxF ${shq(marked)} "$f" 2>/dev/null && echo key=yes; ` +
      `[ -n "$h" ] && grep -qxF ${shq(publicKey)} "$f" 2>/dev/null && echo unmarked=yes; ` +
      `[ -n "$h" ] && echo "marked=$(grep -c ${shq(` ${KEY_MARK}$`)} "$f" 2>/dev/null)"; ` +
      `[ -n "$h" ] && [ "$(stat -c '%a %U' "$h/.ssh" 2>/dev/null)" = ${shq(`700 ${user}`)} ] && ` +
      `[ "$(stat -c '%a %U' "$f" 2>/dev/null)" = ${shq(`600 ${user}`)} ] && echo perms=yes; ` +
      `for s in ${SUDOERS_GLOB}; do [ -f "$s" ] && head -n 1 "$s" | grep -qF ${shq(SUDOERS_HEADER)} && ` +
      `echo "sudoers=$s"; done; true`,
    { step: 'inspect user' },
  );
  const lines = r.stdout.split('\n').map((l) => l.trim());
  const value = (k: string) => lines.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1);
  const account = value('account');
  const [uid, shell] = (account ?? 'none').split(':');
  const markedCount = Number(value('marked') ?? '0') || 0;
  const key = value('key') === 'yes';
  return {
    account: account && account !== 'none' ? { uid: Number(uid), shell: shell ?? '' } : undefined,
    key,
    otherMarked: markedCount - (key ? 1 : 0),
    unmarked: value('unmarked') === 'yes',
    perms: value('perms') === 'yes',
    sudoers: lines.filter((l) => l.startsWith('sudoers=')).map((l) => l.slice('sudoers='.length)),
  };
}

/**
 * The cluster admin user: account, the operator's public key, passwordless sudo (validated with visudo before
 * it is installed), then proof by logging in as that user. kprov owns exactly what it adds: keys it marks in
 * authorized_keys (an older kprov key is removed when sudo_user_public_key changes) and sudoers drop-ins with
 * its header (a renamed sudo_user loses its rule). An existing system account is refused unless allowed, and a
 * rule that fails verification is removed again.
 */
export const usersPhase: Phase = {
  title: 'Sudo user',
  async runHost(host, ctx) {
    const { sudoUser: user, sudoUserPublicKey: key, sudoUserPrivateKeyFile } = ctx.resolved.cluster;
    const marked = `${key} ${KEY_MARK}`;
    const rule = sudoersPath(user);
    const state = await inspect(host, user, marked, key);

    const removeRule = async (why: string): Promise<string> => {
      if (!state.sudoers.includes(rule)) return '';
      await host.change(`remove ${rule} (${why})`, () => host.sudo(`rm -f ${shq(rule)}`, { step: 'remove sudo rule' }));
      return `; ${host.dryRun ? 'would remove' : 'removed'} ${rule}, so no sudo rule is left for ${user}`;
    };

    const acct = state.account;
    const system = acct && (acct.uid < 1000 || /\/(nologin|false)$/.test(acct.shell));
    if (acct && system && !ctx.resolved.cluster.allowSystemSudoUser) {
      const removed = await removeRule('a system account gets no sudo rule from kprov');
      throw new HostError(
        host.name,
        `sudo_user ${user} is an existing system account (uid ${acct.uid}, shell ${acct.shell || 'none'}): ` +
          'kprov does not ' +
          `give it passwordless sudo. Choose another sudo_user, or set kprov_allow_system_sudo_user: true${removed}`,
        { step: 'sudo user' },
      );
    }

    // Sudo rules kprov wrote for earlier sudo_users are taken back, with the keys kprov gave them.
    for (const stale of state.sudoers.filter((s) => s !== rule)) {
      const old = stale.slice(sudoersPath('').length);
      if (old === host.conn.endpoint.user) {
        const why = `it is the sudo rule of ${old}, the user kprov logs in as`;
        ctx.warn(`${host.name}: kept ${stale} although sudo_user is now ${user}: ${why}; remove it by hand`);
        continue;
      }
      await host.change(`remove ${stale} and kprov's keys of ${old} (sudo_user is now ${user})`, () =>
        host.sudo(`rm -f ${shq(stale)}; u=${shq(old)}; ${dropMarkedKeys()}`, { step: 'revoke old sudo user' }),
      );
    }

    if (!acct) {
      await host.change(`create user ${user}`, () =>
        host.sudo(`useradd --create-home --shell /bin/bash ${shq(user)}`, { step: 'create user' }),
      );
    }
    if (!state.key || state.otherMarked > 0 || state.unmarked || !state.perms) {
      const what =
        state.otherMarked > 0
          ? `replace kprov's old key of ${user} with the operator's key`
          : `authorize the operator's key for ${user}`;
      await host.change(what, () =>
        host.sudo(
          `u=${shq(user)}; h=$(getent passwd "$u" | cut -d: -f6) && g=$(id -gn "$u") && ` +
            `install -d -m 0700 -o "$u" -g "$g" "$h/.ssh" && ` +
            `touch "$h/.ssh/authorized_keys" && chown "$u:$g" "$h/.ssh/authorized_keys" && ` +
            // Drop kprov's other keys and an unmarked copy of this one (older kprov added it so), then add it marked.
            `{ ${dropMarkedKeys(key)}; } && printf '%s\\n' ${shq(marked)} >> "$h/.ssh/authorized_keys" && ` +
            `chmod 0600 "$h/.ssh/authorized_keys"`,
          { step: 'authorize key' },
        ),
      );
    }
    const sudoers = render('host/sudoers', { sudoUser: user });
    await host.ensureFiles([{ path: rule, content: sudoers, mode: 0o440, validate: 'visudo -cf %s' }]);

    if (host.dryRun) return;
    // Proof: the user logs in with the operator's key and sudo works without a password.
    try {
      if (sudoUserPrivateKeyFile) {
        const endpoint = { ...host.conn.endpoint, name: `${host.name} (as ${user})`, user, password: undefined };
        const probe = new SshConnection({ ...endpoint, privateKeyFile: sudoUserPrivateKeyFile }, ctx.log);
        try {
          const via = await jumpFor(host, ctx);
          await probe.connect({ connectTimeoutMs: ctx.connectTimeoutMs, connectAttempts: 1, via });
          await probe.exec('sudo -n true', { step: 'verify sudo user', timeoutMs: 30_000 });
        } finally {
          probe.close();
        }
      } else {
        await host.sudo(`su - ${shq(user)} -c 'sudo -n true'`, { step: 'verify sudo user' });
      }
    } catch (err) {
      // Never leave a rule behind that was not proven to be the one intended.
      await host.sudo(`rm -f ${shq(rule)}`, { step: 'remove sudo rule', allowFailure: true });
      throw new HostError(
        host.name,
        `${user} cannot log in and sudo: ${(err as Error).message}; ` +
          `removed ${rule}, so no sudo rule is left for ${user}`,
        { step: 'verify sudo user' },
      );
    }
  },
};
