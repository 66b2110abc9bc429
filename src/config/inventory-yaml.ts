import { isMap, isScalar, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import { UserError, type SourceLocation } from '../errors/index.js';
import { checkVarName } from './inventory-ini.js';
import { addHost, emptyInventory, ensureGroup, expandHostPattern, type RawInventory, type VarMap } from './raw-inventory.js';

/**
 * Parse an Ansible YAML inventory:
 *   all: { vars: {...}, hosts: {...}, children: { masters: { hosts: { m1: { ansible_host: ... } } } } }
 * Every value keeps the line it was written on.
 */
export function parseYamlInventory(text: string, file: string): RawInventory {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    throw new UserError(`invalid YAML: ${first.message.split('\n')[0]}`, { file, line: first.linePos?.[0].line });
  }
  const at = (node: Node | null | undefined): SourceLocation => ({
    file,
    line: node?.range ? lineCounter.linePos(node.range[0]).line : undefined,
  });

  const inv = emptyInventory(file);
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return inv;
  if (!isMap(root)) throw new UserError('a YAML inventory must be a mapping of group names (usually "all:")', at(root));

  const readVars = (map: unknown, target: VarMap, where: string) => {
    if (map === null || (isScalar(map) && map.value === null)) return;
    if (!isMap(map)) throw new UserError(`${where} must be a mapping of variable names to values`, at(map as Node));
    for (const pair of (map as YAMLMap).items as Pair<Node, Node>[]) {
      const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
      checkVarName(key, at(pair.key));
      target.set(key, { value: pair.value ? pair.value.toJSON() : null, source: at(pair.key) });
    }
  };

  const readGroup = (name: string, body: Node | null, keyNode: Node) => {
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new UserError(`invalid group name "${name}"`, at(keyNode));
    const group = ensureGroup(inv, name, at(keyNode));
    if (body === null || (isScalar(body) && body.value === null)) return;
    if (!isMap(body)) throw new UserError(`group "${name}" must be a mapping with hosts, vars and/or children`, at(body));
    for (const pair of body.items as Pair<Node, Node>[]) {
      const section = String(isScalar(pair.key) ? pair.key.value : pair.key);
      if (section === 'vars') {
        readVars(pair.value, group.vars, `vars of group "${name}"`);
      } else if (section === 'hosts') {
        const hosts = pair.value;
        if (hosts === null || (isScalar(hosts) && hosts.value === null)) continue;
        if (!isMap(hosts)) throw new UserError(`hosts of group "${name}" must be a mapping of host names`, at(hosts));
        for (const hostPair of hosts.items as Pair<Node, Node>[]) {
          const pattern = String(isScalar(hostPair.key) ? hostPair.key.value : hostPair.key);
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
        const children = pair.value;
        if (children === null || (isScalar(children) && children.value === null)) continue;
        if (!isMap(children)) throw new UserError(`children of group "${name}" must be a mapping of group names`, at(children));
        for (const childPair of children.items as Pair<Node, Node>[]) {
          const child = String(isScalar(childPair.key) ? childPair.key.value : childPair.key);
          group.children.add(child);
          readGroup(child, childPair.value, childPair.key);
        }
      } else {
        throw new UserError(`unknown key "${section}" in group "${name}": expected hosts, vars or children`, at(pair.key));
      }
    }
  };

  for (const pair of root.items as Pair<Node, Node>[]) {
    const name = String(isScalar(pair.key) ? pair.key.value : pair.key);
    readGroup(name, pair.value, pair.key);
  }
  return inv;
}

/** Parse a group_vars/host_vars file (YAML or JSON) into sourced vars. */
export function parseVarsFile(text: string, file: string): VarMap {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    throw new UserError(`invalid YAML: ${first.message.split('\n')[0]}`, { file, line: first.linePos?.[0].line });
  }
  const vars: VarMap = new Map();
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return vars;
  if (!isMap(root)) throw new UserError('a vars file must be a mapping of variable names to values', { file, line: 1 });
  for (const pair of root.items as Pair<Node, Node>[]) {
    const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
    const source = { file, line: pair.key?.range ? lineCounter.linePos(pair.key.range[0]).line : undefined };
    checkVarName(key, source);
    vars.set(key, { value: pair.value ? pair.value.toJSON() : null, source });
  }
  return vars;
}
