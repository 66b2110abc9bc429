import { describe, expect, it } from 'vitest';
import { Host } from './host.js';
import type { HostSpec } from '../config/settings.js';
import type { SshConnection } from '../ssh/connection.js';

const host = (dryRun: boolean) => new Host({ name: 'h1' } as HostSpec, {} as SshConnection, dryRun);

describe('Host: the one dry-run gate', () => {
  it('change() records and runs outside a dry run, records only in one', async () => {
    let ran = 0;
    const live = host(false);
    await live.change('restart x', async () => ran++);
    const dry = host(true);
    await dry.change('restart x', async () => ran++);
    expect(ran).toBe(1);
    expect(live.changes).toEqual(['restart x']);
    expect(dry.changes).toEqual(['restart x']);
  });

  it('refuses a change reported during a dry run, and a dry-run plan during a real run', () => {
    expect(() => host(true).changed('create ConfigMap kube-system/x')).toThrow(/carried out during a dry run/);
    expect(() => host(false).plan('apply 00-rbac')).toThrow(/outside a dry run/);
    const h = host(false);
    h.changed('create ConfigMap kube-system/x');
    expect(h.changes).toEqual(['create ConfigMap kube-system/x']);
  });
});
