/**
 * The consistency check as SQL, planned once for DuckDB and Spark (dialect.ts holds what they spell
 * differently). A plan has two passes with the same result shape; run.ts runs the first and, only
 * when it shows duplicate keys, the second:
 *
 * 1. `single`: one null-safe FULL OUTER JOIN of the rows as they are, each output row flagged per
 *    value column and given its {@link KIND}, aggregated in the same pass into the counts (and, in
 *    DuckDB, the samples). It is exact when no key repeats on a side, and it proves that itself: a
 *    repeated key that is on both sides multiplies the join's rows, so the rows of a side the join saw
 *    exceed the side's row count; a repeated one-sided key shows as fewer distinct keys than
 *    one-sided rows.
 * 2. `deduplicated`: the keys seen more than once on a side found first (`GROUP BY` keys `HAVING
 *    count(*) > 1`), taken out of both sides, and the same join and aggregate over the rest; the
 *    duplicates come back as one row per key. A key seen more than once on a side is a duplicate
 *    of that side and takes no part in matched, mismatched or missing.
 *
 * Measured on 10M × 10M rows here (docs/consistency.md): grouping the sides by key costs as much as
 * the join again, so the single pass is what a check costs when the sides are clean.
 */
import type { Dialect } from './dialect';
import { DIALECTS } from './dialect';
import { CheckInputError } from './errors';
import type { Tolerance } from './tolerance';
import {
  classifyType,
  isNumeric,
  requireCommonType,
  type CommonType,
  type SideColumn,
  type TypeClass,
  type TypeDialect,
} from './types';

/** A side as SQL: a relation (`read_parquet([...])`, a table at a snapshot, a subquery) and its columns. */
export interface PlanSide {
  relation: string;
  columns: readonly SideColumn[];
}

export interface PlanInput {
  dialect: TypeDialect;
  batch: PlanSide;
  stream: PlanSide;
  /** The columns that identify a row, on both sides. */
  keys: readonly string[];
  tolerances?: readonly Tolerance[];
  /** Shared columns not to compare. */
  ignore?: readonly string[];
  /** A numeric column summed on each side for the late-data explanation. */
  countColumn?: string;
  /**
   * Sample keys per kind.
   * @default 10
   */
  sampleSize?: number;
  /**
   * Spark only: the name of the cached view of the classified rows.
   * @default 'sluice_check'
   */
  viewName?: string;
}

/** A compared column: its name, the common type both sides are cast to, and its tolerance. */
export interface PlannedColumn {
  name: string;
  type: CommonType;
  batchType: string;
  streamType: string;
  tolerance?: Tolerance;
}

export const SAMPLE_KINDS = [
  'mismatched',
  'missingInBatch',
  'missingInStream',
  'duplicateBatch',
  'duplicateStream',
] as const;
export type SampleKind = (typeof SAMPLE_KINDS)[number];

/** Which sides have a key more than once: only those are grouped by key in the deduplicated pass. */
export type DuplicateSides = 'batch' | 'stream' | 'both';

/** One pass: statements to run first, the summary (one row), the samples, and what to run after. */
export interface CheckPass {
  setup: string[];
  summary: string;
  /** Per kind, a query for up to `sampleSize` key rows; empty when the summary carries `sample_<kind>` lists. */
  samples: Partial<Record<SampleKind, string>>;
  cleanup: string[];
}

export interface CheckPlan {
  dialect: TypeDialect;
  keys: PlannedColumn[];
  values: PlannedColumn[];
  /** Columns not compared: on one side only, or ignored. */
  notCompared: { batch: string[]; stream: string[]; ignored: string[] };
  countColumn?: string;
  sampleSize: number;
  /** One row: `batch_rows`, `stream_rows` (the sides' row counts, which prove the single pass). */
  rowCounts: string;
  single: CheckPass;
  /** The deduplicated pass, by which sides have duplicate keys (the single pass tells: report.ts `duplicatesIn`). */
  deduplicated: Record<DuplicateSides, CheckPass>;
}

