import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The run log: every remote command and its result, with secrets replaced by ***.
 * Secrets are registered once (passwords, tokens, key material) and redacted everywhere.
 */
export class RunLog {
  private readonly secrets = new Set<string>();
  constructor(
    readonly file: string | undefined,
    private readonly echo?: (line: string) => void,
  ) {
    if (file) mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  }

  addSecret(secret: string | undefined): void {
    if (secret && secret.length >= 4) this.secrets.add(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('***');
    // PEM private keys and bootstrap tokens are redacted even when nobody registered them.
    out = out.replace(
      /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g,
      '-----BEGIN $1PRIVATE KEY----- *** -----END $1PRIVATE KEY-----',
    );
    out = out.replace(/\b([a-z0-9]{6})\.[a-z0-9]{16}\b/g, '$1.***');
    return out;
  }

  write(host: string, message: string): void {
    const line = this.redact(`${new Date().toISOString()} [${host}] ${message}`);
    if (this.file) appendFileSync(this.file, line + '\n', { mode: 0o600 });
    this.echo?.(line);
  }
}

/** A log that goes nowhere, for pure tests. */
export const silentLog = (): RunLog => new RunLog(undefined);
