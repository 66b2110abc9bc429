import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadInventory, resolveInventory } from './inventory.js';
import { parseIniInventory } from './inventory-ini.js';
import { parseYamlInventory } from './inventory-yaml.js';
import { errorOf } from '../errors/user-error.testing.js';

const fixture = (p: string) => fileURLToPath(new URL(`../../test/fixtures/${p}`, import.meta.url));
const ini = (text: string) => resolveInventory(parseIniInventory(text, 'hosts'));

describe('INI inventory', () => {
  it('reads the classic tutorial hosts file', () => {
    const inv = loadInventory(fixture('classic/hosts'));
    expect(inv.hosts.map((h) => [h.name, h.role])).toEqual([
      ['master', 'control-plane'],
      ['worker1', 'worker'],
      ['worker2', 'worker'],
    ]);
    const w1 = inv.hosts.find((h) => h.name === 'worker1')!;
    expect(w1.vars).toEqual({
      ansible_python_interpreter: '/usr/bin/python3',
      ansible_host: '10.0.0.11',
      ansible_user: 'root',
    });
    expect(w1.varSources.ansible_host).toEqual({ file: fixture('classic/hosts'), line: 5 });
    expect(inv.groups.workers.hosts).toEqual(['worker1', 'worker2']);
  });

  it('supports :children, :vars, quoted values, comments and ranges', () => {
    const inv = ini(`
# comment
; another
[cp]
m1 ansible_host=10.0.0.1 note="two words" other='x y'  # trailing
[w]
web[01:03] ansible_port=2222
[masters:children]
cp
[workers:children]
w
[w:vars]
role_var = from w
[all:vars]
role_var=from all
`);
    expect(inv.hosts.map((h) => h.name)).toEqual(['m1', 'web01', 'web02', 'web03']);
    const m1 = inv.hosts[0];
    expect(m1.role).toBe('control-plane');
    expect(m1.vars.note).toBe('two words');
    expect(m1.vars.other).toBe('x y');
    expect(m1.vars.role_var).toBe('from all');
    expect(inv.hosts[1].vars.role_var).toBe('from w');
    expect(inv.hosts[1].role).toBe('worker');
    // Parents before children: a child group's vars override its parent's.
    expect(inv.hosts[1].groups).toEqual(['all', 'workers', 'w']);
  });

  it('a host in masters and workers is a control-plane node that runs workloads', () => {
    const inv = ini('[masters]\nm1\n[workers]\nm1\nw1\n');
    expect(inv.hosts.find((h) => h.name === 'm1')!.role).toBe('control-plane+worker');
  });

  it('host vars beat group vars, deeper groups beat shallower ones', () => {
    const inv = ini('[masters]\nm1 x=host\nm2\n[masters:vars]\nx=group\ny=group\n[all:vars]\ny=all\nz=all\n');
    expect(inv.hosts[0].vars).toMatchObject({ x: 'host', y: 'group', z: 'all' });
    expect(inv.hosts[1].vars).toMatchObject({ x: 'group' });
  });

  it.each([
    ['[masters\nm1\n', 1, 'unterminated section header'],
    ['[masters:bogus]\nm1\n', 1, 'invalid section header'],
    ['[masters]\nm1 ansible_host\n', 2, 'expected key=value'],
    ['[masters]\nm1\nm1\n', 3, 'duplicate host "m1"'],
    ['[masters]\nm1 a="unterminated\n', 2, 'unterminated " quote'],
    ['[masters:vars]\nnot a var\n', 2, 'expected key=value'],
    ['[masters]\nm1 bad-name=1\n', 2, 'invalid variable name'],
    ['[a:children]\nb\n[b:children]\na\n[a]\nh\n', undefined, 'cycle'],
  ])('rejects %j at line %s', (text, line, message) => {
    const err = errorOf(() => ini(text));
    expect(err.message).toContain(message);
    if (line !== undefined) expect(err.location).toEqual({ file: 'hosts', line });
  });
});

describe('YAML inventory', () => {
  it('reads children, host ranges, group_vars and host_vars', () => {
    const inv = loadInventory(fixture('yaml/inventory.yaml'));
    const byName = Object.fromEntries(inv.hosts.map((h) => [h.name, h]));
    expect(Object.keys(byName)).toEqual(['cp1', 'node1', 'node2', 'jump']);
    expect(byName.cp1.role).toBe('control-plane');
    expect(byName.node1.role).toBe('worker');
    expect(byName.jump.role).toBe('none');
    expect(byName.node1.vars).toMatchObject({
      ansible_user: 'admin',
      ansible_port: 2222,
      ansible_become: true,
      node_label: 'worker',
      pod_network_cidr: '10.244.0.0/16',
    });
    expect(byName.node2.vars.ansible_host).toBe('192.168.1.22');
    expect(byName.node2.varSources.ansible_host.file).toMatch(/host_vars\/node2\.yaml$/);
    expect(byName.node1.varSources.ansible_port).toEqual({ file: fixture('yaml/inventory.yaml'), line: 16 });
    expect(inv.groups.k8s_cluster.hosts).toEqual(['cp1', 'node1', 'node2']);
  });

  it('reports YAML errors with their line', () => {
    const err = errorOf(() =>
      parseYamlInventory('all:\n  children:\n    masters:\n      hosts: [unclosed\n', 'inv.yml'),
    );
    expect(err.message).toMatch(/invalid YAML/);
    expect(err.location?.file).toBe('inv.yml');
    expect(err.location?.line).toBeGreaterThan(0);
  });

  it('rejects unknown group keys and duplicate keys', () => {
    expect(errorOf(() => parseYamlInventory('all:\n  hostz: {}\n', 'i.yml')).toString()).toBe(
      'i.yml:2: unknown key "hostz" in group "all": expected hosts, vars or children',
    );
    expect(errorOf(() => parseYamlInventory('all:\n  vars:\n    a: 1\n    a: 2\n', 'i.yml')).message).toMatch(
      /invalid YAML.*unique/i,
    );
  });

  it('reports a missing file clearly', () => {
    expect(errorOf(() => loadInventory('/nonexistent/inventory.ini')).toString()).toBe(
      '/nonexistent/inventory.ini: inventory file not found',
    );
  });
});
