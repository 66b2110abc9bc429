import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkSnapshot, snapshotFromStream } from './snapshot.js';

/** A database of `pages` 4 KiB pages followed by its sha256: what etcd streams. */
function snapshotBytes(pages = 3): Buffer {
  const db = Buffer.alloc(pages * 4096);
  for (let i = 0; i < db.length; i++) db[i] = (i * 31) % 251;
  return Buffer.concat([db, createHash('sha256').update(db).digest()]);
}

/** The gateway's stream as etcd 3.7 sends it: one message per line, the version in the last one. */
function gatewayStream(bytes: Buffer, chunk = 5000): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += chunk) {
    const piece = bytes.subarray(at, at + chunk);
    const remaining = String(Math.max(0, bytes.length - at - piece.length));
    const last = at + chunk >= bytes.length;
    lines.push(
      JSON.stringify({
        result: { remaining_bytes: remaining, blob: piece.toString('base64'), ...(last ? { version: '3.7.0' } : {}) },
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

describe('etcd snapshot stream', () => {
  it('joins the base64 chunks of every message into the bytes etcd sent', () => {
    const bytes = snapshotBytes();
    expect(snapshotFromStream(gatewayStream(bytes)).equals(bytes)).toBe(true);
  });

  it('does not depend on newlines between messages', () => {
    const bytes = snapshotBytes();
    expect(snapshotFromStream(gatewayStream(bytes).replace(/\n/g, '')).equals(bytes)).toBe(true);
  });

  it('throws the error etcd put in the stream', () => {
    const first = gatewayStream(snapshotBytes(), 4096).split('\n')[0];
    const text = `${first}\n{"error":{"grpc_code":14,"message":"etcdserver: no leader"}}\n`;
    expect(() => snapshotFromStream(text)).toThrow(/no leader/);
  });

  it('refuses a stream cut in the middle of a message, and one with no data', () => {
    const text = gatewayStream(snapshotBytes());
    expect(() => snapshotFromStream(text.slice(0, text.length - 40))).toThrow(/middle of a message/);
    expect(() => snapshotFromStream('')).toThrow(/no data/);
  });
});

describe('checkSnapshot', () => {
  it("accepts a snapshot whose last 32 bytes are the sha256 of the rest, and reports the file's sha256", () => {
    const bytes = snapshotBytes();
    expect(checkSnapshot(bytes)).toEqual({
      sha256: createHash('sha256').update(bytes).digest('hex'),
      dbBytes: 3 * 4096,
    });
  });

  it('refuses a truncated or altered snapshot', () => {
    const bytes = snapshotBytes();
    expect(() => checkSnapshot(bytes.subarray(0, bytes.length - 4096))).toThrow(/does not match/);
    const altered = Buffer.from(bytes);
    altered[100] ^= 1;
    expect(() => checkSnapshot(altered)).toThrow(/does not match/);
    expect(() => checkSnapshot(Buffer.alloc(10))).toThrow(/too short/);
  });
});
