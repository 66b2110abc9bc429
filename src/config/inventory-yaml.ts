import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';
import { UserError, type SourceLocation } from '../errors/index.js';
import { checkVarName } from './inventory-ini.js';
import {
  addHost,
  emptyInventory,
  ensureGroup,
  expandHostPattern,
  type RawInventory,
  type VarMap,
} from './raw-inventory.js';

/** Alias expansions allowed per document: plenty for real inventories, a clear error for a "billion laughs". */
export const MAX_ALIAS_COUNT = 100;

/**
 * Reading a parsed YAML document as Ansible does: aliases (*name) resolved to what their anchor holds,
 * merge keys (<<: *defaults, or a list of them) applied with the map's own keys winning, and every node
 * still mapped to its line.
 */
function yamlReader(doc: Document.Parsed, lineCounter: LineCounter, file: string) {
  const at = (node: Node | null | undefined): SourceLocation => ({
    file,
    line: node?.range ? lineCounter.linePos(node.range[0]).line : undefined,
  });
  const deref = (node: unknown): Node | null => {
    let n = node as Node | null | undefined;
    for (let hops = 0; n && isAlias(n); hops++) {
      if (hops > MAX_ALIAS_COUNT) throw new UserError('alias chain too long', at(n));
      const target = n.resolve(doc) as Node | undefined;
      if (!target) throw new UserError(`unknown alias *${n.source}`, at(n));
      n = target;
    }
    return n ?? null;
  };
  const keyOf = (node: unknown): string => {
    const k = deref(node);
    return String(isScalar(k) ? k.value : k);
  };
  const isMergeKey = (node: unknown) => isScalar(node) && (typeof node.value === 'symbol' || node.source === '<<');
  /** The effective key/value pairs of a mapping, merge keys applied (own keys win, then earlier merged maps). */
  const pairs = (map: YAMLMap, depth = 0): Pair<Node, Node>[] => {
    if (depth > MAX_ALIAS_COUNT) throw new UserError('merge keys nested too deeply', at(map));
    const own = new Map<string, Pair<Node, Node>>();
    const merged = new Map<string, Pair<Node, Node>>();
    for (const pair of map.items as Pair<Node, Node>[]) {
      if (!isMergeKey(pair.key)) {
        own.set(keyOf(pair.key), pair);
        continue;
      }
      const value = deref(pair.value);
      const sources = isSeq(value) ? value.items.map((i) => deref(i)) : [value];
      for (const source of sources) {
        if (!isMap(source)) {
          throw new UserError('a merge key (<<) takes a mapping or a list of mappings', at(pair.value));
        }
        for (const p of pairs(source, depth + 1)) {
          const k = keyOf(p.key);
          if (!merged.has(k)) merged.set(k, p);
        }
      }
    }
    for (const k of own.keys()) merged.delete(k);
    return [...merged.values(), ...own.values()];
  };
  const value = (node: Node | null | undefined): unknown => {
    if (!node) return null;
    try {
      return node.toJS(doc, { maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      if (err instanceof ReferenceError || err instanceof RangeError) {
        const why = `more than ${MAX_ALIAS_COUNT} uses of an anchor`;
        throw new UserError(`YAML aliases expand too much (${why}): ${err.message}`, at(node));
      }
      throw err;
    }
  };
  const isEmpty = (node: unknown) => node === null || node === undefined || (isScalar(node) && node.value === null);
  return { at, deref, keyOf, pairs, value, isEmpty };
}

/**
 * Parse an Ansible YAML inventory:
 *   all: { vars: {...}, hosts: {...}, children: { masters: { hosts: { m1: { ansible_host: ... } } } } }
 * Every value keeps the line it was written on.
 */
export function parseYamlInventory(text: string, file: string): RawInventory {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    throw new UserError(`invalid YAML: ${first.message.split('\n')[0]}`, { file, line: first.linePos?.[0].line });
  }
  const { at, deref, keyOf, pairs, value, isEmpty } = yamlReader(doc, lineCounter, file);

  const inv = emptyInventory(file);
  const root = deref(doc.contents);
  if (isEmpty(root)) return inv;
  if (!isMap(root)) throw new UserError('a YAML inventory must be a mapping of group names (usually "all:")', at(root));

  const readVars = (node: unknown, target: VarMap, where: string) => {
    const map = deref(node);
    if (isEmpty(map)) return;
    if (!isMap(map)) throw new UserError(`${where} must be a mapping of variable names to values`, at(map as Node));
    for (const pair of pairs(map)) {
      const key = keyOf(pair.key);
      checkVarName(key, at(pair.key));
      target.set(key, { value: value(pair.value), source: at(pair.key) });
    }
  };

  const readGroup = (name: string, bodyNode: Node | null, keyNode: Node) => {
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new UserError(`invalid group name "${name}"`, at(keyNode));
    const group = ensureGroup(inv, name, at(keyNode));
    const body = deref(bodyNode);
    if (isEmpty(body)) return;
    if (!isMap(body))
      throw new UserError(`group "${name}" must be a mapping with hosts, vars and/or children`, at(body));
    for (const pair of pairs(body)) {
      const section = keyOf(pair.key);
      if (section === 'vars') {
        readVars(pair.value, group.vars, `vars of group "${name}"`);
      } else if (section === 'hosts') {
        const hosts = deref(pair.value);
        if (isEmpty(hosts)) continue;
        if (!isMap(hosts)) throw new UserError(`hosts of group "${name}" must be a mapping of host names`, at(hosts));
        for (const hostPair of pairs(hosts)) {
          const pattern = keyOf(hostPair.key);
          let names: string[];
          try {
            names = expandHostPattern(pattern);
          } catch (err) {
            throw new UserError((err as Error).message, at(hostPair.key));
          }
          for (const host of names) {
            group.hosts.add(host);
            const vars = addHost(inv, host, at(hostPair.key));
            readVars(hostPair.value, vars, `vars of host "${host}"`);
          }
        }
      } else if (section === 'children') {
        const children = deref(pair.value);
        if (isEmpty(children)) continue;
        if (!isMap(children))
          throw new UserError(`children of group "${name}" must be a mapping of group names`, at(children));
        for (const childPair of pairs(children)) {
          const child = keyOf(childPair.key);
          group.children.add(child);
          readGroup(child, childPair.value, childPair.key);
        }
      } else {
        throw new UserError(
          `unknown key "${section}" in group "${name}": expected hosts, vars or children`,
          at(pair.key),
        );
      }
    }
  };

  for (const pair of pairs(root)) readGroup(keyOf(pair.key), pair.value, pair.key);
  return inv;
}

/** Parse a group_vars/host_vars file (YAML or JSON) into sourced vars. */
export function parseVarsFile(text: string, file: string): VarMap {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    throw new UserError(`invalid YAML: ${first.message.split('\n')[0]}`, { file, line: first.linePos?.[0].line });
  }
  const { at, deref, keyOf, pairs, value, isEmpty } = yamlReader(doc, lineCounter, file);
  const vars: VarMap = new Map();
  const root = deref(doc.contents);
  if (isEmpty(root)) return vars;
  if (!isMap(root)) throw new UserError('a vars file must be a mapping of variable names to values', { file, line: 1 });
  for (const pair of pairs(root)) {
    const key = keyOf(pair.key);
    const source = at(pair.key);
    checkVarName(key, source);
    vars.set(key, { value: value(pair.value), source });
  }
  return vars;
}
