import { existsSync } from 'node:fs';
import { UserError, type SourceLocation } from '../errors/index.js';
import { readInputText } from './read-input.js';
import { join } from 'node:path';
import { expandPath } from './paths.js';

// The sudo user's key is the one setting read from a file (a .pub path or the operator's default key): kept
// apart from the table-driven validation in settings.ts.
/**
 * The sudo user's public key: given inline, as a path to a .pub file, or the operator's default key.
 * The matching private key (path without .pub) is used to verify the login when it exists.
 */
export function sudoUserKey(
  value: string | undefined,
  privateFile: string | undefined,
  home: string,
  baseDir: string,
  fail: (message: string, source?: SourceLocation) => void,
  source?: SourceLocation,
) {
  let publicKey = '';
  let pubPath: string | undefined;
  if (value && /^(ssh-|ecdsa-|sk-)/.test(value.trim())) {
    publicKey = value.trim();
  } else if (value) {
    pubPath = expandPath(value, home, baseDir);
    if (!existsSync(pubPath)) fail(`sudo_user_public_key: file not found: ${pubPath}`, source);
  } else {
    pubPath = ['id_ed25519.pub', 'id_ecdsa.pub', 'id_rsa.pub']
      .map((f) => join(home, '.ssh', f))
      .find((p) => existsSync(p));
    if (!pubPath)
      fail(
        'no public key for the sudo user: set sudo_user_public_key, ' +
          'or create ~/.ssh/id_ed25519 (ssh-keygen -t ed25519)',
        source,
      );
  }
  if (pubPath && existsSync(pubPath)) {
    try {
      publicKey = readInputText(pubPath, 'sudo_user_public_key').trim();
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      fail(`${err.message}: ${pubPath}`, source);
    }
  }
  if (
    publicKey &&
    !/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( .*)?$/.test(publicKey)
  ) {
    fail(`sudo_user_public_key is not an OpenSSH public key line`, source);
  }
  if (publicKey.includes('\n')) fail(`sudo_user_public_key must be a single key`, source);
  const guess = privateFile ? expandPath(privateFile, home, baseDir) : pubPath?.replace(/\.pub$/, '');
  return { publicKey, privateKeyFile: guess && existsSync(guess) ? guess : undefined };
}
