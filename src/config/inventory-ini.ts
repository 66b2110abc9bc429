import { UserError } from '../errors/index.js';
import { addHost, emptyInventory, ensureGroup, expandHostPattern, type RawInventory } from './raw-inventory.js';

/**
 * Parse an Ansible INI inventory: [group], [group:vars], [group:children], host lines with
 * key=value vars (values may be quoted), comments with # or ;, and host ranges.
 */
export function parseIniInventory(text: string, file: string): RawInventory {
  const inv = emptyInventory(file);
  let section: { group: string; kind: 'hosts' | 'vars' | 'children' } = { group: 'ungrouped', kind: 'hosts' };

  text.split(/\r?\n/).forEach((rawLine, index) => {
    const lineNo = index + 1;
    const source = { file, line: lineNo };
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;

    const header = /^\[([^\]]+)\]\s*(?:[#;].*)?$/.exec(line);
    if (header) {
      const [name, kind = 'hosts', extra] = header[1].trim().split(':');
      if (extra !== undefined || !['hosts', 'vars', 'children'].includes(kind)) {
        throw new UserError(
          `invalid section header [${header[1]}]: expected [group], [group:vars] or [group:children]`,
          source,
        );
      }
      checkGroupName(name, source);
      ensureGroup(inv, name, source);
      section = { group: name, kind: kind as 'hosts' | 'vars' | 'children' };
      return;
    }
    if (line.startsWith('[')) throw new UserError(`unterminated section header: ${line}`, source);

    const group = ensureGroup(inv, section.group);
    if (section.kind === 'vars') {
      const eq = line.indexOf('=');
      if (eq <= 0) throw new UserError(`expected key=value in [${section.group}:vars], got: ${line}`, source);
      const key = line.slice(0, eq).trim();
      const value = parseIniValue(line.slice(eq + 1).trim(), source);
      checkVarName(key, source);
      group.vars.set(key, { value, source });
      return;
    }
    const tokens = tokenize(line, source);
    if (section.kind === 'children') {
      if (tokens.length !== 1)
        throw new UserError(`expected one group name per line in [${section.group}:children], got: ${line}`, source);
      checkGroupName(tokens[0], source);
      ensureGroup(inv, tokens[0]);
      group.children.add(tokens[0]);
      return;
    }

    // A host line: name, then key=value pairs.
    const [pattern, ...assignments] = tokens;
    if (pattern.includes('=')) throw new UserError(`expected a host name before variables, got: ${line}`, source);
    let names: string[];
    try {
      names = expandHostPattern(pattern);
    } catch (err) {
      throw new UserError((err as Error).message, source);
    }
    for (const name of names) {
      if (group.hosts.has(name)) {
        throw new UserError(
          `duplicate host "${name}" in group [${section.group}] ` +
            `(first defined at line ${inv.hostSources.get(name)?.line})`,
          source,
        );
      }
      group.hosts.add(name);
      const vars = addHost(inv, name, source);
      for (const assignment of assignments) {
        const eq = assignment.indexOf('=');
        if (eq <= 0) throw new UserError(`expected key=value after host "${pattern}", got: ${assignment}`, source);
        const key = assignment.slice(0, eq);
        checkVarName(key, source);
        vars.set(key, { value: parseIniValue(assignment.slice(eq + 1), source), source });
      }
    }
  });
  return inv;
}

/** Split a host line on whitespace, keeping quoted values together and dropping a trailing comment. */
function tokenize(line: string, source: { file: string; line: number }): string[] {
  const tokens: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      current += ch;
      if (ch === '\\' && quote === '"' && i + 1 < line.length) current += line[++i];
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      current += ch;
    } else if (/\s/.test(ch)) {
      if (current) tokens.push(current);
      current = '';
    } else if (ch === '#' && current === '') {
      break;
    } else {
      current += ch;
    }
  }
  if (quote) throw new UserError(`unterminated ${quote} quote`, source);
  if (current) tokens.push(current);
  return tokens;
}

/** INI values are strings unless quoted; quotes are removed. Booleans and numbers stay strings and are typed later. */
function parseIniValue(raw: string, source: { file: string; line: number }): string {
  const value = raw.trim();
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'")) {
    if (value[value.length - 1] !== value[0]) throw new UserError(`unterminated quote in value ${value}`, source);
    const inner = value.slice(1, -1);
    return value[0] === '"' ? inner.replace(/\\(.)/g, '$1') : inner;
  }
  return value;
}

function checkGroupName(name: string, source: { file: string; line: number }): void {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new UserError(`invalid group name "${name}"`, source);
}

export function checkVarName(name: string, source: { file: string; line?: number }): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UserError(`invalid variable name "${name}"`, source);
}
