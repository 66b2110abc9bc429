import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesUnder, REPO_ROOT } from './source-files.testing.js';

// Biome wraps code at this width (biome.json lineWidth) but leaves alone what it cannot break: long strings,
// template literals, test names, comments and regexes. Those are wrapped by hand, and this test keeps them so.
const MAX = 120;

function longLines(file: string): string[] {
  return readFileSync(join(REPO_ROOT, file), 'utf8')
    .split(/\r?\n/)
    .flatMap((line, i) => {
      // Characters (code points), not UTF-16 units: '✔' and '…' count once.
      const length = [...line].length;
      return length > MAX ? [`${file}:${i + 1} (${length})`] : [];
    });
}

describe('line width', () => {
  it('no line of source or test code is longer than 120 characters', () => {
    const files = [...filesUnder('src', '.ts'), ...filesUnder('test', '.ts'), ...filesUnder('bin', '.js')];
    // The walk found the code base, not an empty or wrong directory.
    expect(files).toContain('src/line-width.test.ts');
    expect(files).toContain('bin/kprov.js');
    expect(files.flatMap(longLines), `wrap these lines to ${MAX} characters or fewer`).toEqual([]);
  });
});
