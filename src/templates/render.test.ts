import { describe, expect, it } from 'vitest';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { render } from './render.js';

describe('templates', () => {
  it('cannot be broken out of by a hostile value (TOML)', () => {
    const hostile = 'registry.example/pause:3.10"\n[plugins.evil]\nx = "1';
    const text = render('containerd/config.toml', {
      sandboxImage: hostile,
      systemdCgroup: true,
      restrictOomScoreAdj: false,
    });
    const parsed = parseToml(text) as { plugins: Record<string, Record<string, unknown>> };
    expect(parsed.plugins['io.containerd.grpc.v1.cri'].sandbox_image).toBe(hostile);
    expect(Object.keys(parsed.plugins)).toEqual(['io.containerd.grpc.v1.cri']);
  });

  it('cannot be broken out of by a hostile value (YAML)', () => {
    const hostile = 'unix:///run/x.sock"\nimage-endpoint: evil\n#';
    const doc = parseYaml(render('containerd/crictl.yaml', { criSocket: hostile }));
    expect(doc['runtime-endpoint']).toBe(hostile);
    expect(doc['image-endpoint']).toBe(hostile);
  });

  it('fails loudly on a missing value instead of rendering an empty string', () => {
    expect(() => render('containerd/crictl.yaml', {})).toThrow(/template value missing at line 2/);
  });
});
