import type { Resolved } from '../config/settings.js';

/** Names that hold secrets, at any depth: registry_auth.password, aws_secret_access_key, vault_token... */
const SECRET_NAME = new RegExp(
  [
    'password',
    'passwd',
    'pass',
    'secret',
    'token',
    'passphrase',
    'key_data',
    'private_?key',
    'credential',
    'access_?key',
    'api_?key',
    'cert(ificate)?_key',
  ].join('|'),
  'i',
);
/** Names that hold where a secret is, not the secret: ansible_ssh_private_key_file is worth showing. */
const PATH_NAME = /(file|path|dir)$/i;
/** A PEM private key anywhere in a value (RSA, EC, OPENSSH, ENCRYPTED...). */
const PRIVATE_KEY_PEM = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const REDACTED = '<redacted>';

/** A copy of value with secrets replaced: by the name they are stored under, or by what they look like. */
export function redactValue(value: unknown, name = ''): unknown {
  if (typeof value === 'string' && PRIVATE_KEY_PEM.test(value)) return REDACTED;
  const secretName = name !== '' && SECRET_NAME.test(name) && !PATH_NAME.test(name);
  // Everything under a secret's name goes, whatever its shape (a list of passwords, a credentials mapping).
  if (secretName && value !== undefined && value !== null) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, name));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, k)]));
  }
  return value;
}

function redactVars(vars: Record<string, unknown>): Record<string, unknown> {
  return redactValue(vars) as Record<string, unknown>;
}

/** Like `ansible-inventory --list`, plus kprov's view: role, connection, node name, cluster settings. */
export function redactedInventory(r: Resolved) {
  const hostvars = Object.fromEntries(r.inventory.hosts.map((h) => [h.name, redactVars(h.vars)]));
  return {
    file: r.inventory.file,
    groups: r.inventory.groups,
    hosts: r.inventory.hosts.map((h) => {
      const spec = r.hosts.find((s) => s.name === h.name);
      return {
        name: h.name,
        role: h.role,
        groups: h.groups,
        ...(spec && {
          address: spec.address,
          port: spec.port,
          user: spec.user,
          become: spec.become,
          jump: spec.jump,
          nodeName: spec.nodeName,
          nodeIp: spec.nodeIp,
          ...(spec.nodeIp6 !== undefined ? { nodeIp6: spec.nodeIp6 } : {}),
        }),
        vars: hostvars[h.name],
      };
    }),
    cluster: {
      ...(redactValue({ ...r.cluster, sudoUserPublicKey: undefined }) as Resolved['cluster']),
      sudoUserPublicKey: r.cluster.sudoUserPublicKey.replace(/^(\S+ \S{12})\S*/, '$1...'),
    },
    warnings: r.warnings,
  };
}

/** One line per value: text as is, a list of plain values joined, anything structured as compact JSON. */
function compact(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) return v.join(', ');
  return JSON.stringify(v) ?? String(v);
}

export function formatInventory(r: Resolved): string {
  const view = redactedInventory(r);
  const lines = [`inventory: ${view.file}`, '', 'hosts:'];
  for (const h of view.hosts) {
    const conn = h.address
      ? `${h.user}@${h.address}:${h.port}${h.jump ? ` via ${h.jump.host}` : ''}`
      : '(not provisioned)';
    lines.push(`  ${h.name.padEnd(16)} ${h.role.padEnd(22)} ${conn}`);
    for (const [k, v] of Object.entries(h.vars)) {
      lines.push(`      ${k} = ${typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v))}`);
    }
  }
  lines.push('', 'groups:');
  for (const [g, v] of Object.entries(view.groups))
    lines.push(
      `  ${g}: ${v.hosts.join(', ') || '(empty)'}${v.children.length ? ` (children: ${v.children.join(', ')})` : ''}`,
    );
  lines.push('', 'cluster:');
  for (const [k, v] of Object.entries(view.cluster)) if (v !== undefined) lines.push(`  ${k}: ${compact(v)}`);
  return lines.join('\n') + '\n';
}
