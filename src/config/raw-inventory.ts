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

/** The most hosts one host pattern may expand to: a typo like w[0:99999999] must not eat the machine's memory. */
export const MAX_RANGE_HOSTS = 10_000;

/**
 * Ansible host ranges: `web[01:03].example.com` -> web01, web02, web03; `db-[a:c]` -> db-a, db-b, db-c.
 * An optional stride is accepted: `[0:10:5]`. Throws (a plain Error: callers add the location) for a stride of 0,
 * a range that ends before it starts, or more than MAX_RANGE_HOSTS names.
 */
export function expandHostPattern(pattern: string): string[] {
  const ranges: string[][] = [];
  const literals: string[] = [];
  let rest = pattern;
  let total = 1;
  for (;;) {
    const m = /^(.*?)\[([0-9a-z]+):([0-9a-z]+)(?::(\d+))?\](.*)$/.exec(rest);
    if (!m) break;
    const [, head, from, to, strideText, tail] = m;
    literals.push(head);
    const stride = strideText ? Number(strideText) : 1;
    const where = `host range [${from}:${to}${strideText ? `:${strideText}` : ''}] in "${pattern}"`;
    if (stride < 1) throw new Error(`${where}: the stride must be at least 1`);
    let start: number;
    let end: number;
    let name: (i: number) => string;
    if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
      [start, end] = [Number(from), Number(to)];
      name = (i) => String(i).padStart(from.startsWith('0') ? from.length : 0, '0');
    } else if (/^[a-z]$/.test(from) && /^[a-z]$/.test(to)) {
      [start, end] = [from.charCodeAt(0), to.charCodeAt(0)];
      name = (i) => String.fromCharCode(i);
    } else {
      throw new Error(`invalid ${where}: use numbers ([01:10]) or single letters ([a:f])`);
    }
    if (end < start) throw new Error(`${where} ends before it starts: write [${to}:${from}]`);
    total *= Math.floor((end - start) / stride) + 1;
    if (total > MAX_RANGE_HOSTS) throw new Error(`"${pattern}" expands to more than ${MAX_RANGE_HOSTS} hosts`);
    const values: string[] = [];
    for (let i = start; i <= end; i += stride) values.push(name(i));
    ranges.push(values);
    rest = tail;
  }
  let out = [''];
  ranges.forEach((values, i) => {
    out = out.flatMap((prefix) => values.map((v) => `${prefix}${literals[i]}${v}`));
  });
  return out.map((prefix) => `${prefix}${rest}`);
}
