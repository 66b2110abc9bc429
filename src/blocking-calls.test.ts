import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesUnder, REPO_ROOT } from './source-files.testing.js';

// A Vitest worker answers its runner over RPC with a 60 s timeout. A test that blocks its worker longer than that
// (a synchronous child process building the bundle, a kubectl wait) makes the whole run fail with "Timeout calling
// onTaskUpdate" even when every test passed: CI failed so after 54 of 54 e2e tests passed. So every synchronous child
// process under test/ (the integration, e2e and Conformance suites, which build, wait and run clusters) is bounded by
// SYNC_TIMEOUT_MS (test/helpers/cli.ts, 50 s); longer work goes through run(). Unit tests' calls (openssl, sh) are
// quick and stay as they are.
const SYNC_CALL = /\b(execFileSync|spawnSync|execSync)\(/g;

/** Synchronous child-process calls in a source text whose arguments do not set `timeout: SYNC_TIMEOUT_MS`. */
function unboundedSyncCalls(source: string, file: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(SYNC_CALL)) {
    let depth = 0;
    let end = m.index + m[0].length - 1;
    for (; end < source.length; end++) {
      if (source[end] === '(') depth++;
      else if (source[end] === ')' && --depth === 0) break;
    }
    const call = source.slice(m.index, end + 1);
    if (!/\btimeout: SYNC_TIMEOUT_MS\b/.test(call)) {
      found.push(`${file}:${source.slice(0, m.index).split('\n').length} ${m[1]}`);
    }
  }
  return found;
}

describe('blocking calls in tests', () => {
  it('flags a synchronous child process without the bound, and only that', () => {
    const src = [
      "import { execFileSync } from 'node:child_process';",
      "const a = execFileSync('bash', [script, version], { encoding: 'utf8' });",
      "const b = execFileSync('kubectl', args(['get', 'nodes']), { encoding: 'utf8', timeout: SYNC_TIMEOUT_MS });",
      'const c = spawnSync(',
      "  'kubeadm',",
      "  ['init'],",
      '  { encoding: "utf8" },',
      ');',
    ].join('\n');
    expect(unboundedSyncCalls(src, 'x.ts')).toEqual(['x.ts:2 execFileSync', 'x.ts:4 spawnSync']);
  });

  it('every synchronous child process under test/ is bounded by SYNC_TIMEOUT_MS', () => {
    const files = filesUnder('test', '.ts');
    expect(files).toContain('test/e2e/support.ts');
    const unbounded = files.flatMap((f) => unboundedSyncCalls(readFileSync(join(REPO_ROOT, f), 'utf8'), f));
    expect(unbounded, 'bound these with timeout: SYNC_TIMEOUT_MS, or use run() from test/helpers/cli.ts').toEqual([]);
  });
});
