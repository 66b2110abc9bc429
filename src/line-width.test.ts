import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Biome wraps code at this width (biome.json lineWidth) but leaves alone what it cannot break: long strings,
// template literals, test names, comments and regexes. Those are wrapped by hand, and this test keeps them so.
const MAX = 120;
const root = fileURLToPath(new URL('..', import.meta.url));
const SKIPPED_DIRS = new Set(['node_modules', 'dist']);
// Upstream components the e2e suite builds from; not kprov's code (and not formatted by Biome either).
const SKIPPED_PATHS = new Set(['test/e2e/components']);

function filesUnder(dir: string, ext: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name) && !SKIPPED_PATHS.has(path)) found.push(...filesUnder(path, ext));
    } else if (entry.isFile() && entry.name.endsWith(ext)) {
      found.push(path);
    }
  }
  return found;
}

function longLines(file: string): string[] {
  return readFileSync(join(root, file), 'utf8')
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
