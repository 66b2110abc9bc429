import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REMOVE_SANDBOXES, RESET_SCRIPT } from './reset.js';

/** Run the fragment with stand-ins for ctr and systemctl that log their calls; ctr answers as containerd 1.x or 2.x. */
function run(ctr: '1.x' | '2.x', sandboxes: string[]): string[] {
  const bin = mkdtempSync(join(tmpdir(), 'kprov-reset-'));
  const log = join(bin, 'calls');
  writeFileSync(log, '');
  const list = ['ID CREATED RUNTIME', ...sandboxes.map((s) => `${s} 2026-12-01 io.containerd.runc.v2`)].join('\\n');
  writeFileSync(
    join(bin, 'ctr'),
    `#!/bin/sh\necho "ctr $*" >> ${log}\n` +
      (ctr === '1.x'
        ? 'case "$*" in *sandboxes*) echo "No help topic for sandboxes" >&2; exit 3;; esac\n'
        : `case "$*" in *"sandboxes ls"*) printf '${list}\\n';; esac\n`),
  );
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "systemctl $*" >> ${log}\n`);
  for (const f of ['ctr', 'systemctl']) chmodSync(join(bin, f), 0o755);
  const r = spawnSync('sh', ['-c', REMOVE_SANDBOXES], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  expect(r.status).toBe(0);
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

describe('reset with containerd 2.x', () => {
  it('removes the pod sandboxes from containerd 2.x and restarts it so its CRI plugin forgets them', () => {
    expect(run('2.x', ['aaa', 'bbb'])).toEqual([
      'ctr sandboxes --help',
      'ctr -n k8s.io sandboxes ls',
      'ctr -n k8s.io sandboxes rm -f aaa',
      'ctr -n k8s.io sandboxes rm -f bbb',
      'systemctl restart containerd',
    ]);
    expect(run('2.x', [])).toEqual(['ctr sandboxes --help', 'ctr -n k8s.io sandboxes ls']);
  });

  it('leaves containerd 1.x alone, and runs after the containers are gone', () => {
    expect(run('1.x', [])).toEqual(['ctr sandboxes --help']);
    expect(RESET_SCRIPT.indexOf(REMOVE_SANDBOXES)).toBeGreaterThan(RESET_SCRIPT.indexOf('containers rm'));
  });
});
