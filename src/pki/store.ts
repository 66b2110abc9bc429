import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where generated cluster secrets live between runs (the operator's machine), by relative path. */
export interface PkiStore {
  read(path: string): string | undefined;
  write(path: string, content: string, mode: number): void;
}

export class DirStore implements PkiStore {
  constructor(readonly root: string) {}
  read(path: string): string | undefined {
    const p = join(this.root, path);
    return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
  }
  write(path: string, content: string, mode: number): void {
    const p = join(this.root, path);
    mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
    writeFileSync(p, content, { mode });
    chmodSync(p, mode);
  }
}

export class MemoryStore implements PkiStore {
  readonly files = new Map<string, { content: string; mode: number }>();
  read(path: string): string | undefined {
    return this.files.get(path)?.content;
  }
  write(path: string, content: string, mode: number): void {
    this.files.set(path, { content, mode });
  }
}
