import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The code base's own files, for tests that check all of it (line width, blocking calls in tests).
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SKIPPED_DIRS = new Set(['node_modules', 'dist']);
// Upstream components the e2e suite builds from; not kprov's code (and not formatted by Biome either).
const SKIPPED_PATHS = new Set(['test/e2e/components']);

/** Files under a directory of the repository whose names end with ext, as repository-relative paths. */
export function filesUnder(dir: string, ext: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(REPO_ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name) && !SKIPPED_PATHS.has(path)) found.push(...filesUnder(path, ext));
    } else if (entry.isFile() && entry.name.endsWith(ext)) {
      found.push(path);
    }
  }
  return found;
}
