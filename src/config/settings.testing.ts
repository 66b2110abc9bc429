import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError, UserErrors } from '../errors/index.js';
import type { ForeignJoinFlags } from './foreign-join.js';
import { parseIniInventory } from './inventory-ini.js';
import { parseYamlInventory } from './inventory-yaml.js';
import { resolveInventory } from './inventory.js';
import { resolveSettings } from './settings.js';

/** A home with an operator key, so the default sudo_user_public_key resolves. */
export const home = mkdtempSync(join(tmpdir(), 'kprov-home-'));
mkdirSync(join(home, '.ssh'));
writeFileSync(
  join(home, '.ssh', 'id_ed25519.pub'),
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop\n',
);

/** Settings from an INI inventory's text (file name `hosts`). */
export const settings = (text: string, join?: ForeignJoinFlags) =>
  resolveSettings(resolveInventory(parseIniInventory(text, 'hosts')), { home, join });

/** Settings from a YAML inventory's text (file name `inv.yaml`). */
export const yamlSettings = (text: string, join?: ForeignJoinFlags) =>
  resolveSettings(resolveInventory(parseYamlInventory(text, 'inv.yaml')), { home, join });

/** The messages of the validation errors fn throws (it must throw them). */
export function messages(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserErrors) return err.errors.map((e) => e.toString());
    if (err instanceof UserError) return [err.toString()];
    throw err;
  }
  throw new Error('expected validation errors');
}
