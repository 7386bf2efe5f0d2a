import fc from 'fast-check';
import {
  assembleTransactions,
  decodeMessage,
  formatLsn,
  parseLsn,
  PgOutputError,
  type PgChange,
  type PgMessage,
  type PgTransaction,
} from '../../../engines/pgoutput';

// ---- A test-only encoder of pgoutput messages, written from the protocol documentation. ----

const TOAST = Symbol('unchanged TOAST');
type Val = string | null | typeof TOAST | { binary: Buffer };

const cat = (...parts: Buffer[]) => Buffer.concat(parts);
const ch = (c: string) => Buffer.from(c, 'latin1');
const int8 = (n: number) => Buffer.from([n & 0xff]);
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const uint32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const uint64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const int64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
};
const cstr = (s: string) => cat(Buffer.from(s, 'utf8'), int8(0));
/** PostgreSQL timestamps: µs since 2000-01-01T00:00:00Z. */
const PG_EPOCH = Date.UTC(2000, 0, 1);
const ts = (d: Date) => int64(BigInt(d.getTime() - PG_EPOCH) * 1000n);

const tuple = (values: Val[]) =>
  cat(
    int16(values.length),
    ...values.map((v) => {
      if (v === null) return ch('n');
      if (v === TOAST) return ch('u');
      if (typeof v === 'string') {
        const bytes = Buffer.from(v, 'utf8');
        return cat(ch('t'), int32(bytes.length), bytes);
      }
      return cat(ch('b'), int32(v.binary.length), v.binary);
    }),
  );

const enc = {
  begin: (finalLsn: bigint, time: Date, xid: number) => cat(ch('B'), uint64(finalLsn), ts(time), uint32(xid)),
  commit: (commitLsn: bigint, endLsn: bigint, time: Date) =>
    cat(ch('C'), int8(0), uint64(commitLsn), uint64(endLsn), ts(time)),
  relation: (id: number, schema: string, table: string, ident: string, cols: [string, number, boolean][]) =>
    cat(
      ch('R'),
      uint32(id),
      cstr(schema),
      cstr(table),
      ch(ident),
      int16(cols.length),
      ...cols.map(([name, oid, key]) => cat(int8(key ? 1 : 0), cstr(name), uint32(oid), int32(-1))),
    ),
  insert: (rel: number, values: Val[]) => cat(ch('I'), uint32(rel), ch('N'), tuple(values)),
  update: (rel: number, old: { key?: Val[]; tuple?: Val[] }, values: Val[]) =>
    cat(
      ch('U'),
      uint32(rel),
      ...(old.key ? [ch('K'), tuple(old.key)] : []),
      ...(old.tuple ? [ch('O'), tuple(old.tuple)] : []),
      ch('N'),
      tuple(values),
    ),
  delete: (rel: number, old: { key: Val[] } | { tuple: Val[] }) =>
    cat(ch('D'), uint32(rel), 'key' in old ? cat(ch('K'), tuple(old.key)) : cat(ch('O'), tuple(old.tuple))),
  truncate: (rels: number[], options = 0) => cat(ch('T'), int32(rels.length), int8(options), ...rels.map(uint32)),
  type: (oid: number, schema: string, name: string) => cat(ch('Y'), uint32(oid), cstr(schema), cstr(name)),
  origin: (lsn: bigint, name: string) => cat(ch('O'), uint64(lsn), cstr(name)),
  message: (prefix: string, content: string) =>
    cat(ch('M'), int8(1), uint64(0x10n), cstr(prefix), int32(Buffer.byteLength(content)), Buffer.from(content)),
};

const TEXT = 25;
const INT4 = 23;
const T1 = new Date('2026-03-04T05:06:07.891Z');

/** Table 16384 public.items: primary key (region, id), replica identity default. */
const ITEMS = enc.relation(16384, 'public', 'items', 'd', [
  ['region', TEXT, true],
  ['id', INT4, true],
  ['note', TEXT, false],
  ['doc', TEXT, false],
]);
/** Table 16390 app.docs, replica identity FULL: every column flagged as key, as PostgreSQL does. */
const DOCS = enc.relation(16390, 'app', 'docs', 'f', [
  ['id', INT4, true],
  ['body', TEXT, true],
]);

/** Peek rows with made-up LSNs, one apart. */
const rowsOf = (...messages: Buffer[]) => messages.map((data, i) => ({ lsn: formatLsn(0x1000n + BigInt(i)), data }));

/** Calls `f` and returns what it threw (failing the test when it did not throw). */
function thrown(f: () => unknown): PgOutputError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PgOutputError);
    return e as PgOutputError;
  }
  throw new Error('expected a PgOutputError, nothing was thrown');
}

// ---- LSN ----