/** The summary row's field names (one place for the planner and the report). */
export const FIELD = {
  matched: 'matched',
  mismatched: 'mismatched',
  missingInBatch: 'missing_in_batch',
  missingInStream: 'missing_in_stream',
  duplicateBatch: 'duplicate_batch',
  duplicateStream: 'duplicate_stream',
  rowsBatch: 'rows_batch',
  rowsStream: 'rows_stream',
  keysMissingInBatch: 'keys_missing_in_batch',
  keysMissingInStream: 'keys_missing_in_stream',
  countBatch: 'count_batch',
  countStream: 'count_stream',
  batchRows: 'batch_rows',
  streamRows: 'stream_rows',
  mismatchedColumn: (i: number) => `mismatched_${i}`,
  sample: (kind: SampleKind) => `sample_${kind}`,
} as const;

/** The key field of a sample row for key `i` (mapped back to the key's name by the report). */
export const keyField = (i: number) => `k${i}`;

const describeTolerance = (t: Tolerance) => `"${t.column}=${t.kind}:${t.value}"`;

/** Plans a check; a {@link CheckInputError} names a missing key, a misplaced tolerance or incomparable types. */
export function planCheck(input: PlanInput): CheckPlan {
  const d = DIALECTS[input.dialect];
  const sampleSize = input.sampleSize ?? 10;
  if (!Number.isInteger(sampleSize) || sampleSize < 0) {
    throw new CheckInputError(`sample size: expected an integer >= 0, got ${sampleSize}`);
  }
  if (input.keys.length === 0) throw new CheckInputError('keys: expected at least one key column');
  const batchCols = new Map(input.batch.columns.map((c) => [c.name, c]));
  const streamCols = new Map(input.stream.columns.map((c) => [c.name, c]));
  const list = (m: Map<string, SideColumn>) => [...m.keys()].join(', ') || 'none';

  const seenKeys = new Set<string>();
  const keys = input.keys.map((name): PlannedColumn => {
    if (seenKeys.has(name)) throw new CheckInputError(`keys: key column "${name}" is listed twice`);
    seenKeys.add(name);
    for (const [side, cols] of [
      ['batch', batchCols],
      ['stream', streamCols],
    ] as const) {
      if (!cols.has(name)) {
        throw new CheckInputError(`key column "${name}" is not in the ${side} side (its columns: ${list(cols)})`);
      }
    }
    const b = batchCols.get(name)!;
    const s = streamCols.get(name)!;
    return { name, type: requireCommonType('key column', b, s, input.dialect), batchType: b.type, streamType: s.type };
  });

  const ignore = new Set(input.ignore ?? []);
  for (const name of ignore) {
    if (!batchCols.has(name) && !streamCols.has(name)) {
      throw new CheckInputError(`ignore: unknown column "${name}" (on neither side)`);
    }
    if (seenKeys.has(name)) throw new CheckInputError(`ignore: "${name}" is a key column`);
  }
  const shared = [...batchCols.keys()].filter((n) => streamCols.has(n) && !seenKeys.has(n));
  const tolerances = new Map((input.tolerances ?? []).map((t) => [t.column, t]));
  for (const t of tolerances.values()) {
    const where = describeTolerance(t);
    if (seenKeys.has(t.column)) throw new CheckInputError(`tolerance ${where}: "${t.column}" is a key column`);
    if (ignore.has(t.column)) throw new CheckInputError(`tolerance ${where}: "${t.column}" is ignored`);
    if (!shared.includes(t.column)) {
      const only = batchCols.has(t.column)
        ? ' (only the batch side has it)'
        : streamCols.has(t.column)
          ? ' (only the stream side has it)'
          : '';
      throw new CheckInputError(
        `tolerance ${where}: unknown column "${t.column}"${only}; the value columns both sides have: ${shared.filter((n) => !ignore.has(n)).join(', ') || 'none'}`,
      );
    }
  }
  const values = shared
    .filter((n) => !ignore.has(n))
    .map((name): PlannedColumn => {
      const b = batchCols.get(name)!;
      const s = streamCols.get(name)!;
      const type = requireCommonType('column', b, s, input.dialect);
      const tolerance = tolerances.get(name);
      if (tolerance && !isNumeric(type)) {
        throw new CheckInputError(
          `tolerance ${describeTolerance(tolerance)}: column "${name}" is ${b.type === s.type ? b.type : `${b.type} / ${s.type}`}, not a number`,
        );
      }
      return { name, type, batchType: b.type, streamType: s.type, tolerance };
    });

  let countIndex: number | undefined;
  if (input.countColumn !== undefined) {
    countIndex = values.findIndex((v) => v.name === input.countColumn);
    const v = values[countIndex];
    if (!v) {
      throw new CheckInputError(
        `count column "${input.countColumn}": not a compared value column of both sides (they are: ${values.map((x) => x.name).join(', ') || 'none'})`,
      );
    }
    if (!isNumeric(v.type)) throw new CheckInputError(`count column "${v.name}": ${v.batchType} is not a number`);
  }

  const ctx: Ctx = {
    d,
    keys,
    values,
    countIndex,
    sampleSize,
    batchClass: (c) => classifyType(batchCols.get(c.name)!.type, input.dialect),
    streamClass: (c) => classifyType(streamCols.get(c.name)!.type, input.dialect),
  };
  const view = input.viewName ?? 'sluice_check';
  return {
    dialect: input.dialect,
    keys,
    values,
    notCompared: {
      batch: [...batchCols.keys()].filter((n) => !streamCols.has(n)),
      stream: [...streamCols.keys()].filter((n) => !batchCols.has(n)),
      ignored: shared.filter((n) => ignore.has(n)),
    },
    countColumn: input.countColumn,
    sampleSize,
    rowCounts: rowCounts(ctx, input),
    single: pass(ctx, classified(ctx, input), true, `${view}_single`),
    deduplicated: {
      batch: pass(ctx, classified(ctx, input, 'batch'), false, `${view}_dedup`),
      stream: pass(ctx, classified(ctx, input, 'stream'), false, `${view}_dedup`),
      both: pass(ctx, classified(ctx, input, 'both'), false, `${view}_dedup`),
    },
  };
}

