import { describe, expect, it } from 'vitest';
import { parseYamlInventory } from './inventory-yaml.js';
import { resolveInventory } from './inventory.js';
import { resolveSettings } from './settings.js';
import { normalizeRegistryUrl, registryHostProblem } from './validate.js';
import { containerdFiles } from '../phases/runtime.js';
import { UserError, UserErrors } from '../errors/index.js';

const inventory = (vars: string) =>
  `all:\n  vars:\n${vars}\n  children:\n    masters:\n      hosts:\n        m1: { ansible_host: 10.0.0.1 }\n`;
const resolve = (vars: string) =>
  resolveSettings(resolveInventory(parseYamlInventory(inventory(vars), 'inv.yaml')), { offline: true });
function problems(vars: string): string[] {
  try {
    resolve(vars);
  } catch (err) {
    if (err instanceof UserErrors) return err.errors.map((e) => e.toString());
    if (err instanceof UserError) return [err.toString()];
    throw err;
  }
  return [];
}

describe('audit: registry names are host[:port] and mirror URLs are written normalised', () => {
  it('an upstream of ".." (which would write /etc/containerd/hosts.toml) is refused with its line', () => {
    expect(problems('    registry_mirrors:\n      "..": http://10.0.0.5:5000')).toEqual([
      'inv.yaml:3: registry_mirrors: ".." is not a registry host or host:port ' +
        '(DNS name, IPv4 or [IPv6], optional port 1-65535)',
    ]);
  });

  it('insecure_registries entries are checked the same way', () => {
    for (const bad of ['..', 'a..b', 'host:0', 'host:70000', '-x', '1.2.3', 'a/b', '[zz]:5000']) {
      expect(problems(`    insecure_registries: ["${bad}"]`).join(), bad).toMatch(/is not a registry host/);
    }
    for (const good of ['mirror.internal', '10.0.0.5:5000', '[fd00::1]:5000', 'Registry.Example.com:443']) {
      expect(registryHostProblem(good, 'x'), good).toBeUndefined();
    }
  });

  it('mirror URLs with a backslash, credentials or a query are refused; good ones are normalised', () => {
    const mirror = (yaml: string) => problems(`    registry_mirrors:\n      registry.k8s.io: ${yaml}`).join();
    expect(mirror('"http://10.0.0.5:5000\\\\"')).toMatch(/must be an http/);
    expect(mirror('"http://u:p@10.0.0.5:5000"')).toMatch(/must be an http/);
    expect(mirror('"http://10.0.0.5:5000/?x=1"')).toMatch(/must be an http/);
    const r = resolve(
      '    registry_mirrors:\n      registry.k8s.io: [HTTP://Mirror.Internal:5000/, "https://10.0.0.6:443/v2/"]',
    );
    const normalized = ['http://mirror.internal:5000', 'https://10.0.0.6/v2'];
    expect(r.cluster.registryMirrors['registry.k8s.io']).toEqual(normalized);
    expect(normalizeRegistryUrl('http://a\\b')).toBeUndefined();
  });

  it('containerdFiles writes the normalised URL, not the raw string', () => {
    const r = resolve('    registry_mirrors:\n      registry.k8s.io: http://10.0.0.5:5000');
    const cluster = { ...r.cluster, registryMirrors: { 'registry.k8s.io': ['HTTP://Mirror.Internal:5000//'] } };
    const files = containerdFiles(cluster, { canLowerOomScore: true });
    const toml = files.find((f) => f.path.endsWith('registry.k8s.io/hosts.toml'))!;
    expect(toml.content).toContain('[host."http://mirror.internal:5000"]');
    expect(toml.content).not.toContain('Mirror.Internal');
  });
});

describe('registry_mirrors validation', () => {
  it('reports bad mirrors with the inventory line', () => {
    const text = problems(
      `    registry_mirrors:\n      registry.k8s.io: ftp://10.0.0.5\n      "bad host!": http://x`,
    ).join('\n');
    expect(text).toMatch(
      new RegExp(
        /inv\.yaml:\d+: registry_mirrors: mirror "ftp:\/\/10\.0\.0\.5" /.source +
          /of registry\.k8s\.io must be an http:\/\/ or https:\/\/ URL/.source,
      ),
    );
    expect(text).toMatch(/registry_mirrors: "bad host!" is not a registry host or host:port/);
  });
});