describe('parseLsn / formatLsn', () => {
  it('reads the high and low 32 bits as PostgreSQL prints them', () => {
    expect(parseLsn('0/1529B60')).toBe(0x1529b60n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(parseLsn('ffffffff/ffffffff')).toBe((1n << 64n) - 1n);
    expect(formatLsn(0x1529b60n)).toBe('0/1529B60');
    expect(formatLsn((0x16n << 32n) | 0xb374d848n)).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
  });

  it.each(['', '0/', '/1', '0', '1/2/3', ' 0/1', '0/1529B60 ', 'G/1', '123456789/0', '0/123456789', '0x0/1', '-1/0'])(
    'refuses the malformed LSN %j, naming it',
    (text) => {
      expect(() => parseLsn(text)).toThrow(`got ${JSON.stringify(text)}`);
    },
  );

  it('refuses to format a value outside 0 .. 2^64-1', () => {
    expect(() => formatLsn(-1n)).toThrow(RangeError);
    expect(() => formatLsn(1n << 64n)).toThrow(RangeError);
  });

  it('round-trips every 64-bit value, in upper-case hex without leading zeros', () => {
    let highSet = 0;
    let longLow = 0;
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (lsn) => {
        const text = formatLsn(lsn);
        expect(text).toMatch(/^(0|[1-9A-F][0-9A-F]{0,7})\/(0|[1-9A-F][0-9A-F]{0,7})$/);
        expect(parseLsn(text)).toBe(lsn);
        expect(parseLsn(text.toLowerCase())).toBe(lsn);
        if (lsn >> 32n !== 0n) highSet++;
        if ((lsn & 0xffffffffn) >= 0x10000000n) longLow++;
      }),
      { numRuns: 500 },
    );
    // The generator really covers both halves, not just small values.
    expect(highSet).toBeGreaterThan(100);
    expect(longLow).toBeGreaterThan(50);
  });
});

// ---- decodeMessage ----

