import { describe, expect, it } from 'vitest';
import { parseIniInventory } from './inventory-ini.js';
import { parseYamlInventory } from './inventory-yaml.js';
import { expandHostPattern, MAX_RANGE_HOSTS } from './raw-inventory.js';
import { errorOf } from '../errors/user-error.testing.js';

describe('audit: host ranges', () => {
  it('a stride of 0 is an error with file:line, not an endless loop (INI and YAML)', () => {
    const e = errorOf(() => parseIniInventory('[masters]\nm[0:3:0]\n', 'hosts'));
    expect(e.toString()).toMatch(/^hosts:2: .*stride/);
    const y = errorOf(() => parseYamlInventory('all:\n  hosts:\n    m[0:3:0]:\n', 'i.yaml'));
    expect(y.toString()).toMatch(/^i\.yaml:3: .*stride/);
    expect(errorOf(() => parseIniInventory('[masters]\nm[a:c:0]\n', 'hosts')).message).toMatch(/stride/);
  });

  it('a range that ends before it starts is an error, not zero hosts', () => {
    const e = errorOf(() => parseIniInventory('[masters]\nm1\n[workers]\nw[9:1]\n', 'hosts'));
    expect(e.toString()).toMatch(/^hosts:4: .*\[9:1\].*/);
    const reversed = errorOf(() => parseYamlInventory('all:\n  hosts:\n    w[c:a]:\n', 'i.yaml'));
    expect(reversed.toString()).toMatch(/^i\.yaml:3: /);
  });

  it(`a range may not expand to more than ${MAX_RANGE_HOSTS} hosts`, () => {
    const e = errorOf(() => parseIniInventory('[workers]\nw[0:99999999]\n', 'hosts'));
    expect(e.toString()).toMatch(new RegExp(`^hosts:2: .*more than ${MAX_RANGE_HOSTS}`));
    // Nested ranges multiply.
    expect(errorOf(() => parseIniInventory('[workers]\nw[0:999]-[0:999]\n', 'hosts')).message).toMatch(/more than/);
    expect(expandHostPattern('w[1:10000]')).toHaveLength(10000);
  });

  it('ordinary ranges and strides still expand', () => {
    expect(expandHostPattern('web[01:03]')).toEqual(['web01', 'web02', 'web03']);
    expect(expandHostPattern('n[0:10:5]')).toEqual(['n0', 'n5', 'n10']);
    expect(expandHostPattern('db-[a:c]')).toEqual(['db-a', 'db-b', 'db-c']);
  });
});
