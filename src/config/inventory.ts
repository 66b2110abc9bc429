import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { UserError, type SourceLocation } from '../errors/index.js';
import { parseIniInventory } from './inventory-ini.js';
import { parseVarsFile, parseYamlInventory } from './inventory-yaml.js';
import type { RawInventory, SourcedValue, VarMap } from './raw-inventory.js';

export const CONTROL_PLANE_GROUPS = ['masters', 'control_plane', 'kube_control_plane'] as const;
export const WORKER_GROUPS = ['workers', 'nodes', 'kube_node'] as const;

export type Role = 'control-plane' | 'worker' | 'control-plane+worker' | 'none';

export interface InventoryHost {
  name: string;
  /** Every group the host belongs to, directly or through children, including "all". */
  groups: string[];
  vars: Record<string, unknown>;
  varSources: Record<string, SourceLocation>;
  source: SourceLocation;
  role: Role;
}

export interface Inventory {
  file: string;
  hosts: InventoryHost[];
  groups: Record<string, { hosts: string[]; children: string[] }>;
}

export function isControlPlane(host: InventoryHost): boolean {
  return host.role === 'control-plane' || host.role === 'control-plane+worker';
}

export function isWorker(host: InventoryHost): boolean {
  return host.role === 'worker' || host.role === 'control-plane+worker';
}

/** Read an inventory file (INI or YAML) plus group_vars/ and host_vars/ beside it. */
export function loadInventory(file: string): Inventory {
  if (!existsSync(file)) throw new UserError(`inventory file not found`, { file });
  if (statSync(file).isDirectory()) throw new UserError(`expected an inventory file, got a directory`, { file });
  const text = readFileSync(file, 'utf8');
  const raw = isYamlInventory(file, text) ? parseYamlInventory(text, file) : parseIniInventory(text, file);
  const dir = dirname(file);
  return resolveInventory(raw, {
    groupVars: readVarsDir(join(dir, 'group_vars')),
    hostVars: readVarsDir(join(dir, 'host_vars')),
  });
}

function isYamlInventory(file: string, text: string): boolean {
  const ext = extname(file).toLowerCase();
  if (['.yml', '.yaml', '.json'].includes(ext)) return true;
  if (ext === '.ini' || ext === '.cfg') return false;
  // No telling extension (Ansible's classic `hosts`): INI unless the first meaningful line is a YAML mapping key.
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '' && !/^\s*[#;]/.test(l) && l.trim() !== '---');
  return first !== undefined && /^[A-Za-z_][\w-]*:\s*(#.*)?$/.test(first.trim());
}

/** group_vars/NAME(.yml|.yaml|.json) or group_vars/NAME/*.yml, merged in file-name order. */
function readVarsDir(dir: string): Map<string, VarMap> {
  const result = new Map<string, VarMap>();
  if (!existsSync(dir)) return result;
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    const ext = extname(entry).toLowerCase();
    if (statSync(path).isDirectory()) {
      const merged: VarMap = new Map();
      for (const inner of readdirSync(path).sort()) {
        if (!['.yml', '.yaml', '.json', ''].includes(extname(inner).toLowerCase())) continue;
        for (const [k, v] of parseVarsFile(readFileSync(join(path, inner), 'utf8'), join(path, inner))) merged.set(k, v);
      }
      result.set(entry, merged);
    } else if (['.yml', '.yaml', '.json', ''].includes(ext)) {
      const name = ext ? basename(entry, extname(entry)) : entry;
      result.set(name, parseVarsFile(readFileSync(path, 'utf8'), path));
    }
  }
  return result;
}

/** Apply Ansible's variable precedence and group membership to a parsed inventory. */
export function resolveInventory(
  raw: RawInventory,
  extra: { groupVars?: Map<string, VarMap>; hostVars?: Map<string, VarMap> } = {},
): Inventory {
  const parents = new Map<string, Set<string>>();
  for (const group of raw.groups.values()) {
    for (const child of group.children) {
      if (!parents.has(child)) parents.set(child, new Set());
      parents.get(child)!.add(group.name);
    }
  }
  // Depth decides precedence: vars of deeper (more specific) groups win; all is depth 0.
  const depthOf = new Map<string, number>();
  const depth = (name: string, trail: string[] = []): number => {
    if (name === 'all') return 0;
    if (trail.includes(name)) {
      throw new UserError(`group children form a cycle: ${[...trail, name].join(' -> ')}`, raw.groups.get(name)?.source ?? { file: raw.file });
    }
    const known = depthOf.get(name);
    if (known !== undefined) return known;
    const ps = [...(parents.get(name) ?? [])].filter((p) => p !== 'all');
    const d = ps.length === 0 ? 1 : 1 + Math.max(...ps.map((p) => depth(p, [...trail, name])));
    depthOf.set(name, d);
    return d;
  };
  const ancestors = (name: string, seen = new Set<string>()): Set<string> => {
    for (const p of parents.get(name) ?? []) {
      if (!seen.has(p)) {
        seen.add(p);
        ancestors(p, seen);
      }
    }
    return seen;
  };
  for (const name of raw.groups.keys()) depth(name);

  const hosts: InventoryHost[] = [];
  for (const [name, source] of raw.hostSources) {
    const groups = new Set<string>(['all']);
    for (const group of raw.groups.values()) {
      if (group.hosts.has(name)) {
        groups.add(group.name);
        for (const a of ancestors(group.name)) groups.add(a);
      }
    }
    const ordered = [...groups].sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
    const merged = new Map<string, SourcedValue>();
    const apply = (vars: VarMap | undefined) => vars?.forEach((v, k) => merged.set(k, v));
    for (const g of ordered) {
      apply(raw.groups.get(g)?.vars);
      apply(extra.groupVars?.get(g));
    }
    apply(raw.hostVars.get(name));
    apply(extra.hostVars?.get(name));

    const vars: Record<string, unknown> = {};
    const varSources: Record<string, SourceLocation> = {};
    for (const [k, v] of merged) {
      vars[k] = v.value;
      varSources[k] = v.source;
    }
    hosts.push({ name, groups: ordered, vars, varSources, source, role: roleOf(groups) });
  }

  const groups: Inventory['groups'] = {};
  for (const group of raw.groups.values()) {
    groups[group.name] = {
      hosts: hosts.filter((h) => h.groups.includes(group.name)).map((h) => h.name),
      children: [...group.children],
    };
  }
  groups.all.hosts = hosts.map((h) => h.name);
  groups.ungrouped.hosts = hosts.filter((h) => h.groups.every((g) => g === 'all' || g === 'ungrouped')).map((h) => h.name);
  return { file: raw.file, hosts, groups };
}

function roleOf(groups: Set<string>): Role {
  const cp = CONTROL_PLANE_GROUPS.some((g) => groups.has(g));
  const worker = WORKER_GROUPS.some((g) => groups.has(g));
  if (cp && worker) return 'control-plane+worker';
  if (cp) return 'control-plane';
  if (worker) return 'worker';
  return 'none';
}
