/**
 * The consistency check's semantics, run for real in DuckDB over Parquet fixtures written by each
 * test. Every expected figure is what the test injected into its fixture.
 */
import * as fs from 'node:fs';
import { checkParquet, type LocalCheckInput } from '../../../engines/consistency-check';
import { CheckInputError, type CheckReport } from '../../../lib/consistency';
import { fixtureDir, type Columns } from './fixtures';

const fx = fixtureDir('check');

const KV: Columns = { id: 'VARCHAR', w: 'BIGINT', x: 'DOUBLE' };

async function check(
  columns: Columns | [Columns, Columns],
  batch: unknown[][],
  stream: unknown[][],
  opts: Partial<LocalCheckInput> = {},
): Promise<CheckReport> {
  const [bc, sc] = Array.isArray(columns) ? columns : [columns, columns];
  return checkParquet({
    batch: { path: await fx.write(bc, batch) },
    stream: { path: await fx.write(sc, stream) },
    keys: ['id', 'w'],
    duckdb: { threads: 1 },
    ...opts,
  });
}

const counts = (r: CheckReport) => ({
  consistent: r.consistent,
  matched: r.matched,
  mismatched: r.mismatched,
  missingInBatch: r.missingInBatch,
  missingInStream: r.missingInStream,
  duplicateKeys: r.duplicateKeys,
});

async function inputError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CheckInputError)) throw new Error(`expected a CheckInputError, got ${String(err)}`);
  return err.message;
}

describe('equal values', () => {
  test('identical sides with NULL keys, NaN and ±0 are consistent: every key matched', async () => {
    const rows = [
      ['a', 1, 1.5],
      [null, 2, NaN], // a NULL key part matches a NULL key part; NaN matches NaN
      ['c', null, -0], // the stream has +0 here
      [null, null, null],
    ];
    const stream = rows.map((r) => (r[0] === 'c' ? ['c', null, 0] : r));
    const r = await check(KV, rows, stream);
    expect(counts(r)).toEqual({
      consistent: true,
      matched: 4,
      mismatched: 0,
      missingInBatch: 0,
      missingInStream: 0,
      duplicateKeys: { batch: 0, stream: 0 },
    });
    expect(r.rows).toEqual({ batch: 4, stream: 4 });
    expect(r.pass).toBe('single');
  });

  test('±0 and NaN keys match their twins', async () => {
    const cols: Columns = { id: 'VARCHAR', w: 'DOUBLE', x: 'DOUBLE' };
    const r = await check(
      cols,
      [
        ['a', -0, 1],
        ['b', NaN, 2],
      ],
      [
        ['a', 0, 1],
        ['b', NaN, 2],
      ],
    );
    expect(counts(r)).toMatchObject({ consistent: true, matched: 2 });
  });

  test('both sides empty: consistent, every count zero', async () => {
    const r = await check(KV, [], []);
    expect(counts(r)).toEqual({
      consistent: true,
      matched: 0,
      mismatched: 0,
      missingInBatch: 0,
      missingInStream: 0,
      duplicateKeys: { batch: 0, stream: 0 },
    });
    expect(r.rows).toEqual({ batch: 0, stream: 0 });
  });
});