interface Ctx {
  d: Dialect;
  keys: PlannedColumn[];
  values: PlannedColumn[];
  countIndex?: number;
  sampleSize: number;
  batchClass(c: PlannedColumn): TypeClass;
  streamClass(c: PlannedColumn): TypeClass;
}

/** A side's rows with its columns renamed (k0.., v0.., c) and normalised, and a presence marker `p`. */
function sideRows(ctx: Ctx, side: PlanSide, cls: (c: PlannedColumn) => TypeClass): string {
  const { d } = ctx;
  const cols = [
    'true AS p',
    ...ctx.keys.map((k, i) => `${d.normalise(d.ident(k.name), cls(k), k.type)} AS k${i}`),
    ...ctx.values.map((v, i) => `${d.normalise(d.ident(v.name), cls(v), v.type)} AS v${i}`),
  ];
  return `SELECT ${cols.join(', ')} FROM ${side.relation}`;
}

/**
 * A side's keys seen more than once, with their row count `n` (no values: grouping those too costs
 * as much as the join). `none`: the side has none (the single pass proved it), so it is not grouped.
 */
function duplicateKeys(ctx: Ctx, rows: string, none: boolean): string {
  const keys = ctx.keys.map((_, i) => `k${i}`).join(', ');
  return `SELECT ${keys}, count(*) AS n FROM (${rows}) AS r${none ? ' WHERE false' : ''} GROUP BY ${keys} HAVING count(*) > 1`;
}

/**
 * The sides' row counts, and the count column's sums over every row (the late-data explanation):
 * one row, `batch_rows`, `stream_rows` [, `count_batch`, `count_stream`]. DuckDB answers the row
 * counts from the Parquet footers.
 */