describe('decodeMessage', () => {
  it('decodes Begin and Commit, with timestamps from the 2000-01-01 epoch', () => {
    expect(decodeMessage(enc.begin(0x1529b60n, T1, 4_000_000_000))).toEqual({
      type: 'begin',
      finalLsn: 0x1529b60n,
      xid: 4_000_000_000, // above 2^31: a TransactionId is unsigned
      commitTime: T1,
    });
    expect(decodeMessage(enc.commit(0x1529b60n, 0x1529b90n, T1))).toEqual({
      type: 'commit',
      commitLsn: 0x1529b60n,
      endLsn: 0x1529b90n,
      commitTime: T1,
    });
  });

  it('turns microseconds into the millisecond they fall in, before and after 2000', () => {
    const at = (us: bigint) =>
      (decodeMessage(cat(ch('B'), uint64(0n), int64(us), uint32(1))) as { commitTime: Date }).commitTime;
    expect(at(0n).toISOString()).toBe('2000-01-01T00:00:00.000Z');
    expect(at(1999n).toISOString()).toBe('2000-01-01T00:00:00.001Z');
    expect(at(-1n).toISOString()).toBe('1999-12-31T23:59:59.999Z');
    expect(at(-1000n).toISOString()).toBe('1999-12-31T23:59:59.999Z');
    expect(at(-1001n).toISOString()).toBe('1999-12-31T23:59:59.998Z');
  });

  it('decodes a Relation: names, replica identity, types and key flags', () => {
    expect(decodeMessage(ITEMS)).toEqual({
      type: 'relation',
      relation: {
        id: 16384,
        schema: 'public',
        table: 'items',
        replicaIdentity: 'd',
        columns: [
          { name: 'region', typeOid: TEXT, key: true },
          { name: 'id', typeOid: INT4, key: true },
          { name: 'note', typeOid: TEXT, key: false },
          { name: 'doc', typeOid: TEXT, key: false },
        ],
      },
    });
    const named = enc.relation(3_000_000_000, 'sché', 'tàble ✓', 'i', [['çol', 3_000_000_001, true]]);
    expect(decodeMessage(named)).toEqual({
      type: 'relation',
      relation: {
        id: 3_000_000_000,
        schema: 'sché',
        table: 'tàble ✓',
        replicaIdentity: 'i',
        columns: [{ name: 'çol', typeOid: 3_000_000_001, key: true }],
      },
    });
  });

  it('decodes an Insert with null, unchanged TOAST, empty and multi-byte UTF-8 text', () => {
    expect(decodeMessage(enc.insert(16384, [null, TOAST, '', 'café ✓ 日本 🚀 "q" \'s\'\n\t\\']))).toEqual({
      type: 'insert',
      relationId: 16384,
      newTuple: [
        { kind: 'null' },
        { kind: 'toast' },
        { kind: 'text', text: '' },
        { kind: 'text', text: 'café ✓ 日本 🚀 "q" \'s\'\n\t\\' },
      ],
    });
  });

  it('keeps a leading byte-order mark and NUL bytes inside a text value', () => {
    const m = decodeMessage(enc.insert(1, ['\uFEFFbom', 'a\u0000b'])) as Extract<PgMessage, { type: 'insert' }>;
    expect(m.newTuple).toEqual([
      { kind: 'text', text: '\uFEFFbom' },
      { kind: 'text', text: 'a\u0000b' },
    ]);
  });

  it('decodes an Update without old values, with an old key (K) and with an old tuple (O)', () => {
    expect(decodeMessage(enc.update(16384, {}, ['eu', '1', 'n', TOAST]))).toEqual({
      type: 'update',
      relationId: 16384,
      newTuple: [
        { kind: 'text', text: 'eu' },
        { kind: 'text', text: '1' },
        { kind: 'text', text: 'n' },
        { kind: 'toast' },
      ],
    });
    expect(decodeMessage(enc.update(16384, { key: ['eu', '1', null, null] }, ['eu', '2', null, 'd']))).toEqual({
      type: 'update',
      relationId: 16384,
      oldKey: [{ kind: 'text', text: 'eu' }, { kind: 'text', text: '1' }, { kind: 'null' }, { kind: 'null' }],
      newTuple: [
        { kind: 'text', text: 'eu' },
        { kind: 'text', text: '2' },
        { kind: 'null' },
        { kind: 'text', text: 'd' },
      ],
    });
    expect(decodeMessage(enc.update(16390, { tuple: ['7', 'long'] }, ['7', TOAST]))).toEqual({
      type: 'update',
      relationId: 16390,
      oldTuple: [
        { kind: 'text', text: '7' },
        { kind: 'text', text: 'long' },
      ],
      newTuple: [{ kind: 'text', text: '7' }, { kind: 'toast' }],
    });
  });

  it('decodes a Delete with an old key (K) and with an old tuple (O)', () => {
    expect(decodeMessage(enc.delete(16384, { key: ['eu', '1', null, null] }))).toEqual({
      type: 'delete',
      relationId: 16384,
      oldKey: [{ kind: 'text', text: 'eu' }, { kind: 'text', text: '1' }, { kind: 'null' }, { kind: 'null' }],
    });
    expect(decodeMessage(enc.delete(16390, { tuple: ['7', 'x'] }))).toEqual({
      type: 'delete',
      relationId: 16390,
      oldTuple: [
        { kind: 'text', text: '7' },
        { kind: 'text', text: 'x' },
      ],
    });
  });

  it('decodes a Truncate of several relations (options: CASCADE | RESTART IDENTITY)', () => {
    expect(decodeMessage(enc.truncate([16384, 16390, 4_000_000_000], 3))).toEqual({
      type: 'truncate',
      relationIds: [16384, 16390, 4_000_000_000],
    });
  });

  it('returns Type, Origin and logical decoding messages as "other"', () => {
    expect(decodeMessage(enc.type(16425, 'public', 'mood'))).toEqual({ type: 'other', tag: 'Y' });
    expect(decodeMessage(enc.origin(0x99n, 'upstream'))).toEqual({ type: 'other', tag: 'O' });
    expect(decodeMessage(enc.message('sluice', 'hello'))).toEqual({ type: 'other', tag: 'M' });
  });

  it.each([
    ['Z', 'Z'],
    ['S', 'S'], // Stream Start: proto_version 2 only
    ['\u0000', '\u0000'],
  ])('refuses the unknown tag %j, naming it and offset 0', (tag, expected) => {
    const e = thrown(() => decodeMessage(cat(ch(tag), uint32(1))));
    expect(e.tag).toBe(expected);
    expect(e.offset).toBe(0);
    expect(e.message).toContain(`unknown tag ${JSON.stringify(expected)}`);
    expect(e.message).toContain('at offset 0');
  });

  it('refuses an empty buffer', () => {
    expect(thrown(() => decodeMessage(Buffer.alloc(0))).message).toContain('empty');
  });

  it('names the tag, field and offset where a short buffer ends', () => {
    const begin = thrown(() => decodeMessage(enc.begin(1n, T1, 2).subarray(0, 5)));
    expect(begin.tag).toBe('B');
    expect(begin.offset).toBe(1);
    expect(begin.message).toBe(
      'pgoutput Begin (B) message: expected 8 bytes of final LSN, got 4 at offset 1 (message is 5 bytes)',
    );
    // Insert: tag 1 + relid 4 + 'N' 1 + ncols 2 = 8, then column 0: kind 1, length 4, 'hello' 5: cut after 'hel'.
    const insert = thrown(() => decodeMessage(enc.insert(16384, ['hello']).subarray(0, 16)));
    expect(insert.offset).toBe(13);
    expect(insert.message).toContain('expected 5 bytes of new tuple column 0 text, got 3 at offset 13');
    const name = thrown(() => decodeMessage(ITEMS.subarray(0, 8)));
    expect(name.message).toContain('expected namespace ending with a NUL byte, found none at offset 5');
  });

  it('refuses every strict prefix of every message it reads, and a byte left over after it', () => {
    const messages = [
      enc.begin(1n, T1, 2),
      enc.commit(1n, 2n, T1),
      ITEMS,
      DOCS,
      enc.insert(16384, ['eu', null, TOAST, 'é']),
      enc.update(16384, { key: ['eu', '1', null, null] }, ['eu', '2', 'x', TOAST]),
      enc.update(16390, { tuple: ['1', 'a'] }, ['1', TOAST]),
      enc.update(16390, {}, ['1', 'b']),
      enc.delete(16384, { key: ['eu', '1', null, null] }),
      enc.delete(16390, { tuple: ['1', 'a'] }),
      enc.truncate([1, 2]),
    ];
    let checked = 0;
    for (const m of messages) {
      for (let n = 0; n < m.length; n++) {
        const e = thrown(() => decodeMessage(m.subarray(0, n)));
        expect(e.offset).toBeLessThanOrEqual(n);
        checked++;
      }
      const extra = thrown(() => decodeMessage(cat(m, int8(0))));
      expect(extra.message).toContain("1 bytes left after the message's last field");
    }
    expect(checked).toBeGreaterThan(300);
  });

  it('refuses a binary column value, saying why', () => {
    const e = thrown(() => decodeMessage(enc.insert(1, ['a', { binary: Buffer.from([1, 2]) }])));
    expect(e.offset).toBe(14);
    expect(e.message).toContain("new tuple column 1 is binary ('b')");
  });

  it('refuses an unknown column kind, a bad tuple marker and a negative length', () => {
    const kind = cat(ch('I'), uint32(1), ch('N'), int16(1), ch('x'));
    expect(thrown(() => decodeMessage(kind)).message).toContain('new tuple column 0 has unknown kind "x" at offset 8');
    const marker = cat(ch('U'), uint32(1), ch('Q'), tuple(['a']));
    expect(thrown(() => decodeMessage(marker)).message).toContain(`expected 'K', 'O' or 'N' before a tuple, got "Q"`);
    const del = cat(ch('D'), uint32(1), ch('N'), tuple(['a']));
    expect(thrown(() => decodeMessage(del)).message).toContain(`expected 'K' or 'O' before the old tuple, got "N"`);
    const negative = cat(ch('I'), uint32(1), ch('N'), int16(1), ch('t'), int32(-2));
    expect(thrown(() => decodeMessage(negative)).message).toContain('new tuple column 0 has length -2');
  });

  it('refuses text that is not UTF-8 (a database in another encoding)', () => {
    const latin1 = cat(ch('I'), uint32(1), ch('N'), int16(1), ch('t'), int32(4), Buffer.from('café', 'latin1'));
    const e = thrown(() => decodeMessage(latin1));
    expect(e.offset).toBe(13);
    expect(e.message).toContain('new tuple column 0 text is not valid UTF-8 at offset 13');
  });
});

