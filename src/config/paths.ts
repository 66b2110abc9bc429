import { isAbsolute, join, resolve } from 'node:path';

export function expandPath(p: string, home: string, baseDir: string): string {
  const expanded = p.startsWith('~/') ? join(home, p.slice(2)) : p;
  return isAbsolute(expanded) ? expanded : resolve(baseDir, expanded);
}