describe('NaN and NULL values', () => {
  test('NaN vs a number is a mismatch, also within a relative tolerance the naive predicate accepts', async () => {
    // Control: DuckDB's NaN = NaN and NaN-is-largest make the naive tolerance predicate TRUE for NaN vs 1.
    const [naive] = await fx
      .db()
      .query(
        "SELECT abs(a - b) <= 0.5 * greatest(abs(a), abs(b)) AS ok FROM (SELECT 'NaN'::DOUBLE AS a, 1.0::DOUBLE AS b)",
      );
    expect(naive!.ok).toBe(true);
    const batch = [
      ['nan-vs-1', 1, NaN],
      ['1-vs-nan', 1, 1],
      ['nan-vs-nan', 1, NaN],
    ];
    const stream = [
      ['nan-vs-1', 1, 1],
      ['1-vs-nan', 1, NaN],
      ['nan-vs-nan', 1, NaN],
    ];
    for (const tolerances of [
      [],
      [{ column: 'x', kind: 'rel' as const, value: 0.5 }],
      [{ column: 'x', kind: 'abs' as const, value: 1e9 }],
    ]) {
      const r = await check(KV, batch, stream, { tolerances });
      expect(counts(r)).toMatchObject({ consistent: false, matched: 1, mismatched: 2 });
      expect(r.mismatchedByColumn).toEqual({ x: 2 });
      expect(r.samples.mismatched).toEqual([
        { id: '1-vs-nan', w: 1 },
        { id: 'nan-vs-1', w: 1 },
      ]);
    }
  });

  test('NULL equals only NULL, with and without a tolerance', async () => {
    const batch = [
      ['null-null', 1, null],
      ['null-1', 1, null],
      ['1-null', 1, 1],
    ];
    const stream = [
      ['null-null', 1, null],
      ['null-1', 1, 1],
      ['1-null', 1, null],
    ];
    for (const tolerances of [[], [{ column: 'x', kind: 'abs' as const, value: 10 }]]) {
      const r = await check(KV, batch, stream, { tolerances });
      expect(counts(r)).toMatchObject({ matched: 1, mismatched: 2 });
      expect(r.samples.mismatched.map((k) => k.id)).toEqual(['1-null', 'null-1']);
    }
  });

  test('infinities: equal to themselves, never within a tolerance of a finite number', async () => {
    const batch = [
      ['inf', 1, Infinity],
      ['-inf', 1, -Infinity],
      ['inf-vs-big', 1, Infinity],
      ['inf-vs-neg', 1, Infinity],
    ];
    const stream = [
      ['inf', 1, Infinity],
      ['-inf', 1, -Infinity],
      ['inf-vs-big', 1, 1e308],
      ['inf-vs-neg', 1, -Infinity],
    ];
    const r = await check(KV, batch, stream, { tolerances: [{ column: 'x', kind: 'rel', value: 0.9 }] });
    expect(counts(r)).toMatchObject({ matched: 2, mismatched: 2 });
  });
});

describe('tolerances', () => {
  const cols: Columns = { id: 'VARCHAR', w: 'BIGINT', x: 'DOUBLE', amount: 'DECIMAL(18,2)', n: 'BIGINT' };

  test('abs:x accepts |a-b| <= x (the bound included), rel:y accepts |a-b| <= y*max(|a|,|b|)', async () => {
    const batch = [
      ['in', 1, 100, '10.00', 7],
      ['x-out', 1, 100, '10.00', 7], // x off by 2: rel 0.01 allows 1.02
      ['amount-edge', 1, 100, '10.00', 7], // amount off by exactly 0.50
      ['amount-out', 1, 100, '10.00', 7], // amount off by 0.51
      ['n-out', 1, 100, '10.00', 7], // n off by 2: abs 1
    ];
    const stream = [
      ['in', 1, 100.9, '10.30', 8],
      ['x-out', 1, 102, '10.00', 7],
      ['amount-edge', 1, 100, '10.50', 7],
      ['amount-out', 1, 100, '10.51', 7],
      ['n-out', 1, 100, '10.00', 9],
    ];
    const r = await check(cols, batch, stream, {
      tolerances: [
        { column: 'x', kind: 'rel', value: 0.01 },
        { column: 'amount', kind: 'abs', value: 0.5 },
        { column: 'n', kind: 'abs', value: 1 },
      ],
    });
    expect(counts(r)).toMatchObject({ matched: 2, mismatched: 3 });
    expect(r.mismatchedByColumn).toEqual({ x: 1, amount: 1, n: 1 });
    expect(r.samples.mismatched.map((k) => k.id)).toEqual(['amount-out', 'n-out', 'x-out']);
  });

  test('no tolerance is exact equality: a 1e-12 jitter is a mismatch', async () => {
    const r = await check(KV, [['a', 1, 1]], [['a', 1, 1 + 1e-12]]);
    expect(counts(r)).toMatchObject({ matched: 0, mismatched: 1 });
  });

  test('an absolute tolerance on int64 extremes does not overflow', async () => {
    const big: Columns = { id: 'VARCHAR', w: 'BIGINT', n: 'BIGINT' };
    const r = await check(big, [['a', 1, '9223372036854775807']], [['a', 1, '-9223372036854775808']], {
      tolerances: [{ column: 'n', kind: 'abs', value: 1 }],
    });
    expect(counts(r)).toMatchObject({ mismatched: 1 });
  });

  test('per-column counts: 3 injected in x, 2 in amount, one key in both', async () => {
    const two: Columns = { id: 'VARCHAR', w: 'BIGINT', x: 'DOUBLE', amount: 'DECIMAL(18,2)' };
    const batch = ['a', 'b', 'c', 'd', 'e'].map((id) => [id, 1, 1, '1.00']);
    const stream = [
      ['a', 1, 2, '1.00'], // x
      ['b', 1, 2, '2.00'], // x and amount
      ['c', 1, 2, '1.00'], // x
      ['d', 1, 1, '3.00'], // amount
      ['e', 1, 1, '1.00'],
    ];
    const r = await check(two, batch, stream);
    expect(counts(r)).toMatchObject({ matched: 1, mismatched: 4 });
    expect(r.mismatchedByColumn).toEqual({ x: 3, amount: 2 });
  });
});