function rowCounts(ctx: Ctx, input: PlanInput): string {
  const { d } = ctx;
  const cols = [
    `(SELECT count(*) FROM ${input.batch.relation}) AS ${d.ident(FIELD.batchRows)}`,
    `(SELECT count(*) FROM ${input.stream.relation}) AS ${d.ident(FIELD.streamRows)}`,
  ];
  if (ctx.countIndex !== undefined) {
    const v = ctx.values[ctx.countIndex]!;
    const sum = (side: PlanSide, cls: (c: PlannedColumn) => TypeClass) =>
      `(SELECT sum(${d.normalise(d.ident(v.name), cls(v), v.type)}) FROM ${side.relation})`;
    cols.push(`${sum(input.batch, ctx.batchClass)} AS ${d.ident(FIELD.countBatch)}`);
    cols.push(`${sum(input.stream, ctx.streamClass)} AS ${d.ident(FIELD.countStream)}`);
  }
  return `SELECT ${cols.join(', ')}`;
}

/**
 * Whether the batch value `a` and the stream value `b` of column `v` differ (never NULL).
 *
 * With a tolerance, the common case comes first: a pair within it is equal after one test, where
 * the NULL, NaN and infinity tests used to run on every row first (for the three value columns of
 * bench/check.ts, 64 M instructions fewer on 500k joined rows, counted with cachegrind). The order
 * is safe: `within` is NULL, never TRUE, for a NULL, and for doubles it also requires both values
 * finite — the NaN trap: NaN = NaN and NaN is the largest number, so `abs(a - b) <= y * greatest(...)`
 * alone is TRUE for NaN vs 1, and for ∞ vs 1 (∞ <= y·∞). What is left is decided by the null rule
 * and, for doubles, by `=` (NaN equals only NaN, ∞ only ∞); an integer or decimal pair that is not
 * within differs. An absolute tolerance needs no finiteness test: |a − b| is NaN or ∞ then, above any
 * finite tolerance. tests/unit/consistency/differs.test.ts holds it to a model on the edge values.
 */
export function differs(d: Dialect, v: PlannedColumn, a: string, b: string): string {
  const t = v.tolerance;
  if (!t) return `NOT (${d.notDistinct(a, b)})`;
  const float = v.type.kind === 'float';
  const wide = (x: string) => (v.type.kind === 'int' ? d.wideInt(x) : x);
  const dbl = (x: string) => (float ? x : `CAST(${x} AS DOUBLE)`);
  const larger = `greatest(abs(${dbl(a)}), abs(${dbl(b)}))`;
  const within =
    t.kind === 'abs'
      ? `abs(${wide(a)} - ${wide(b)}) <= ${t.value}`
      : `abs(${dbl(a)} - ${dbl(b)}) <= ${t.value} * ${larger}` +
        (float ? ` AND ${larger} < CAST('Infinity' AS DOUBLE)` : '');
  return [
    'CASE',
    `WHEN ${within} THEN false`,
    `WHEN ${a} IS NULL OR ${b} IS NULL THEN NOT (${a} IS NULL AND ${b} IS NULL)`,
    `ELSE ${float ? `NOT (${a} = ${b})` : 'true'}`,
    'END',
  ].join(' ');
}

/**
 * What a classified row is, as one small integer (`kind`): the summary groups by it. One integer
 * instead of the triple (rows on each side, any flag set): one CASE classifies a row, each test run
 * only on the rows still undecided, and each FILTER of the summary is one comparison.
 */
export const KIND = {
  matched: 0,
  // The kinds sampled with the stream side's keys, then those sampled with the batch side's: each
  // side's sample aggregate takes one range of kinds (one comparison per row, not an IN list).
  missingInBatch: 1,
  /** Deduplicated pass only: a key seen more than once on the stream side (at most once on the batch's). */
  duplicateStream: 2,
  mismatched: 3,
  missingInStream: 4,
  duplicateBatch: 5,
  /** A key seen more than once on both sides: a duplicate of each. */
  duplicateBoth: 6,
} as const;

/** The kinds each count, sample and side's row total takes its rows from. */
const KINDS_OF: Record<SampleKind, readonly number[]> = {
  mismatched: [KIND.mismatched],
  missingInBatch: [KIND.missingInBatch],
  missingInStream: [KIND.missingInStream],
  duplicateBatch: [KIND.duplicateBatch, KIND.duplicateBoth],
  duplicateStream: [KIND.duplicateStream, KIND.duplicateBoth],
};

