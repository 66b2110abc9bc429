import { describe, expect, it } from 'vitest';
import { parseIniInventory } from './inventory-ini.js';
import { parseYamlInventory } from './inventory-yaml.js';
import { errorOf } from '../errors/user-error.testing.js';

const BAD_NAMES: [string, RegExp][] = [
  ['..', /not a valid host name/],
  ['.', /not a valid host name/],
  ['a/b', /path separator/],
  ['a\\b', /path separator/],
  ['cluster', /reserved/],
  ['.kprov-pki', /reserved|starts with "\."/],
  ['.hidden', /starts with "\."/],
  ['join-command.txt', /reserved/],
];

describe('audit: host names are checked at load (no path traversal, no reserved render outputs)', () => {
  for (const [name, message] of BAD_NAMES) {
    it(`INI rejects host name ${JSON.stringify(name)} with file:line`, () => {
      const err = errorOf(() => parseIniInventory(`[masters]\nm1\n${name} ansible_host=10.0.0.2\n`, 'hosts'));
      expect(err.location).toEqual({ file: 'hosts', line: 3 });
      expect(err.message).toMatch(message);
    });
    it(`YAML rejects host name ${JSON.stringify(name)} with file:line`, () => {
      const text = `all:\n  children:\n    masters:\n      hosts:\n        m1:\n        ${JSON.stringify(name)}:\n`;
      const err = errorOf(() => parseYamlInventory(text, 'inv.yaml'));
      expect(err.location).toEqual({ file: 'inv.yaml', line: 6 });
      expect(err.message).toMatch(message);
    });
  }

  it('rejects control characters and whitespace in YAML host names', () => {
    const hostError = (key: string) =>
      errorOf(() => parseYamlInventory(`all:\n  hosts:\n    ${key}:\n`, 'i.yaml')).message;
    expect(hostError('"a\\tb"')).toMatch(/whitespace|control/);
    expect(hostError('"a b"')).toMatch(/whitespace|control/);
    expect(hostError('"a\\u0001b"')).toMatch(/control/);
    expect(errorOf(() => parseYamlInventory('all:\n  hosts:\n    "":\n', 'i.yaml')).message).toMatch(/empty/);
  });

  it('still accepts ordinary names, FQDNs and IPs', () => {
    const inv = parseIniInventory('[masters]\nm1\nweb-01.example.com\n10.0.0.3\n', 'hosts');
    expect([...inv.hostSources.keys()]).toEqual(['m1', 'web-01.example.com', '10.0.0.3']);
  });
});
