import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseYamlInventory, parseVarsFile } from './inventory-yaml.js';
import { loadInventory, resolveInventory } from './inventory.js';
import { UserError } from '../errors/index.js';

const hostVars = (text: string, host: string) =>
  resolveInventory(parseYamlInventory(text, 'inv.yaml')).hosts.find((h) => h.name === host)!;

describe('audit: YAML aliases and merge keys are resolved as Ansible does', () => {
  it('an alias value is the anchored value, not {source: ...} or "[object Object]"', () => {
    const h = hostVars(
      [
        'all:',
        '  vars:',
        '    base: &b {maxPods: 50}',
        '    user: &u worker-one',
        '  children:',
        '    masters:',
        '      hosts:',
        '        m1:',
        '          kubelet_configuration: *b',
        '          node_name: *u',
      ].join('\n'),
      'm1',
    );
    expect(h.vars.kubelet_configuration).toEqual({ maxPods: 50 });
    expect(h.vars.node_name).toBe('worker-one');
    expect(h.varSources.node_name).toEqual({ file: 'inv.yaml', line: 10 });
  });

  it('merge keys (<<) are applied, own keys win, lines point at where each key was written', () => {
    const h = hostVars(
      [
        'all:',
        '  vars:',
        '    defaults: &d',
        '      ansible_user: admin',
        '      ansible_port: 2222',
        '  children:',
        '    masters:',
        '      hosts:',
        '        m1:',
        '          <<: *d',
        '          ansible_port: 22',
      ].join('\n'),
      'm1',
    );
    expect(h.vars).toMatchObject({ ansible_user: 'admin', ansible_port: 22 });
    expect(h.varSources.ansible_user).toEqual({ file: 'inv.yaml', line: 4 });
    expect(h.varSources.ansible_port).toEqual({ file: 'inv.yaml', line: 11 });
  });

  it('merge keys with a list, aliased host bodies and nested merges inside values', () => {
    const h = hostVars(
      [
        'all:',
        '  vars:',
        '    xa: &a {one: 1}',
        '    xb: &b {one: 9, two: 2}',
        '  hosts:',
        '    h1: &hv',
        '      <<: [*a, *b]',
        '      conf: {<<: *b, three: 3}',
        '    h2: *hv',
      ].join('\n'),
      'h2',
    );
    expect(h.vars).toMatchObject({ one: 1, two: 2, conf: { one: 9, two: 2, three: 3 } });
  });

  it('a "billion laughs" document is a clear error with its line, not a hang', () => {
    const text = [
      'all:',
      '  vars:',
      '    a: &a [x, x, x, x, x, x, x, x, x, x]',
      '    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      '    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      '    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      '    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
      '    f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]',
    ].join('\n');
    let err: unknown;
    try {
      parseYamlInventory(text, 'laughs.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect(String(err)).toMatch(/^laughs\.yaml:\d+: YAML aliases expand too much/);
  });

  it('group_vars files resolve aliases and merge keys too', () => {
    const text = 'common: &c {ansible_user: admin}\n<<: *c\nnode_name: &n n1\nother: *n\n';
    const vars = parseVarsFile(text, 'group_vars/all.yml');
    expect(vars.get('ansible_user')?.value).toBe('admin');
    expect(vars.get('other')?.value).toBe('n1');
  });

  it('loads a YAML inventory with merge keys from disk', () => {
    const d = mkdtempSync(join(tmpdir(), 'kprov-merge-'));
    mkdirSync(join(d, 'group_vars'));
    const text = 'all:\n  children:\n    masters:\n      hosts:\n        m1: {<<: {ansible_host: 10.0.0.1}}\n';
    writeFileSync(join(d, 'inv.yaml'), text);
    expect(loadInventory(join(d, 'inv.yaml')).hosts[0].vars.ansible_host).toBe('10.0.0.1');
  });
});

describe('audit: a structured value where one value is expected', () => {
  it('node_name given a mapping is an error with its line, not "[object Object]"', async () => {
    const { resolveSettings } = await import('./settings.js');
    const text =
      'all:\n  children:\n    masters:\n      hosts:\n        m1:\n' +
      '          ansible_host: 10.0.0.1\n          node_name: {a: 1}\n';
    const inv = resolveInventory(parseYamlInventory(text, 'inv.yaml'));
    let err: unknown;
    try {
      resolveSettings(inv, { offline: true });
    } catch (e) {
      err = e;
    }
    expect(String(err)).toBe('inv.yaml:7: node_name must be a single value, not a mapping');
  });
});