// ---- assembleTransactions ----

/** The one change of the one transaction the rows make. */
function onlyChange(...messages: Buffer[]): PgChange {
  const { transactions, incompleteRows } = assembleTransactions(
    rowsOf(enc.begin(0x50n, T1, 9), ITEMS, DOCS, ...messages, enc.commit(0x50n, 0x60n, T1)),
  );
  expect(incompleteRows).toBe(0);
  expect(transactions).toHaveLength(1);
  expect(transactions[0].changes).toHaveLength(1);
  return transactions[0].changes[0];
}

const ITEM_TYPES = { region: TEXT, id: INT4, note: TEXT, doc: TEXT };

describe('assembleTransactions', () => {
  it('assembles a transaction: ids, LSNs, times, rows with their types and the LSN of each row', () => {
    const rows = rowsOf(
      enc.begin(0x2000n, T1, 77),
      enc.type(16425, 'public', 'mood'),
      ITEMS,
      enc.insert(16384, ['eu', '1', 'héllo ✓', null]),
      enc.insert(16384, ['us', '2', null, 'x']),
      enc.commit(0x2000n, 0x2030n, T1),
    );
    expect(assembleTransactions(rows)).toEqual({
      incompleteRows: 0,
      transactions: [
        {
          xid: 77,
          commitLsn: 0x2000n,
          endLsn: 0x2030n,
          commitTime: T1,
          truncated: [],
          changes: [
            {
              op: 'insert',
              schema: 'public',
              table: 'items',
              row: { region: 'eu', id: '1', note: 'héllo ✓', doc: null },
              types: ITEM_TYPES,
              unchangedToast: [],
              lsn: 0x1003n,
            },
            {
              op: 'insert',
              schema: 'public',
              table: 'items',
              row: { region: 'us', id: '2', note: null, doc: 'x' },
              types: ITEM_TYPES,
              unchangedToast: [],
              lsn: 0x1004n,
            },
          ],
        },
      ],
    });
  });

  it('fills an unchanged TOAST value from the old tuple (replica identity FULL)', () => {
    const c = onlyChange(enc.update(16390, { tuple: ['7', 'a long body'] }, ['7', TOAST]));
    expect(c).toMatchObject({ op: 'update', schema: 'app', table: 'docs', unchangedToast: [] });
    expect(c.row).toEqual({ id: '7', body: 'a long body' });
    expect(c.oldKey).toEqual({ id: '7', body: 'a long body' });
  });

  it('leaves an unchanged TOAST value out of the row and lists it when there is no old tuple', () => {
    const c = onlyChange(enc.update(16384, {}, ['eu', '1', 'new note', TOAST]));
    expect(c.row).toEqual({ region: 'eu', id: '1', note: 'new note' });
    expect('doc' in c.row).toBe(false);
    expect(c.unchangedToast).toEqual(['doc']);
    expect(c.oldKey).toBeUndefined();
    expect(c.types).toEqual(ITEM_TYPES);
  });

  it('does not fill TOAST from an old key, whose non-key columns are NULL, and reports the old key', () => {
    const c = onlyChange(enc.update(16384, { key: ['eu', '1', null, null] }, ['eu', '2', 'n', TOAST]));
    expect(c.row).toEqual({ region: 'eu', id: '2', note: 'n' });
    expect(c.unchangedToast).toEqual(['doc']);
    expect(c.oldKey).toEqual({ region: 'eu', id: '1' });
  });

  it('gives a delete with an old key only the key columns', () => {
    const c = onlyChange(enc.delete(16384, { key: ['eu', '1', null, null] }));
    expect(c).toMatchObject({ op: 'delete', schema: 'public', table: 'items', unchangedToast: [] });
    expect(c.row).toEqual({ region: 'eu', id: '1' });
    expect(c.types).toEqual(ITEM_TYPES);
  });

  it('gives a delete with an old tuple the whole old row', () => {
    expect(onlyChange(enc.delete(16390, { tuple: ['7', null] })).row).toEqual({ id: '7', body: null });
  });

  it('lists the tables of a TRUNCATE as schema.table', () => {
    const { transactions } = assembleTransactions(
      rowsOf(enc.begin(1n, T1, 5), ITEMS, DOCS, enc.truncate([16390, 16384]), enc.commit(1n, 2n, T1)),
    );
    expect(transactions.map((t) => [t.changes, t.truncated])).toEqual([[[], ['app.docs', 'public.items']]]);
  });

  it('keeps a column named __proto__ as a column', () => {
    const rel = enc.relation(5, 'public', 'odd', 'd', [
      ['__proto__', TEXT, true],
      ['constructor', TEXT, false],
    ]);
    const { transactions } = assembleTransactions(
      rowsOf(enc.begin(1n, T1, 5), rel, enc.insert(5, ['p', 'c']), enc.commit(1n, 2n, T1)),
    );
    const { row, types } = transactions[0].changes[0];
    expect(Object.keys(row)).toEqual(['__proto__', 'constructor']);
    expect(row['__proto__']).toBe('p');
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.keys(types)).toEqual(['__proto__', 'constructor']);
  });

  it('uses the latest Relation message for the changes after it (ALTER TABLE mid-stream)', () => {
    const wider = enc.relation(16390, 'app', 'docs', 'f', [
      ['id', INT4, true],
      ['body', TEXT, true],
      ['extra', INT4, true],
    ]);
    const { transactions } = assembleTransactions(
      rowsOf(
        enc.begin(1n, T1, 5),
        DOCS,
        enc.insert(16390, ['1', 'a']),
        wider,
        enc.insert(16390, ['2', 'b', '3']),
        enc.commit(1n, 2n, T1),
      ),
    );
    expect(transactions[0].changes.map((c) => c.row)).toEqual([
      { id: '1', body: 'a' },
      { id: '2', body: 'b', extra: '3' },
    ]);
  });

  it('counts the rows of a transaction cut before its COMMIT, and returns the ones before it', () => {
    const rows = rowsOf(
      enc.begin(0x10n, T1, 1),
      ITEMS,
      enc.insert(16384, ['eu', '1', null, null]),
      enc.commit(0x10n, 0x18n, T1),
      enc.begin(0x20n, T1, 2),
      ITEMS,
      enc.insert(16384, ['eu', '2', null, null]),
      enc.insert(16384, ['eu', '3', null, null]),
    );
    const { transactions, incompleteRows } = assembleTransactions(rows);
    expect(transactions.map((t) => [t.xid, t.endLsn])).toEqual([[1, 0x18n]]);
    expect(incompleteRows).toBe(4);
    expect(assembleTransactions([])).toEqual({ transactions: [], incompleteRows: 0 });
  });

  it('refuses a change of a relation no Relation message described', () => {
    const e = thrown(() =>
      assembleTransactions(rowsOf(enc.begin(1n, T1, 1), enc.insert(99, ['x']), enc.commit(1n, 2n, T1))),
    );
    expect(e.message).toBe('peek row 1 (lsn 0/1001): insert of relation 99, which no Relation (R) message described');
    expect(() => assembleTransactions(rowsOf(enc.begin(1n, T1, 1), enc.truncate([99])))).toThrow(
      'truncate of relation 99',
    );
  });

  it('refuses a tuple whose column count is not its relation’s', () => {
    expect(() =>
      assembleTransactions(rowsOf(enc.begin(1n, T1, 1), DOCS, enc.insert(16390, ['1', 'a', 'extra']))),
    ).toThrow('insert of app.docs has 3 columns, its Relation message 2');
  });

  it('refuses changes and commits outside a transaction, and a Begin inside one', () => {
    expect(() => assembleTransactions(rowsOf(ITEMS, enc.insert(16384, ['eu', '1', null, null])))).toThrow(
      'peek row 1 (lsn 0/1001): insert outside a transaction',
    );
    expect(() => assembleTransactions(rowsOf(enc.commit(1n, 2n, T1)))).toThrow('commit outside a transaction');
    expect(() => assembleTransactions(rowsOf(enc.begin(1n, T1, 1), enc.begin(2n, T1, 2)))).toThrow(
      'Begin of xid 2 inside the open transaction 1',
    );
  });

  it('names the peek row of a message it cannot decode, keeping the decoder’s tag and offset', () => {
    const e = thrown(() => assembleTransactions(rowsOf(enc.begin(1n, T1, 1), Buffer.from('B'))));
    expect(e.message).toMatch(/^peek row 1 \(lsn 0\/1001\): pgoutput Begin \(B\) message: expected 8 bytes/);
    expect([e.tag, e.offset]).toEqual(['B', 1]);
    expect(e.cause).toBeInstanceOf(PgOutputError);
  });
});

