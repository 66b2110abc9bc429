import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseYamlInventory } from '../config/inventory-yaml.js';
import { resolveInventory } from '../config/inventory.js';
import { resolveSettings } from '../config/settings.js';
import { containerdFiles, MANAGED_MARK } from './runtime.js';

const home = mkdtempSync(join(tmpdir(), 'kprov-home-'));
mkdirSync(join(home, '.ssh'));
writeFileSync(
  join(home, '.ssh', 'id_ed25519.pub'),
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop\n',
);

const inventory = (vars: string) =>
  `all:\n  vars:\n${vars}\n  children:\n    masters:\n      hosts:\n        m1: { ansible_host: 10.0.0.1 }\n`;
const resolve = (vars: string) =>
  resolveSettings(resolveInventory(parseYamlInventory(inventory(vars), 'inventory.yaml')), { home });
const hostsToml = (vars: string) =>
  Object.fromEntries(
    containerdFiles(resolve(vars).cluster, { canLowerOomScore: true })
      .filter((f) => f.path.endsWith('hosts.toml'))
      .map((f) => [f.path, f.content]),
  );

describe('containerd registry configuration', () => {
  it('writes a hosts.toml per mirrored registry: mirrors first, in order, then the upstream', () => {
    const files = hostsToml(
      `    registry_mirrors:\n      registry.k8s.io: [http://10.0.0.5:5000/, https://mirror.internal]\n` +
        `      docker.io: https://10.0.0.6:5443\n    insecure_registries: [10.0.0.6:5443]`,
    );
    // The insecure mirror also gets its own file, for images named after it directly.
    expect(Object.keys(files).sort()).toEqual([
      '/etc/containerd/certs.d/10.0.0.6:5443/hosts.toml',
      '/etc/containerd/certs.d/docker.io/hosts.toml',
      '/etc/containerd/certs.d/registry.k8s.io/hosts.toml',
    ]);
    const k8s = files['/etc/containerd/certs.d/registry.k8s.io/hosts.toml'];
    expect(k8s).toContain('server = "https://registry.k8s.io"');
    expect(k8s.indexOf('[host."http://10.0.0.5:5000"]')).toBeLessThan(k8s.indexOf('[host."https://mirror.internal"]'));
    expect(k8s).not.toContain('skip_verify');
    const hub = files['/etc/containerd/certs.d/docker.io/hosts.toml'];
    expect(hub).toContain('server = "https://registry-1.docker.io"');
    expect(hub).toMatch(
      /\[host\."https:\/\/10\.0\.0\.6:5443"\]\n {2}capabilities = \["pull", "resolve"\]\n {2}skip_verify = true/,
    );
  });

  it('marks every hosts.toml it writes, so a registry dropped from the inventory can be removed safely', () => {
    const files = hostsToml(
      `    registry_mirrors:\n      registry.k8s.io: http://10.0.0.5:5000\n    insecure_registries: [10.0.0.7:5000]`,
    );
    expect(Object.keys(files)).toHaveLength(2);
    for (const content of Object.values(files)) expect(String(content).startsWith(MANAGED_MARK)).toBe(true);
  });

  it('keeps a plain insecure registry as its own HTTP host', () => {
    const files = hostsToml('    insecure_registries: 10.0.0.7:5000');
    expect(files['/etc/containerd/certs.d/10.0.0.7:5000/hosts.toml']).toContain('server = "http://10.0.0.7:5000"');
  });
});
