import { createHash } from 'node:crypto';

/** Bytes of the sha256 etcd appends to a snapshot stream (etcdctl keeps it; etcdutl restore checks it). */
const HASH_BYTES = 32;

interface SnapshotMessage {
  result?: { blob?: string; remaining_bytes?: string; remainingBytes?: string };
  error?: { message?: string; grpc_code?: number; http_status?: number };
}

/**
 * etcd's Maintenance.Snapshot as its JSON gateway streams it: one JSON message per chunk, each carrying a base64
 * piece of the backend database; the last piece is etcd's sha256 of everything before it. Returns the bytes as
 * `etcdctl snapshot save` writes them (database, then hash). An error message in the stream is thrown.
 */
export function snapshotFromStream(text: string): Buffer {
  const chunks: Buffer[] = [];
  for (const message of jsonMessages(text)) {
    if (message.error) throw new Error(`etcd snapshot: ${message.error.message ?? JSON.stringify(message.error)}`);
    if (message.result?.blob) chunks.push(Buffer.from(message.result.blob, 'base64'));
  }
  if (chunks.length === 0) throw new Error('etcd snapshot: the stream carried no data');
  return Buffer.concat(chunks);
}

/** The gateway writes messages one after another; newlines between them are not promised, so split on depth. */
function* jsonMessages(text: string): Generator<SnapshotMessage> {
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && --depth === 0) {
      yield JSON.parse(text.slice(start, i + 1)) as SnapshotMessage;
    }
  }
  if (depth !== 0) throw new Error('etcd snapshot: the stream ended in the middle of a message');
}

export interface CheckedSnapshot {
  /** sha256 of the whole file (database and etcd's hash), what the backup manifest records. */
  sha256: string;
  /** Size of the database alone. */
  dbBytes: number;
}

/**
 * A snapshot is whole when its last 32 bytes are the sha256 of the rest (what etcd sent, and what `etcdutl
 * snapshot restore` verifies); a truncated or altered file is refused with the reason.
 */
export function checkSnapshot(snapshot: Buffer): CheckedSnapshot {
  if (snapshot.length <= HASH_BYTES) throw new Error(`etcd snapshot of ${snapshot.length} bytes is too short`);
  const db = snapshot.subarray(0, snapshot.length - HASH_BYTES);
  const expected = snapshot.subarray(snapshot.length - HASH_BYTES);
  const actual = createHash('sha256').update(db).digest();
  if (!actual.equals(expected)) {
    throw new Error('etcd snapshot does not match the sha256 etcd appended to it (truncated or altered)');
  }
  return { sha256: createHash('sha256').update(snapshot).digest('hex'), dbBytes: db.length };
}
