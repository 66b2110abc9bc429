import { describe, expect, it } from 'vitest';
import { phaseTimings, summarize } from './report.js';
import type { Host } from '../host/host.js';
import type { PhaseReport } from '../phases/manager.js';
import { HostError } from '../errors/index.js';

const host = (name: string, failed?: HostError) => ({ name, failed }) as unknown as Host;
const report = (phase: string, hostName: string, changes: string[], ms = 100): PhaseReport => ({
  phase,
  host: hostName,
  status: changes.length ? 'changed' : 'unchanged',
  changes,
  ms,
});

describe('run summary', () => {
  it('says per host what changed, what would change in a dry run, and what failed after which changes', () => {
    const reports = [
      report('Sudo user', 'm1', ['create user ubuntu']),
      report('Container runtime', 'm1', ['restart containerd']),
      report('Sudo user', 'w1', []),
      report('Sudo user', 'w2', ['create user ubuntu']),
    ];
    const failed = new HostError('w2', 'command failed with exit code 100', { step: 'install packages' });
    const hosts = [host('m1'), host('w1'), host('w2', failed)];
    const text = summarize(reports, hosts, false);
    expect(text.split('\n')).toEqual([
      '✔ m1: made 2 changes',
      '    - Sudo user: create user ubuntu',
      '    - Container runtime: restart containerd',
      '✔ w1: unchanged',
      '✖ w2: FAILED',
      ...failed
        .toString()
        .split('\n')
        .map((l) => `    ${l}`),
      '    changes made before the failure:',
      '      - Sudo user: create user ubuntu',
    ]);
    expect(summarize([report('Sudo user', 'm1', ['create user ubuntu'])], [host('m1')], true)).toBe(
      '✔ m1: would make 1 change\n    - Sudo user: create user ubuntu',
    );
  });

  it('times each phase by its slowest host', () => {
    const reports = [report('Facts', 'a', [], 120), report('Facts', 'b', [], 900), report('Images', 'a', [], 31_000)];
    expect(phaseTimings(reports)).toBe('Facts 0.9s, Images 31.0s');
  });
});