// ---- Real bytes from PostgreSQL 15.18 ----

/**
 * `SELECT lsn, encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('helper_pgo_slot', NULL,
 * NULL, 'proto_version', '1', 'publication_names', 'helper_pgo_pub')` on PostgreSQL 15.18 (UTF8),
 * captured 2026-12-02 around 06:56Z (xids 769-774), after this script:
 *
 *   CREATE TYPE helper_pgo_mood AS ENUM ('calm', 'busy');
 *   CREATE TABLE helper_pgo_items (region text, id int, note text, qty int, mood helper_pgo_mood,
 *     doc text, PRIMARY KEY (region, id));
 *   ALTER TABLE helper_pgo_items ALTER COLUMN doc SET STORAGE EXTERNAL;
 *   CREATE TABLE helper_pgo_full (id int PRIMARY KEY, body text, n numeric);
 *   ALTER TABLE helper_pgo_full REPLICA IDENTITY FULL;
 *   ALTER TABLE helper_pgo_full ALTER COLUMN body SET STORAGE EXTERNAL;
 *   CREATE PUBLICATION helper_pgo_pub FOR TABLE helper_pgo_items, helper_pgo_full;
 *   -- before the slot: values over 2 kB, stored out of line, so updates send them as 'u'
 *   INSERT INTO helper_pgo_items VALUES ('eu', 0, 'big', 1, 'busy', repeat('doc-eu-0 ', 228));
 *   INSERT INTO helper_pgo_full VALUES (1, repeat('toast me ', 228), 1.50);
 *   SELECT pg_create_logical_replication_slot('helper_pgo_slot', 'pgoutput');
 *   BEGIN;                                                                            -- xid 769
 *   INSERT INTO helper_pgo_items VALUES
 *     ('eu', 1, E'it''s "quoted"\nline 2\ttab \\ café ✓ 日本 🚀', 3, 'calm', 'small'),
 *     ('us', 2, NULL, NULL, NULL, 'short');
 *   INSERT INTO helper_pgo_full VALUES (2, 'two', NULL);
 *   COMMIT;
 *   UPDATE helper_pgo_items SET qty = 4 WHERE region = 'eu' AND id = 0;               -- xid 770
 *   UPDATE helper_pgo_items SET id = 20, note = 'moved' WHERE region = 'us' AND id = 2; -- 771
 *   UPDATE helper_pgo_full SET n = 2.25 WHERE id = 1;                                 -- xid 772
 *   BEGIN;                                                                            -- xid 773
 *   DELETE FROM helper_pgo_items WHERE region = 'eu' AND id = 1;
 *   DELETE FROM helper_pgo_full WHERE id = 2;
 *   COMMIT;
 *   TRUNCATE helper_pgo_items;                                                        -- xid 774
 */
