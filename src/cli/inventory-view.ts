import type { Resolved } from '../config/settings.js';

const SECRET_VARS = /(password|pass|secret|token|passphrase|key_data)$/i;

function redactVars(vars: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, SECRET_VARS.test(k) ? '<redacted>' : v]));
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
        }),
        vars: hostvars[h.name],
      };
    }),
    cluster: { ...r.cluster, sudoUserPublicKey: r.cluster.sudoUserPublicKey.replace(/^(\S+ \S{12})\S*/, '$1...') },
    warnings: r.warnings,
  };
}

export function formatInventory(r: Resolved): string {
  const view = redactedInventory(r);
  const lines = [`inventory: ${view.file}`, '', 'hosts:'];
  for (const h of view.hosts) {
    const conn = h.address ? `${h.user}@${h.address}:${h.port}${h.jump ? ` via ${h.jump.host}` : ''}` : '(not provisioned)';
    lines.push(`  ${h.name.padEnd(16)} ${h.role.padEnd(22)} ${conn}`);
    for (const [k, v] of Object.entries(h.vars)) lines.push(`      ${k} = ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  lines.push('', 'groups:');
  for (const [g, v] of Object.entries(view.groups)) lines.push(`  ${g}: ${v.hosts.join(', ') || '(empty)'}${v.children.length ? ` (children: ${v.children.join(', ')})` : ''}`);
  lines.push('', 'cluster:');
  for (const [k, v] of Object.entries(view.cluster)) if (v !== undefined) lines.push(`  ${k}: ${Array.isArray(v) ? v.join(', ') : v}`);
  return lines.join('\n') + '\n';
}
