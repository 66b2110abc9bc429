import { UserError, type SourceLocation } from '../errors/index.js';

/** A variable value together with where it was set, so errors can point at the line. */
export interface SourcedValue {
  value: unknown;
  source: SourceLocation;
}

export type VarMap = Map<string, SourcedValue>;

export interface RawGroup {
  name: string;
  hosts: Set<string>;
  children: Set<string>;
  vars: VarMap;
  source?: SourceLocation;
}

/** An inventory as written: groups, their members and vars, before variable precedence is applied. */
export interface RawInventory {
  file: string;
  groups: Map<string, RawGroup>;
  hostVars: Map<string, VarMap>;
  /** Where each host was first defined. */
  hostSources: Map<string, SourceLocation>;
}

export function emptyInventory(file: string): RawInventory {
  const inv: RawInventory = { file, groups: new Map(), hostVars: new Map(), hostSources: new Map() };
  ensureGroup(inv, 'all');
  ensureGroup(inv, 'ungrouped');
  return inv;
}

export function ensureGroup(inv: RawInventory, name: string, source?: SourceLocation): RawGroup {
  let group = inv.groups.get(name);
  if (!group) {
    group = { name, hosts: new Set(), children: new Set(), vars: new Map(), source };
    inv.groups.set(name, group);
  } else if (!group.source && source) {
    group.source = source;
  }
  return group;
}

/**
 * Names `kprov init --dry-run --out DIR` writes beside the per-host directories DIR/<host>: a host may not take them.
 * (Names starting with "." are refused as well: the default PKI directory is DIR/.kprov-pki.)
 */
export const RESERVED_HOST_NAMES = ['cluster', 'join-command.txt'] as const;

/**
 * Ansible's rules for a host name, plus kprov's own: it becomes a directory name under --out DIR,
 * so no path separators, no "." / "..", no control characters or whitespace, nothing hidden, nothing reserved.
 */
export function checkHostName(name: string, source: SourceLocation): void {
  const bad = (why: string) => {
    throw new UserError(`host name ${JSON.stringify(name)} is not a valid host name: ${why}`, source);
  };
  if (name === '') bad('it is empty');
  if (name === '.' || name === '..') bad('"." and ".." are not host names');
  if (/[/\\]/.test(name)) bad('it contains a path separator ("/" or "\\")');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) bad('it contains a control character');
  if (/\s/.test(name)) bad('it contains whitespace');
  if (name.startsWith('.')) bad('it starts with "." (kprov keeps its PKI in DIR/.kprov-pki when rendering)');
  if ((RESERVED_HOST_NAMES as readonly string[]).includes(name.toLowerCase())) {
    bad(`"${name}" is reserved (kprov init --dry-run --out DIR writes DIR/cluster and DIR/join-command.txt)`);
  }
}

export function addHost(inv: RawInventory, host: string, source: SourceLocation): VarMap {
  checkHostName(host, source);
  if (!inv.hostSources.has(host)) inv.hostSources.set(host, source);
  let vars = inv.hostVars.get(host);
  if (!vars) {
    vars = new Map();
    inv.hostVars.set(host, vars);
  }
  return vars;
}

/**
 * Ansible host ranges: `web[01:03].example.com` -> web01, web02, web03; `db-[a:c]` -> db-a, db-b, db-c.
 * An optional stride is accepted: `[0:10:5]`.
 */
export function expandHostPattern(pattern: string): string[] {
  const m = /^(.*?)\[([0-9a-z]+):([0-9a-z]+)(?::(\d+))?\](.*)$/.exec(pattern);
  if (!m) return [pattern];
  const [, head, from, to, strideText, rest] = m;
  const stride = strideText ? Number(strideText) : 1;
  const out: string[] = [];
  if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
    const width = from.length;
    for (let i = Number(from); i <= Number(to); i += stride) {
      const n = String(i).padStart(from.startsWith('0') ? width : 0, '0');
      for (const tailHost of expandHostPattern(rest)) out.push(`${head}${n}${tailHost}`);
    }
  } else if (/^[a-z]$/.test(from) && /^[a-z]$/.test(to)) {
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c += stride) {
      for (const tailHost of expandHostPattern(rest)) out.push(`${head}${String.fromCharCode(c)}${tailHost}`);
    }
  } else {
    throw new Error(`invalid host range [${from}:${to}]`);
  }
  return out;
}