const PEEK: [lsn: string, hex: string][] = [
  ['0/1595A88', '420000000001595c580003049fe99d987900000301'],
  ['0/1595A88', '59000040297075626c69630068656c7065725f70676f5f6d6f6f6400'],
  [
    '0/1595A88',
    '520000402d7075626c69630068656c7065725f70676f5f6974656d730064000601726567696f6e0000000019ffffffff' +
      '0169640000000017ffffffff006e6f74650000000019ffffffff007174790000000017ffffffff006d6f6f6400000040' +
      '29ffffffff00646f630000000019ffffffff',
  ],
  [
    '0/1595A88',
    '490000402d4e000674000000026575740000000131740000003069742773202271756f746564220a6c696e6520320974' +
      '6162205c20636166c3a920e29c9320e697a5e69cac20f09f9a80740000000133740000000463616c6d7400000005736d' +
      '616c6c',
  ],
  ['0/1595B50', '490000402d4e0006740000000275737400000001326e6e6e740000000573686f7274'],
  [
    '0/1595BD8',
    '52000040347075626c69630068656c7065725f70676f5f66756c6c006600030169640000000017ffffffff01626f6479' +
      '0000000019ffffffff016e00000006a4ffffffff',
  ],
  ['0/1595BD8', '49000040344e0003740000000132740000000374776f6e'],
  ['0/1595C88', '43000000000001595c580000000001595c880003049fe99d9879'],
  ['0/1595CC0', '420000000001595d280003049fe99d9a3200000302'],
  ['0/1595CC0', '550000402d4e000674000000026575740000000130740000000362696774000000013474000000046275737975'],
  ['0/1595D58', '43000000000001595d280000000001595d580003049fe99d9a32'],
  ['0/1595D58', '420000000001595e000003049fe99da28200000303'],
  [
    '0/1595D58',
    '550000402d4b0006740000000275737400000001326e6e6e6e4e0006740000000275737400000002323074000000056d' +
      '6f7665646e6e740000000573686f7274',
  ],
  ['0/1595E30', '43000000000001595e000000000001595e300003049fe99da282'],
  ['0/1595E68', '4200000000015967000003049fe99da71100000304'],
  [
    '0/1595E68',
    '55000040344f00037400000001317400000804746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374' +
      '206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d65' +
      '20746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f617374206d6520746f' +
      '617374206d65207400000004312e35304e0003740000000131757400000004322e3235',
  ],
  ['0/1596730', '4300000000000159670000000000015967300003049fe99da711'],
  ['0/1596730', '4200000000015967c00003049fe99daa4100000305'],
  ['0/1596730', '440000402d4b0006740000000265757400000001316e6e6e6e'],
  ['0/1596778', '44000040344f0003740000000132740000000374776f6e'],
  ['0/15967F0', '430000000000015967c000000000015967f00003049fe99daa41'],
  ['0/1597600', '4200000000015976300003049fe99db4a900000306'],
  ['0/1597600', '59000040297075626c69630068656c7065725f70676f5f6d6f6f6400'],
  [
    '0/1597600',
    '520000402d7075626c69630068656c7065725f70676f5f6974656d730064000601726567696f6e0000000019ffffffff' +
      '0169640000000017ffffffff006e6f74650000000019ffffffff007174790000000017ffffffff006d6f6f6400000040' +
      '29ffffffff00646f630000000019ffffffff',
  ],
  ['0/1597600', '5400000001000000402d'],
  ['0/15977A0', '4300000000000159763000000000015977a00003049fe99db4a9'],
];
const peekRows = PEEK.map(([lsn, hex]) => ({ lsn, data: Buffer.from(hex, 'hex') }));