const LAST_KIND = Math.max(...Object.values(KIND));

/** `kind` is one of `kinds`: a single comparison where they are one range. */
function kindIs(kinds: readonly number[]): string {
  const k = [...new Set(kinds)].sort((a, b) => a - b);
  const [first, last] = [k[0]!, k[k.length - 1]!];
  if (last - first + 1 !== k.length) return `kind IN (${k.join(', ')})`;
  if (first === last) return `kind = ${first}`;
  return last === LAST_KIND ? `kind >= ${first}` : `kind BETWEEN ${first} AND ${last}`;
}

/**
 * The classified rows, as CTEs ending in `c`: one row per join output row, with the keys of each
 * side (`bk0`, `sk0`..), a flag per value column (`d0`..; meaningful for a pair only) and its
 * {@link KIND}.
 *
 * Deduplicated, the keys seen more than once on a side (`bd`, `sd`) are taken out of both sides
 * before the join (an anti join against their small union `dk`), and come back as one row each
 * with their duplicate kind and no flags.
 */
function classified(ctx: Ctx, input: PlanInput, dedup?: DuplicateSides): string {
  const { d, keys, values } = ctx;
  const b = sideRows(ctx, input.batch, ctx.batchClass);
  const s = sideRows(ctx, input.stream, ctx.streamClass);
  const k = keys.map((_, i) => `k${i}`);
  const on = (x: string, y: string) => k.map((c) => d.notDistinct(`${x}.${c}`, `${y}.${c}`)).join(' AND ');
  const keyCols = (x: string, y: string) => k.flatMap((c, i) => [`${x}.${c} AS bk${i}`, `${y}.${c} AS sk${i}`]);
  const flagNames = values.map((_, i) => `d${i}`);
  const join = [
    'SELECT b.p AS bp, s.p AS sp',
    ...keyCols('b', 's'),
    ...values.map((v, i) => `${differs(d, v, `b.v${i}`, `s.v${i}`)} AS d${i}`),
  ].join(', ');
  // The common case first: most rows are decided by the first test (15 M instructions fewer on
  // 500k rows than testing the sides' presence first, counted with cachegrind).
  const kind =
    `CASE WHEN bp AND sp${flagNames.length ? ` AND NOT (${flagNames.join(' OR ')})` : ''} THEN ${KIND.matched} ` +
    `WHEN bp IS NULL THEN ${KIND.missingInBatch} WHEN sp IS NULL THEN ${KIND.missingInStream} ` +
    `ELSE ${KIND.mismatched} END AS kind`;
  const columns = [...k.flatMap((_, i) => [`bk${i}`, `sk${i}`]), ...flagNames];
  const kinded = `SELECT ${[...columns, kind].join(', ')} FROM j`;
  if (!dedup)
    return `WITH b AS (${b}), s AS (${s}), j AS (${join} FROM b FULL OUTER JOIN s ON ${on('b', 's')}), c AS (${kinded})`;
  // An anti join spelled as a LEFT JOIN: DuckDB plans NOT EXISTS here as a delim join that groups
  // the big side's keys first (measured: 3 s of 15 s on 10M rows); this builds on the small `dk`.
  const unique = (rows: string) =>
    `SELECT r.* FROM (${rows}) AS r LEFT JOIN (SELECT ${k.join(', ')}, true AS hit FROM dk) AS x ON ${on('x', 'r')} WHERE x.hit IS NULL`;
  // `bd` and `sd` hold only keys seen more than once: a row without one side is a duplicate of the other's.
  const dupKind =
    `CASE WHEN bd.n IS NULL THEN ${KIND.duplicateStream} WHEN sd.n IS NULL THEN ${KIND.duplicateBatch} ` +
    `ELSE ${KIND.duplicateBoth} END AS kind`;
  const dupRows = [...keyCols('bd', 'sd'), ...values.map((_, i) => `false AS d${i}`), dupKind].join(', ');
  return (
    `WITH bd AS (${duplicateKeys(ctx, b, dedup === 'stream')}), sd AS (${duplicateKeys(ctx, s, dedup === 'batch')}), ` +
    `dk AS (SELECT ${k.join(', ')} FROM bd UNION SELECT ${k.join(', ')} FROM sd), ` +
    `b AS (${unique(b)}), s AS (${unique(s)}), ` +
    `j AS (${join} FROM b FULL OUTER JOIN s ON ${on('b', 's')}), ` +
    `c AS (${kinded} UNION ALL SELECT ${dupRows} FROM bd FULL OUTER JOIN sd ON ${on('bd', 'sd')})`
  );
}

