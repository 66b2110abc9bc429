import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { UserError, type SourceLocation } from '../errors/index.js';
import { parseIniInventory } from './inventory-ini.js';
import { parseVarsFile, parseYamlInventory } from './inventory-yaml.js';
import type { RawInventory, SourcedValue, VarMap } from './raw-inventory.js';
import { readInputText } from './read-input.js';

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
  const text = readInputText(file, 'inventory');
  let raw: RawInventory;
  try {
    raw = isYamlInventory(file, text) ? parseYamlInventory(text, file) : parseIniInventory(text, file);
  } catch (err) {
    if (err instanceof RangeError) {
      throw new UserError(`the inventory is nested too deeply to read (${err.message})`, { file });
    }
    throw err;
  }
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
  const list = (d: string) => {
    try {
      // Hidden files (.gitkeep, editor swap files) are skipped, as Ansible does.
      return readdirSync(d)
        .filter((e) => !e.startsWith('.'))
        .sort();
    } catch (err) {
      throw new UserError(`cannot list this directory (${(err as NodeJS.ErrnoException).code ?? err})`, { file: d });
    }
  };
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false; // a dangling symlink: readInputText names it
    }
  };
  const vars = (p: string) => parseVarsFile(readInputText(p, 'vars file'), p);
  for (const entry of list(dir)) {
    const path = join(dir, entry);
    const ext = extname(entry).toLowerCase();
    if (isDir(path)) {
      const merged: VarMap = new Map();
      for (const inner of list(path)) {
        if (!['.yml', '.yaml', '.json', ''].includes(extname(inner).toLowerCase())) continue;
        for (const [k, v] of vars(join(path, inner))) merged.set(k, v);
      }
      result.set(entry, merged);
    } else if (['.yml', '.yaml', '.json', ''].includes(ext)) {
      const name = ext ? basename(entry, extname(entry)) : entry;
      result.set(name, vars(path));
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
  // Computed without recursion (Kahn's order over child -> parent edges), so thousands of nested
  // :children cannot overflow the stack, and a cycle is reported with its groups.
  const depthOf = new Map<string, number>([['all', 0]]);
  const waiting = new Map<string, number>();
  const children = new Map<string, string[]>();
  for (const name of raw.groups.keys()) {
    if (name === 'all') continue;
    const ps = [...(parents.get(name) ?? [])].filter((p) => p !== 'all');
    waiting.set(name, ps.length);
    for (const p of ps) children.set(p, [...(children.get(p) ?? []), name]);
  }
  const ready = [...waiting].filter(([, n]) => n === 0).map(([g]) => g);
  while (ready.length > 0) {
    const g = ready.pop()!;
    const ps = [...(parents.get(g) ?? [])].filter((p) => p !== 'all');
    depthOf.set(g, ps.length === 0 ? 1 : 1 + Math.max(...ps.map((p) => depthOf.get(p)!)));
    for (const c of children.get(g) ?? []) {
      const left = waiting.get(c)! - 1;
      waiting.set(c, left);
      if (left === 0) ready.push(c);
    }
  }
  const stuck = [...waiting.keys()].filter((g) => !depthOf.has(g));
  if (stuck.length > 0) {
    // Walk up unresolved parents from a stuck group until a group repeats: that is the cycle.
    const trail: string[] = [];
    let g = stuck[0];
    while (!trail.includes(g)) {
      trail.push(g);
      g = [...(parents.get(g) ?? [])].find((p) => p !== 'all' && !depthOf.has(p))!;
    }
    const cycle = [...trail.slice(trail.indexOf(g)), g].reverse();
    const where = raw.groups.get(g)?.source ?? { file: raw.file };
    throw new UserError(`group children form a cycle: ${cycle.join(' -> ')}`, where);
  }
  const depth = (name: string): number => depthOf.get(name) ?? 1;
  const ancestorCache = new Map<string, Set<string>>();
  const ancestors = (name: string): Set<string> => {
    const cached = ancestorCache.get(name);
    if (cached) return cached;
    const seen = new Set<string>();
    const todo = [name];
    while (todo.length > 0) {
      for (const p of parents.get(todo.pop()!) ?? []) {
        if (!seen.has(p)) {
          seen.add(p);
          todo.push(p);
        }
      }
    }
    ancestorCache.set(name, seen);
    return seen;
  };

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
    const apply = (vars: VarMap | undefined) => {
      for (const [k, v] of vars ?? []) merged.set(k, v);
    };
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
  groups.ungrouped.hosts = hosts
    .filter((h) => h.groups.every((g) => g === 'all' || g === 'ungrouped'))
    .map((h) => h.name);
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