describe('real pgoutput bytes from PostgreSQL 15', () => {
  const ITEMS_OID = 16429;
  const FULL_OID = 16436;
  const MOOD_OID = 16425;
  const NUMERIC = 1700;
  const itemTypes = { region: TEXT, id: INT4, note: TEXT, qty: INT4, mood: MOOD_OID, doc: TEXT };
  const fullTypes = { id: INT4, body: TEXT, n: NUMERIC };
  const items = { schema: 'public', table: 'helper_pgo_items', types: itemTypes };
  const full = { schema: 'public', table: 'helper_pgo_full', types: fullTypes };
  const toastMe = 'toast me '.repeat(228);

  it('decodes every row, Relation messages included', () => {
    const tags = peekRows.map(({ data }) => decodeMessage(data).type);
    expect(tags.join(' ')).toBe(
      'begin other relation insert insert relation insert commit begin update commit begin update commit ' +
        'begin update commit begin delete delete commit begin other relation truncate commit',
    );
    expect(decodeMessage(peekRows[2].data)).toEqual({
      type: 'relation',
      relation: {
        id: ITEMS_OID,
        schema: 'public',
        table: 'helper_pgo_items',
        replicaIdentity: 'd',
        columns: [
          { name: 'region', typeOid: TEXT, key: true },
          { name: 'id', typeOid: INT4, key: true },
          { name: 'note', typeOid: TEXT, key: false },
          { name: 'qty', typeOid: INT4, key: false },
          { name: 'mood', typeOid: MOOD_OID, key: false },
          { name: 'doc', typeOid: TEXT, key: false },
        ],
      },
    });
    expect(decodeMessage(peekRows[5].data)).toMatchObject({
      relation: {
        id: FULL_OID,
        replicaIdentity: 'f',
        columns: [
          { name: 'id', key: true },
          { name: 'body', key: true },
          { name: 'n', key: true },
        ],
      },
    });
  });

  it('assembles the transactions the script committed', () => {
    const { transactions, incompleteRows } = assembleTransactions(peekRows);
    expect(incompleteRows).toBe(0);
    const strip = (t: PgTransaction) => ({ xid: t.xid, endLsn: formatLsn(t.endLsn), truncated: t.truncated });
    expect(transactions.map(strip)).toEqual([
      { xid: 769, endLsn: '0/1595C88', truncated: [] },
      { xid: 770, endLsn: '0/1595D58', truncated: [] },
      { xid: 771, endLsn: '0/1595E30', truncated: [] },
      { xid: 772, endLsn: '0/1596730', truncated: [] },
      { xid: 773, endLsn: '0/15967F0', truncated: [] },
      { xid: 774, endLsn: '0/15977A0', truncated: ['public.helper_pgo_items'] },
    ]);
    for (const [i, t] of transactions.entries()) {
      expect(t.commitLsn).toBeLessThan(t.endLsn);
      if (i > 0) expect(t.commitLsn).toBeGreaterThan(transactions[i - 1].endLsn);
      expect(t.commitTime.getTime()).toBeGreaterThanOrEqual(Date.parse('2026-12-02T06:40:00Z'));
      expect(t.commitTime.getTime()).toBeLessThanOrEqual(Date.parse('2026-12-02T06:57:00Z'));
      if (i > 0) expect(t.commitTime.getTime()).toBeGreaterThanOrEqual(transactions[i - 1].commitTime.getTime());
    }

    const changes = transactions.map((t) => t.changes);
    expect(changes).toEqual([
      [
        {
          ...items,
          op: 'insert',
          row: {
            region: 'eu',
            id: '1',
            note: 'it\'s "quoted"\nline 2\ttab \\ café ✓ 日本 🚀',
            qty: '3',
            mood: 'calm',
            doc: 'small',
          },
          unchangedToast: [],
          lsn: parseLsn('0/1595A88'),
        },
        {
          ...items,
          op: 'insert',
          row: { region: 'us', id: '2', note: null, qty: null, mood: null, doc: 'short' },
          unchangedToast: [],
          lsn: parseLsn('0/1595B50'),
        },
        {
          ...full,
          op: 'insert',
          row: { id: '2', body: 'two', n: null },
          unchangedToast: [],
          lsn: parseLsn('0/1595BD8'),
        },
      ],
      // doc was not changed and is stored out of line: PostgreSQL does not send it, and has no old row.
      [
        {
          ...items,
          op: 'update',
          row: { region: 'eu', id: '0', note: 'big', qty: '4', mood: 'busy' },
          unchangedToast: ['doc'],
          lsn: parseLsn('0/1595CC0'),
        },
      ],
      // The key changed: PostgreSQL sends the old key.
      [
        {
          ...items,
          op: 'update',
          row: { region: 'us', id: '20', note: 'moved', qty: null, mood: null, doc: 'short' },
          oldKey: { region: 'us', id: '2' },
          unchangedToast: [],
          lsn: parseLsn('0/1595D58'),
        },
      ],
      // REPLICA IDENTITY FULL: the old row comes whole, and the unsent body is taken from it.
      [
        {
          ...full,
          op: 'update',
          row: { id: '1', body: toastMe, n: '2.25' },
          oldKey: { id: '1', body: toastMe, n: '1.50' },
          unchangedToast: [],
          lsn: parseLsn('0/1595E68'),
        },
      ],
      [
        { ...items, op: 'delete', row: { region: 'eu', id: '1' }, unchangedToast: [], lsn: parseLsn('0/1596730') },
        {
          ...full,
          op: 'delete',
          row: { id: '2', body: 'two', n: null },
          unchangedToast: [],
          lsn: parseLsn('0/1596778'),
        },
      ],
      [],
    ]);
    // The raw update of xid 770 really carried doc as 'u' (not as NULL): the fill logic had something to do.
    expect(decodeMessage(peekRows[9].data)).toMatchObject({ newTuple: expect.arrayContaining([{ kind: 'toast' }]) });
    expect(decodeMessage(peekRows[15].data)).toMatchObject({ newTuple: expect.arrayContaining([{ kind: 'toast' }]) });
  });

  it('holds back the last transaction when the peek is cut before its COMMIT', () => {
    const { transactions, incompleteRows } = assembleTransactions(peekRows.slice(0, -1));
    expect(transactions.map((t) => t.xid)).toEqual([769, 770, 771, 772, 773]);
    expect(incompleteRows).toBe(4); // Begin, Type, Relation, Truncate of xid 774
  });
});