/** Which side's keys each sample kind shows. */
const SAMPLE_SIDE: Record<SampleKind, 'b' | 's'> = {
  mismatched: 'b',
  missingInBatch: 's',
  missingInStream: 'b',
  duplicateBatch: 'b',
  duplicateStream: 's',
};

/**
 * The kinds each side's keys are sampled from in DuckDB's summary, one range each (see {@link KIND}):
 * a key duplicated on both sides has both keys, equal, and is sampled with the batch side's.
 */
const SAMPLED_FROM: Record<'b' | 's', readonly number[]> = {
  b: [KIND.mismatched, KIND.missingInStream, KIND.duplicateBatch, KIND.duplicateBoth],
  s: [KIND.missingInBatch, KIND.duplicateStream],
};

/**
 * A pass's summary, in two levels: the classified rows grouped by kind, a handful of groups, then
 * one row of counts from the groups. In DuckDB each group also keeps the smallest keys of each side
 * (`min(x, n)`, a bounded heap) and the top level merges them per kind.
 *
 * DuckDB computes an aggregate's input for every row before its FILTER applies, so the samples and
 * the distinct counts take a side's key columns as they are (a struct of columns costs nothing), not
 * a CASE or coalesce of them, and each FILTER is one comparison (the kinds are numbered for that).
 * Counted with cachegrind on 500k × 500k rows of bench/check.ts (instructions of the check, the
 * plain diff's 986 M for scale): grouped by (rows on each side, any flag) with FILTERed counts and
 * one sample of the row's key, 1,344 M; by kind, 1,210 M. Without the two DISTINCT counts DuckDB
 * would group with its perfect hash table, 63 M fewer, but they are what proves the single pass
 * (a list of the one-sided keys instead took 5× the time when a side is empty).
 */
