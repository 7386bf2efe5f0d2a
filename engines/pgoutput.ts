/**
 * A decoder of PostgreSQL's logical replication protocol as the `pgoutput` plugin writes it with
 * `proto_version '1'` (https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html),
 * and an assembler of the rows of `pg_logical_slot_peek_binary_changes` into committed transactions.
 *
 * Pure: bytes in, values out. No connection, no clock, nothing remembered between calls; the
 * caller peeks, assembles, commits what it made of the transactions, and only then advances the
 * slot (`pg_replication_slot_advance`) to the last `endLsn` it used.
 */

/** A WAL position: PostgreSQL's `pg_lsn`, an unsigned 64-bit byte offset into the WAL. */
export type Lsn = bigint;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const MAX_LSN = (1n << 64n) - 1n;

/** `'0/1529B60'` (as `pg_lsn` prints it: high and low 32 bits in hex) → its 64-bit value. */
export function parseLsn(text: string): Lsn {
  const m = LSN_TEXT.exec(text);
  if (!m)
    throw new Error(`LSN: expected two hex numbers of at most 8 digits such as 0/1529B60, got ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** The inverse of {@link parseLsn}, upper-case hex without leading zeros, as PostgreSQL prints it. */
export function formatLsn(lsn: Lsn): string {
  if (lsn < 0n || lsn > MAX_LSN) throw new RangeError(`LSN: expected 0 <= lsn < 2^64, got ${lsn}`);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** One column of a relation, in the order of the table's columns (dropped and generated ones left out). */
export interface PgColumn {
  name: string;
  typeOid: number;
  /**
   * Part of the replica identity: the primary key (identity `d`), the chosen index (`i`), or every
   * column (identity `f`, FULL). These are the columns an old key (`K`) carries.
   */
  key: boolean;
}

/** A table as a Relation (`R`) message describes it. */
export interface PgRelation {
  /** The table's oid. */
  id: number;
  schema: string;
  table: string;
  /** `d` default (primary key), `n` nothing, `f` full, `i` index. */
  replicaIdentity: string;
  columns: PgColumn[];
}

/** One column of a TupleData: SQL NULL, an unchanged TOAST value PostgreSQL did not send, or text. */
export type PgValue = { kind: 'null' } | { kind: 'toast' } | { kind: 'text'; text: string };

/** One decoded pgoutput message. */
export type PgMessage =
  | { type: 'begin'; finalLsn: Lsn; xid: number; commitTime: Date }
  | { type: 'commit'; commitLsn: Lsn; endLsn: Lsn; commitTime: Date }
  | { type: 'relation'; relation: PgRelation }
  | { type: 'insert'; relationId: number; newTuple: PgValue[] }
  | { type: 'update'; relationId: number; oldKey?: PgValue[]; oldTuple?: PgValue[]; newTuple: PgValue[] }
  | { type: 'delete'; relationId: number; oldKey?: PgValue[]; oldTuple?: PgValue[] }
  | { type: 'truncate'; relationIds: number[] }
  /** Type (`Y`), Origin (`O`) and logical decoding message (`M`): nothing the intake uses. */
  | { type: 'other'; tag: string };

/** A pgoutput message (or a sequence of them) that cannot be what PostgreSQL sent. */
export class PgOutputError extends Error {
  override readonly name = 'PgOutputError';
  constructor(
    message: string,
    /** The message's tag (`B`, `I`, ...), when the error is about one message. */
    readonly tag?: string,
    /** The byte offset in the message where decoding failed. */
    readonly offset?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const TAG_NAMES: Record<string, string> = {
  B: 'Begin',
  C: 'Commit',
  R: 'Relation',
  Y: 'Type',
  O: 'Origin',
  I: 'Insert',
  U: 'Update',
  D: 'Delete',
  T: 'Truncate',
  M: 'Message',
};

/** 2000-01-01T00:00:00Z, PostgreSQL's epoch for timestamps, in Unix milliseconds. */
const PG_EPOCH_MS = 946_684_800_000;

// fatal: the slot returns the server's bytes with no encoding conversion (the result is bytea), so a
// database in LATIN1 would give bytes that are not UTF-8; fail rather than turn them into U+FFFD.
// ignoreBOM: a text value that starts with U+FEFF is data; the default would strip it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads one message front to back; every read names what it reads, for the error. */
class Reader {
  #buf: Buffer;
  #tag: string;
  #offset = 1; // after the tag byte

  constructor(buf: Buffer, tag: string) {
    this.#buf = buf;
    this.#tag = tag;
  }

  fail(what: string, at = this.#offset): never {
    throw new PgOutputError(
      `pgoutput ${TAG_NAMES[this.#tag] ?? '?'} (${this.#tag}) message: ${what} at offset ${at} (message is ${this.#buf.length} bytes)`,
      this.#tag,
      at,
    );
  }

  #take(n: number, field: string): number {
    const at = this.#offset;
    if (at + n > this.#buf.length) this.fail(`expected ${n} bytes of ${field}, got ${this.#buf.length - at}`);
    this.#offset += n;
    return at;
  }

  byte(field: string): string {
    return String.fromCharCode(this.#buf[this.#take(1, field)]);
  }
  int8(field: string): number {
    return this.#buf.readInt8(this.#take(1, field));
  }
  /** Column counts: PostgreSQL's int16, never negative (at most 1664 columns). */
  uint16(field: string): number {
    return this.#buf.readUInt16BE(this.#take(2, field));
  }
  int32(field: string): number {
    return this.#buf.readInt32BE(this.#take(4, field));
  }
  /** Oids and transaction ids are unsigned 32-bit in PostgreSQL; read signed, those above 2^31 would be negative. */
  uint32(field: string): number {
    return this.#buf.readUInt32BE(this.#take(4, field));
  }
  /** LSNs are unsigned 64-bit. */
  lsn(field: string): Lsn {
    return this.#buf.readBigUInt64BE(this.#take(8, field));
  }
  /** A TimestampTz: signed microseconds since 2000-01-01, kept to the millisecond. */
  timestamp(field: string): Date {
    const us = this.#buf.readBigInt64BE(this.#take(8, field));
    // BigInt division truncates toward zero; floor it so times before 2000 land on the right millisecond.
    let ms = us / 1000n;
    if (us % 1000n < 0n) ms -= 1n;
    return new Date(PG_EPOCH_MS + Number(ms));
  }
  /** A NUL-terminated UTF-8 string (names of schemas, tables, columns). */
  cstring(field: string): string {
    const at = this.#offset;
    const end = this.#buf.indexOf(0, at);
    if (end < 0) this.fail(`expected ${field} ending with a NUL byte, found none`);
    this.#offset = end + 1;
    return this.#text(at, end, field);
  }
  /** `n` bytes of UTF-8 text. */
  text(n: number, field: string): string {
    const at = this.#take(n, field);
    return this.#text(at, at + n, field);
  }
  #text(start: number, end: number, field: string): string {
    try {
      return utf8.decode(this.#buf.subarray(start, end));
    } catch (cause) {
      throw new PgOutputError(
        `pgoutput ${TAG_NAMES[this.#tag]} (${this.#tag}) message: ${field} is not valid UTF-8 at offset ${start} (is the database's encoding UTF8?)`,
        this.#tag,
        start,
        { cause },
      );
    }
  }
  /** The whole message must be consumed: bytes left over mean the layout was misread. */
  end(): void {
    if (this.#offset !== this.#buf.length)
      this.fail(`${this.#buf.length - this.#offset} bytes left after the message's last field`);
  }
  get offset(): number {
    return this.#offset;
  }
}

function readTuple(r: Reader, what: string): PgValue[] {
  const n = r.uint16(`${what} column count`);
  const values: PgValue[] = [];
  for (let i = 0; i < n; i++) {
    const at = r.offset;
    const kind = r.byte(`${what} column ${i} kind`);
    if (kind === 'n') values.push({ kind: 'null' });
    else if (kind === 'u') values.push({ kind: 'toast' });
    else if (kind === 't') {
      const len = r.int32(`${what} column ${i} length`);
      if (len < 0) r.fail(`${what} column ${i} has length ${len}`, at + 1);
      values.push({ kind: 'text', text: r.text(len, `${what} column ${i} text`) });
    } else if (kind === 'b')
      r.fail(
        `${what} column ${i} is binary ('b'), which this decoder does not read: peek without the 'binary' option`,
        at,
      );
    else r.fail(`${what} column ${i} has unknown kind ${JSON.stringify(kind)}`, at);
  }
  return values;
}

/** Decodes one pgoutput (proto_version 1) message: the `data` of one row of a peek. */
export function decodeMessage(data: Buffer): PgMessage {
  if (data.length === 0) throw new PgOutputError('pgoutput message: empty, expected a tag byte at offset 0', '', 0);
  const tag = String.fromCharCode(data[0]);
  const r = new Reader(data, tag);
  let msg: PgMessage;
  switch (tag) {
    case 'B': {
      const finalLsn = r.lsn('final LSN');
      const commitTime = r.timestamp('commit timestamp');
      msg = { type: 'begin', finalLsn, commitTime, xid: r.uint32('xid') };
      break;
    }
    case 'C': {
      r.int8('flags');
      const commitLsn = r.lsn('commit LSN');
      const endLsn = r.lsn('end LSN');
      msg = { type: 'commit', commitLsn, endLsn, commitTime: r.timestamp('commit timestamp') };
      break;
    }
    case 'R': {
      const id = r.uint32('relation id');
      const schema = r.cstring('namespace');
      const table = r.cstring('relation name');
      const replicaIdentity = r.byte('replica identity');
      const n = r.uint16('column count');
      const columns: PgColumn[] = [];
      for (let i = 0; i < n; i++) {
        const flags = r.int8(`column ${i} flags`);
        const name = r.cstring(`column ${i} name`);
        const typeOid = r.uint32(`column ${i} type oid`);
        r.int32(`column ${i} type modifier`);
        columns.push({ name, typeOid, key: (flags & 1) === 1 });
      }
      msg = { type: 'relation', relation: { id, schema, table, replicaIdentity, columns } };
      break;
    }
    case 'I': {
      const relationId = r.uint32('relation id');
      const at = r.offset;
      if (r.byte('new tuple marker') !== 'N') r.fail(`expected 'N' before the new tuple`, at);
      msg = { type: 'insert', relationId, newTuple: readTuple(r, 'new tuple') };
      break;
    }
    case 'U': {
      const relationId = r.uint32('relation id');
      let at = r.offset;
      let marker = r.byte('tuple marker');
      let oldKey: PgValue[] | undefined;
      let oldTuple: PgValue[] | undefined;
      if (marker === 'K') oldKey = readTuple(r, 'old key');
      else if (marker === 'O') oldTuple = readTuple(r, 'old tuple');
      if (marker === 'K' || marker === 'O') {
        at = r.offset;
        marker = r.byte('new tuple marker');
      }
      if (marker !== 'N') r.fail(`expected 'K', 'O' or 'N' before a tuple, got ${JSON.stringify(marker)}`, at);
      const newTuple = readTuple(r, 'new tuple');
      msg = { type: 'update', relationId, newTuple };
      if (oldKey) msg.oldKey = oldKey;
      if (oldTuple) msg.oldTuple = oldTuple;
      break;
    }
    case 'D': {
      const relationId = r.uint32('relation id');
      const at = r.offset;
      const marker = r.byte('tuple marker');
      msg = { type: 'delete', relationId };
      if (marker === 'K') msg.oldKey = readTuple(r, 'old key');
      else if (marker === 'O') msg.oldTuple = readTuple(r, 'old tuple');
      else r.fail(`expected 'K' or 'O' before the old tuple, got ${JSON.stringify(marker)}`, at);
      break;
    }
    case 'T': {
      const n = r.int32('relation count');
      if (n < 0) r.fail(`relation count is ${n}`, 1);
      r.int8('options');
      const relationIds: number[] = [];
      for (let i = 0; i < n; i++) relationIds.push(r.uint32(`relation id ${i}`));
      msg = { type: 'truncate', relationIds };
      break;
    }
    case 'Y':
    case 'O':
    case 'M':
      // Not read further: the intake needs none of their fields, so nothing is checked either.
      return { type: 'other', tag };
    default:
      // Stream (S, E, c, A) and two-phase messages come only with proto_version 2 and later or with
      // options we never set; taking one for something else would lose changes silently.
      throw new PgOutputError(
        `pgoutput message: unknown tag ${JSON.stringify(tag)} (0x${data[0].toString(16).padStart(2, '0')}) at offset 0; expected one of ${Object.keys(TAG_NAMES).join(', ')} (proto_version 1)`,
        tag,
        0,
      );
  }
  r.end();
  return msg;
}

/** One change of a committed transaction, its row as column name -> text (null for SQL NULL). */
export interface PgChange {
  op: 'insert' | 'update' | 'delete';
  schema: string;
  table: string;
  /**
   * The new row (insert, update) or the old row (delete): with an old key only (`K`, replica
   * identity default or index), just the key columns, since PostgreSQL sends the others as NULL
   * whatever they held. Unchanged TOAST values are filled from the old tuple when it has them
   * (replica identity FULL); otherwise they are absent here (not null: their value is unknown, not
   * NULL) and listed in `unchangedToast`.
   */
  row: Record<string, string | null>;
  /**
   * Update only, when PostgreSQL sent the old row or key: the key columns before the update. Sent
   * with an old key (`K`) only when the key changed, and always with replica identity FULL (where
   * every column is a key column). A consumer keyed by the primary key deletes this key when it
   * differs from the new row's.
   */
  oldKey?: Record<string, string | null>;
  /** Every column of the relation -> its type oid. */
  types: Record<string, number>;
  /** Columns whose value PostgreSQL did not send (see `row`). */
  unchangedToast: string[];
  /** The LSN of this change's row in the peek result. */
  lsn: Lsn;
}

/** A committed transaction, in commit order. */
export interface PgTransaction {
  xid: number;
  /** The LSN of the commit record. */
  commitLsn: Lsn;
  /** The LSN just after the commit record: where the slot may be advanced to once this transaction is used. */
  endLsn: Lsn;
  commitTime: Date;
  changes: PgChange[];
  /** `schema.table` of each table TRUNCATEd, in the order of the Truncate messages. */
  truncated: string[];
}

interface Open {
  xid: number;
  changes: PgChange[];
  truncated: string[];
  rows: number;
}

/** Builds a `Record` with `Object.fromEntries`, which defines own properties: a column named `__proto__` stays a column. */
function record<T>(entries: [string, T][]): Record<string, T> {
  return Object.fromEntries(entries);
}

function change(
  op: PgChange['op'],
  rel: PgRelation,
  lsn: Lsn,
  values: PgValue[],
  keyOnly: boolean,
  fill: PgValue[] | undefined,
): PgChange {
  const entries: [string, string | null][] = [];
  const unchangedToast: string[] = [];
  rel.columns.forEach((col, i) => {
    if (keyOnly && !col.key) return;
    let v = values[i];
    if (v.kind === 'toast' && fill) v = fill[i];
    if (v.kind === 'toast') unchangedToast.push(col.name);
    else entries.push([col.name, v.kind === 'null' ? null : v.text]);
  });
  return {
    op,
    schema: rel.schema,
    table: rel.table,
    row: record(entries),
    types: record(rel.columns.map((c) => [c.name, c.typeOid])),
    unchangedToast,
    lsn,
  };
}

/** The key columns of an old key or old tuple (unchanged TOAST values in it, never seen in practice, left out). */
function keyOf(rel: PgRelation, values: PgValue[]): Record<string, string | null> {
  const entries: [string, string | null][] = [];
  rel.columns.forEach((col, i) => {
    const v = values[i];
    if (col.key && v.kind !== 'toast') entries.push([col.name, v.kind === 'null' ? null : v.text]);
  });
  return record(entries);
}

/**
 * Assembles peek rows (in order) into whole committed transactions. Relations are learnt from R
 * messages in the same rows (pgoutput re-sends them at each decoding call); a change of a relation
 * not seen is an error (PgOutputError). Rows of a transaction whose COMMIT is not among the rows
 * (the peek was cut) are counted in `incompleteRows`, not returned as a transaction.
 */
export function assembleTransactions(rows: { lsn: string; data: Buffer }[]): {
  transactions: PgTransaction[];
  incompleteRows: number;
} {
  const relations = new Map<number, PgRelation>();
  const transactions: PgTransaction[] = [];
  let open: Open | undefined;

  rows.forEach((row, index) => {
    const at = `peek row ${index} (lsn ${row.lsn})`;
    const fail = (what: string): never => {
      throw new PgOutputError(`${at}: ${what}`);
    };
    let msg: PgMessage;
    try {
      msg = decodeMessage(row.data);
    } catch (cause) {
      throw cause instanceof PgOutputError
        ? new PgOutputError(`${at}: ${cause.message}`, cause.tag, cause.offset, { cause })
        : cause;
    }
    const lsn = parseLsn(row.lsn);
    if (open) open.rows++;

    const relationOf = (id: number, values: PgValue[][]): PgRelation => {
      const rel = relations.get(id) ?? fail(`${msg.type} of relation ${id}, which no Relation (R) message described`);
      for (const v of values)
        if (v.length !== rel.columns.length)
          fail(
            `${msg.type} of ${rel.schema}.${rel.table} has ${v.length} columns, its Relation message ${rel.columns.length}`,
          );
      return rel;
    };
    const inTransaction = (): Open => open ?? fail(`${msg.type} outside a transaction (no Begin before it)`);

    switch (msg.type) {
      case 'begin':
        if (open) fail(`Begin of xid ${msg.xid} inside the open transaction ${open.xid}`);
        open = { xid: msg.xid, changes: [], truncated: [], rows: 1 };
        break;
      case 'commit': {
        const t = inTransaction();
        transactions.push({
          xid: t.xid,
          commitLsn: msg.commitLsn,
          endLsn: msg.endLsn,
          commitTime: msg.commitTime,
          changes: t.changes,
          truncated: t.truncated,
        });
        open = undefined;
        break;
      }
      case 'relation':
        // A later R for the same id (after ALTER TABLE) replaces the earlier one for the changes after it.
        relations.set(msg.relation.id, msg.relation);
        break;
      case 'insert': {
        const t = inTransaction();
        const rel = relationOf(msg.relationId, [msg.newTuple]);
        t.changes.push(change('insert', rel, lsn, msg.newTuple, false, undefined));
        break;
      }
      case 'update': {
        const t = inTransaction();
        const old = msg.oldTuple ?? msg.oldKey;
        const rel = relationOf(msg.relationId, old ? [old, msg.newTuple] : [msg.newTuple]);
        // Fill unchanged TOAST only from a whole old tuple (O): an old key (K) has NULL for every
        // non-key column, and filling from it would turn an unsent value into a false NULL.
        const c = change('update', rel, lsn, msg.newTuple, false, msg.oldTuple);
        if (old) c.oldKey = keyOf(rel, old);
        t.changes.push(c);
        break;
      }
      case 'delete': {
        const t = inTransaction();
        const old = msg.oldTuple ?? msg.oldKey ?? fail('Delete without an old key or tuple');
        const rel = relationOf(msg.relationId, [old]);
        t.changes.push(change('delete', rel, lsn, old, msg.oldTuple === undefined, undefined));
        break;
      }
      case 'truncate': {
        const t = inTransaction();
        for (const id of msg.relationIds) {
          const rel = relationOf(id, []);
          t.truncated.push(`${rel.schema}.${rel.table}`);
        }
        break;
      }
      case 'other':
        break;
    }
  });

  return { transactions, incompleteRows: open?.rows ?? 0 };
}