describe('duplicates and one-sided rows', () => {
  test('duplicate keys are reported per side, never summed, and take no part in the other counts', async () => {
    const batch = [
      ['ok', 1, 1],
      ['dup-batch', 1, 1], // twice here: 1 + 1 would "match" the stream's 2 if summed
      ['dup-batch', 1, 1],
      ['dup-both', 1, 5],
      ['dup-both', 1, 5],
      ['dup-batch-only', 1, 1],
      ['dup-batch-only', 1, 1],
      ['dup-batch-only', 1, 1],
    ];
    const stream = [
      ['ok', 1, 1],
      ['dup-batch', 1, 2],
      ['dup-both', 1, 5],
      ['dup-both', 1, 5],
      ['dup-stream-only', 1, 1],
      ['dup-stream-only', 1, 1],
    ];
    const r = await check(KV, batch, stream);
    expect(counts(r)).toEqual({
      consistent: false,
      matched: 1,
      mismatched: 0,
      missingInBatch: 0,
      missingInStream: 0,
      duplicateKeys: { batch: 3, stream: 2 },
    });
    expect(r.samples.duplicateKeys).toEqual({
      batch: [
        { id: 'dup-batch', w: 1 },
        { id: 'dup-batch-only', w: 1 },
        { id: 'dup-both', w: 1 },
      ],
      stream: [
        { id: 'dup-both', w: 1 },
        { id: 'dup-stream-only', w: 1 },
      ],
    });
    expect(r.rows).toEqual({ batch: 8, stream: 6 });
    expect(r.pass).toBe('deduplicated');
  });

  test('a key repeated only on one side is caught too (no fan-out in the join to give it away)', async () => {
    const r = await check(
      KV,
      [
        ['a', 1, 1],
        ['b', 1, 1],
        ['b', 1, 1],
      ],
      [['a', 1, 1]],
    );
    expect(counts(r)).toMatchObject({ matched: 1, missingInStream: 0, duplicateKeys: { batch: 1, stream: 0 } });
  });

  test('one-sided rows count with their side, with their keys as samples in key order', async () => {
    const batch = [
      ['both', 1, 1],
      ['only-batch-b', 2, 1],
      ['only-batch-a', 9, 1],
      [null, 3, 1],
    ];
    const stream = [
      ['both', 1, 1],
      ['only-stream', 1, 1],
    ];
    const r = await check(KV, batch, stream);
    expect(counts(r)).toMatchObject({ consistent: false, matched: 1, missingInBatch: 1, missingInStream: 3 });
    expect(r.samples.missingInStream).toEqual([
      { id: 'only-batch-a', w: 9 },
      { id: 'only-batch-b', w: 2 },
      { id: null, w: 3 }, // NULLs last
    ]);
    expect(r.samples.missingInBatch).toEqual([{ id: 'only-stream', w: 1 }]);
  });

  test('one side empty: every row of the other is missing from it', async () => {
    const rows = [
      ['a', 1, 1],
      ['b', 1, 2],
    ];
    expect(counts(await check(KV, rows, []))).toMatchObject({ matched: 0, missingInStream: 2, missingInBatch: 0 });
    expect(counts(await check(KV, [], rows))).toMatchObject({ matched: 0, missingInStream: 0, missingInBatch: 2 });
  });

  test('samples are the smallest keys, at most the sample size', async () => {
    const ids = Array.from({ length: 15 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    const r = await check(
      KV,
      [],
      ids.reverse().map((id) => [id, 1, 1]),
    );
    expect(r.missingInBatch).toBe(15);
    expect(r.samples.missingInBatch.map((k) => k.id)).toEqual([...ids].sort().slice(0, 10));
    const three = await check(
      KV,
      [],
      ids.map((id) => [id, 1, 1]),
      { sampleSize: 3 },
    );
    expect(three.samples.missingInBatch.map((k) => k.id)).toEqual(['k00', 'k01', 'k02']);
  });
});

describe('types are normalised before comparing', () => {
  test('DECIMAL(28,2) vs DECIMAL(38,2), and scale 6 vs 8, compare by value', async () => {
    const b: Columns = { id: 'VARCHAR', w: 'BIGINT', total: 'DECIMAL(28,2)', avg: 'DECIMAL(38,6)' };
    const s: Columns = { id: 'VARCHAR', w: 'BIGINT', total: 'DECIMAL(38,2)', avg: 'DECIMAL(38,8)' };
    const r = await check(
      [b, s],
      [
        ['same', 1, '12345.67', '1.000001'],
        ['avg-differs', 1, '12345.67', '1.000001'],
      ],
      [
        ['same', 1, '12345.67', '1.00000100'],
        ['avg-differs', 1, '12345.67', '1.00000101'],
      ],
    );
    expect(counts(r)).toMatchObject({ matched: 1, mismatched: 1 });
    expect(r.mismatchedByColumn).toEqual({ total: 0, avg: 1 });
    expect(r.compared.find((c) => c.column === 'avg')!.type).toBe('decimal(38,8)');
  });

  test('TIMESTAMP_MS vs TIMESTAMP (µs) vs TIMESTAMPTZ compare as UTC instants, as keys and as values', async () => {
    const ms: Columns = { id: 'VARCHAR', w: 'TIMESTAMP_MS', at: 'TIMESTAMP_MS' };
    const us: Columns = { id: 'VARCHAR', w: 'TIMESTAMP', at: 'TIMESTAMP' };
    const tz: Columns = { id: 'VARCHAR', w: 'TIMESTAMPTZ', at: 'TIMESTAMPTZ' };
    const t = '2026-01-01 10:00:00.001';
    const ms1 = await fx.write(ms, [
      ['same', t, t],
      ['off-by-1us', t, t],
    ]);
    const us1 = await fx.write(us, [
      ['same', t, t],
      ['off-by-1us', t, '2026-01-01 10:00:00.001001'],
    ]);
    // The same instants written with an offset: 12:00:00.001+02 is 10:00:00.001 UTC.
    const tz1 = await fx.write(tz, [
      ['same', `2026-01-01 12:00:00.001+02`, `2026-01-01 12:00:00.001+02`],
      ['off-by-1us', `${t}+00`, `${t}+00`],
    ]);
    // The fixtures really differ in their Parquet footers.
    const units = await fx
      .db()
      .query(
        `SELECT file_name, logical_type FROM parquet_schema([${[ms1, us1, tz1].map((f) => `'${f}'`).join(', ')}]) WHERE name = 'at'`,
      );
    expect(
      units.map((u) =>
        String(u.logical_type)
          .match(/isAdjustedToUTC=(\d).*(MILLIS|MICROS)=\w+\(\)/)!
          .slice(1),
      ),
    ).toEqual([
      ['0', 'MILLIS'],
      ['0', 'MICROS'],
      ['1', 'MICROS'],
    ]);
    for (const [a, b] of [
      [ms1, us1],
      [ms1, tz1],
      [us1, tz1],
    ] as const) {
      const r = await checkParquet({
        batch: { path: a },
        stream: { path: b },
        keys: ['id', 'w'],
        duckdb: { threads: 1 },
      });
      const expectMismatch = a === us1 || b === us1; // only the µs file has the extra microsecond
      expect(counts(r)).toMatchObject({ matched: expectMismatch ? 1 : 2, mismatched: expectMismatch ? 1 : 0 });
    }
    const r = await checkParquet({
      batch: { path: ms1 },
      stream: { path: tz1 },
      keys: ['id', 'w'],
      duckdb: { threads: 1 },
    });
    expect(r.compared).toEqual([{ column: 'at', type: 'timestamp (µs, UTC)' }]);
  });

  test('timestamp sample keys print as ISO-8601 UTC with every digit of their unit', async () => {
    const us: Columns = { w: 'TIMESTAMP' };
    const ns: Columns = { w: 'TIMESTAMP_NS' };
    const one = await checkParquet({
      batch: { path: await fx.write(us, [['2026-01-01 10:00:00.000001']]) },
      stream: { path: await fx.write(us, []) },
      keys: ['w'],
    });
    expect(one.samples.missingInStream).toEqual([{ w: '2026-01-01T10:00:00.000001Z' }]);
    const nano = await checkParquet({
      batch: { path: await fx.write(ns, [['1969-12-31 23:59:59.999999999']]) },
      stream: { path: await fx.write(ns, []) },
      keys: ['w'],
    });
    expect(nano.samples.missingInStream).toEqual([{ w: '1969-12-31T23:59:59.999999999Z' }]);
  });

  test('int columns of different widths compare by value; an int vs a decimal too', async () => {
    const b: Columns = { id: 'VARCHAR', w: 'INTEGER', n: 'SMALLINT', total: 'BIGINT' };
    const s: Columns = { id: 'VARCHAR', w: 'BIGINT', n: 'BIGINT', total: 'DECIMAL(38,0)' };
    const r = await check([b, s], [['a', 1, 7, 100]], [['a', 1, 7, '100']]);
    expect(counts(r)).toMatchObject({ consistent: true, matched: 1 });
  });
});

describe('sides', () => {
  test('a directory of part files: _SUCCESS and in-progress files are not read', async () => {
    const dir = fx.path('sink');
    await fx.write(KV, [['a', 1, 1]], 'sink/part-0-0');
    await fx.write(KV, [['b', 1, 2]], 'sink/part-0-1.parquet');
    fs.writeFileSync(`${dir}/_SUCCESS`, '');
    fs.writeFileSync(`${dir}/.part-0-2.inprogress.3f2a`, 'not parquet: reading it would fail');
    fs.writeFileSync(`${dir}/part-0-3.inprogress`, 'not parquet either');
    const r = await checkParquet({
      batch: { path: dir },
      stream: {
        files: [
          await fx.write(KV, [
            ['a', 1, 1],
            ['b', 1, 2],
          ]),
        ],
      },
      keys: ['id', 'w'],
    });
    expect(counts(r)).toMatchObject({ consistent: true, matched: 2 });
  });

  test('an empty explicit file list reads as empty with the columns given', async () => {
    const r = await checkParquet({
      batch: {
        files: [],
        columns: [
          { name: 'id', type: 'VARCHAR' },
          { name: 'w', type: 'BIGINT' },
          { name: 'x', type: 'DOUBLE' },
        ],
      },
      stream: { path: await fx.write(KV, [['a', 1, 1]]) },
      keys: ['id', 'w'],
    });
    expect(counts(r)).toMatchObject({ missingInBatch: 1, matched: 0 });
  });
});

describe('bad input names the thing and the problem', () => {
  test('a missing file', async () => {
    const missing = fx.path('no-such.parquet');
    const message = await inputError(
      checkParquet({ batch: { path: missing }, stream: { path: await fx.write(KV, []) }, keys: ['id'] }),
    );
    expect(message).toBe(`batch: ${missing}: no such file or directory`);
  });

  test('a directory without part files says what it skipped', async () => {
    const dir = fx.path('no-parts');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(`${dir}/_SUCCESS`, '');
    fs.writeFileSync(`${dir}/.part-1.inprogress.x`, '');
    const message = await inputError(
      checkParquet({ batch: { path: await fx.write(KV, []) }, stream: { path: dir }, keys: ['id'] }),
    );
    expect(message).toBe(`stream: directory ${dir} has no part-* files (skipped: .part-1.inprogress.x, _SUCCESS)`);
  });

  test('a key column missing from a side', async () => {
    const message = await inputError(check([KV, { id: 'VARCHAR', x: 'DOUBLE' }], [], []));
    expect(message).toBe('key column "w" is not in the stream side (its columns: id, x)');
  });

  test('a tolerance on an unknown column, on a key, on a non-numeric column', async () => {
    const cols: Columns = { ...KV, label: 'VARCHAR' };
    expect(await inputError(check(cols, [], [], { tolerances: [{ column: 'amount', kind: 'abs', value: 1 }] }))).toBe(
      'tolerance "amount=abs:1": unknown column "amount"; the value columns both sides have: x, label',
    );
    expect(await inputError(check(cols, [], [], { tolerances: [{ column: 'w', kind: 'abs', value: 1 }] }))).toBe(
      'tolerance "w=abs:1": "w" is a key column',
    );
    expect(await inputError(check(cols, [], [], { tolerances: [{ column: 'label', kind: 'rel', value: 0.1 }] }))).toBe(
      'tolerance "label=rel:0.1": column "label" is VARCHAR, not a number',
    );
  });

  test('malformed tolerances given as data', async () => {
    expect(await inputError(check(KV, [], [], { tolerances: [{ column: 'x', kind: 'abz' as 'abs', value: 1 }] }))).toBe(
      'invalid tolerances: [0].kind: expected abs or rel',
    );
    expect(await inputError(check(KV, [], [], { tolerances: [{ column: 'x', kind: 'abs', value: -1 }] }))).toBe(
      'invalid tolerances: [0].value: expected a finite number >= 0',
    );
  });

  test('key columns whose types cannot be compared', async () => {
    const message = await inputError(check([KV, { id: 'VARCHAR', w: 'VARCHAR', x: 'DOUBLE' }], [], []));
    expect(message).toBe(
      'key column "w": batch type BIGINT and stream type VARCHAR cannot be compared (a number and a non-number)',
    );
  });

  test('a file that is not Parquet', async () => {
    const junk = fx.path('junk.parquet');
    fs.writeFileSync(junk, 'not parquet');
    const message = await inputError(checkParquet({ batch: { path: junk }, stream: { path: junk }, keys: ['id'] }));
    expect(message).toContain('junk.parquet');
  });
});

describe('late data', () => {
  const cols: Columns = { id: 'VARCHAR', w: 'BIGINT', views: 'BIGINT' };
  // batch Σviews = 30 + 50 + 20 = 100; stream Σviews = 25 + 50 + 13 = 88: 12 views short.
  const batch = [
    ['home', 1, 30],
    ['cart', 1, 50],
    ['search', 1, 20],
  ];
  const stream = [
    ['home', 1, 25],
    ['cart', 1, 50],
    ['search', 1, 13],
  ];

  test('explained when the difference of the count sums equals the dropped late records', async () => {
    const r = await check(cols, batch, stream, { lateData: { countColumn: 'views', droppedLateRecords: 12 } });
    expect(r.lateData).toEqual({
      countColumn: 'views',
      batchCount: 100,
      streamCount: 88,
      difference: 12,
      droppedLateRecords: 12,
      explained: true,
    });
    expect(counts(r)).toMatchObject({ consistent: false, mismatched: 2 }); // the data still differs
  });

  test('not explained otherwise', async () => {
    const r = await check(cols, batch, stream, { lateData: { countColumn: 'views', droppedLateRecords: 5 } });
    expect(r.lateData).toMatchObject({ difference: 12, droppedLateRecords: 5, explained: false });
  });

  test('duplicate rows still count in the sums (every row of a side), and rows on one side only', async () => {
    const r = await check(cols, [...batch, ['home', 1, 30]], [...stream, ['extra', 1, 4]], {
      lateData: { countColumn: 'views', droppedLateRecords: 0 },
    });
    expect(r.lateData).toMatchObject({ batchCount: 130, streamCount: 92 });
  });

  test('a count column that is not a shared number is refused', async () => {
    const message = await inputError(
      check(cols, [], [], { lateData: { countColumn: 'viewz', droppedLateRecords: 0 } }),
    );
    expect(message).toBe('count column "viewz": not a compared value column of both sides (they are: views)');
  });
});