function pass(ctx: Ctx, ctes: string, single: boolean, view: string): CheckPass {
  const { d, keys, values } = ctx;
  const as = (name: string) => ` AS ${d.ident(name)}`;
  // A side's key as a struct of its key columns: no per-row work in DuckDB (the struct takes the
  // columns' vectors as they are), so aggregates over it cost only the rows their FILTER lets in.
  const struct = (side: 'b' | 's' | 'row') =>
    d.struct(
      keys.map(
        (_, i) =>
          // The row's key: the batch side's, or the stream's where the batch has none (the join is
          // null-safe, so a pair's keys are equal and a pair's NULL batch key has a NULL stream key).
          [keyField(i), side === 'row' ? `coalesce(bk${i}, sk${i})` : `${side}k${i}`] as const,
      ),
    );
  const kinds = ctx.sampleSize > 0 ? SAMPLE_KINDS : [];
  const distinctKeys = !single
    ? []
    : d.distinctKeys === 'perSide'
      ? [
          `count(DISTINCT ${struct('s')}) FILTER (WHERE kind = ${KIND.missingInBatch}) AS keys_s`,
          `count(DISTINCT ${struct('b')}) FILTER (WHERE kind = ${KIND.missingInStream}) AS keys_b`,
        ]
      : [
          `count(DISTINCT ${struct('row')}) FILTER (WHERE ${kindIs([KIND.missingInBatch, KIND.missingInStream])}) AS keys`,
        ];
  const groups = [
    'kind',
    'count(*) AS n',
    ...values.map((_, i) => `count_if(d${i}) AS m${i}`),
    ...distinctKeys,
    // FILTER keeps the other rows out of min_n: over every row it cost 4 s of CPU on 10M (measured).
    ...(d.samplesInline && kinds.length
      ? (['b', 's'] as const).map(
          (side) =>
            `min(${struct(side)}, ${ctx.sampleSize}) FILTER (WHERE ${kindIs(SAMPLED_FROM[side])}) AS sample_${side}`,
        )
      : []),
  ];
  const sum = (x: string, kinds: readonly number[]) => `coalesce(sum(${x}) FILTER (WHERE ${kindIs(kinds)}), 0)`;
  const summary = [
    `${sum('n', [KIND.matched])}${as(FIELD.matched)}`,
    `${sum('n', [KIND.mismatched])}${as(FIELD.mismatched)}`,
    `${sum('n', [KIND.missingInBatch])}${as(FIELD.missingInBatch)}`,
    `${sum('n', [KIND.missingInStream])}${as(FIELD.missingInStream)}`,
    `${sum('n', KINDS_OF.duplicateBatch)}${as(FIELD.duplicateBatch)}`,
    `${sum('n', KINDS_OF.duplicateStream)}${as(FIELD.duplicateStream)}`,
    ...values.map((_, i) => `${sum(`m${i}`, [KIND.mismatched])}${as(FIELD.mismatchedColumn(i))}`),
    // What proves the single pass (report.ts `duplicatesIn`): the rows the join saw of each side.
    ...(single
      ? [
          `${sum('n', [KIND.matched, KIND.mismatched, KIND.missingInStream])}${as(FIELD.rowsBatch)}`,
          `${sum('n', [KIND.matched, KIND.mismatched, KIND.missingInBatch])}${as(FIELD.rowsStream)}`,
          `${sum(d.distinctKeys === 'perSide' ? 'keys_s' : 'keys', [KIND.missingInBatch])}${as(FIELD.keysMissingInBatch)}`,
          `${sum(d.distinctKeys === 'perSide' ? 'keys_b' : 'keys', [KIND.missingInStream])}${as(FIELD.keysMissingInStream)}`,
        ]
      : []),
  ];
  const grouped = (from: string) => `g AS (SELECT ${groups.join(', ')} FROM ${from} GROUP BY kind)`;
  if (d.samplesInline) {
    for (const kind of kinds) {
      summary.push(
        `list_sort(flatten(list(coalesce(sample_b, sample_s)) FILTER (WHERE ${kindIs(KINDS_OF[kind])})))[1:${ctx.sampleSize}]${as(FIELD.sample(kind))}`,
      );
    }
    return {
      setup: [],
      summary: `${ctes}, ${grouped('c')} SELECT ${summary.join(', ')} FROM g`,
      samples: {},
      cleanup: [],
    };
  }
  const v = d.ident(view);
  const samples: Partial<Record<SampleKind, string>> = {};
  for (const kind of kinds) {
    const side = SAMPLE_SIDE[kind];
    const out = keys.map((k, i) => `${sampleOutput(d, k, `${side}k${i}`)}${as(keyField(i))}`);
    const order = keys.map((_, i) => `${side}k${i} ASC NULLS LAST`);
    samples[kind] =
      `SELECT ${out.join(', ')} FROM ${v} WHERE ${kindIs(KINDS_OF[kind])} ORDER BY ${order.join(', ')} LIMIT ${ctx.sampleSize}`;
  }
  return {
    setup: [`CACHE TABLE ${v} AS ${ctes} SELECT * FROM c`],
    summary: `WITH ${grouped(v)} SELECT ${summary.join(', ')} FROM g`,
    samples,
    cleanup: [`UNCACHE TABLE IF EXISTS ${v}`, `DROP VIEW IF EXISTS ${v}`],
  };
}

/** A sample key as Spark should return it: decimals, dates and other types as strings (Arrow decodes them awkwardly). */
function sampleOutput(d: Dialect, k: PlannedColumn, x: string): string {
  return k.type.kind === 'decimal' || k.type.kind === 'date' || k.type.kind === 'other'
    ? `CAST(${x} AS ${d.sqlType({ kind: 'string' })})`
    : x;
}
