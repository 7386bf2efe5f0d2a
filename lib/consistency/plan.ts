/**
 * The consistency check as SQL, planned once for DuckDB and Spark (dialect.ts holds what they spell
 * differently). A plan has two passes with the same result shape; run.ts runs the first and, only
 * when it shows duplicate keys, the second:
 *
 * 1. `single`: one null-safe FULL OUTER JOIN of the rows as they are, each output row flagged per
 *    value column, aggregated in the same pass into the counts (and, in DuckDB, the samples). It is
 *    exact when no key repeats on a side, and it proves that itself: a repeated key that is on both
 *    sides multiplies the join's rows, so the batch rows the join saw (Σ nb) exceed the side's row
 *    count; a repeated one-sided key shows as fewer distinct keys than one-sided rows.
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

/** Whether the batch value `a` and the stream value `b` of column `v` differ (never NULL). */
export function differs(d: Dialect, v: PlannedColumn, a: string, b: string): string {
  const t = v.tolerance;
  if (!t) return `NOT (${d.notDistinct(a, b)})`;
  const float = v.type.kind === 'float';
  const wide = (x: string) => (v.type.kind === 'int' ? d.wideInt(x) : x);
  const dbl = (x: string) => (float ? x : `CAST(${x} AS DOUBLE)`);
  const within =
    t.kind === 'abs'
      ? `abs(${wide(a)} - ${wide(b)}) <= ${t.value}`
      : `abs(${dbl(a)} - ${dbl(b)}) <= ${t.value} * greatest(abs(${dbl(a)}), abs(${dbl(b)}))`;
  return [
    'CASE',
    `WHEN ${a} IS NULL OR ${b} IS NULL THEN NOT (${a} IS NULL AND ${b} IS NULL)`,
    // The NaN trap: NaN = NaN and NaN is the largest number, so `within` is TRUE for NaN vs 1.
    ...(float ? [`WHEN ${d.isNan(a)} OR ${d.isNan(b)} THEN NOT (${d.isNan(a)} AND ${d.isNan(b)})`] : []),
    `WHEN ${a} = ${b} THEN false`,
    // |∞ − x| = ∞ <= y·∞: an infinity is within any relative tolerance of everything.
    ...(float ? [`WHEN ${d.isInf(a)} OR ${d.isInf(b)} THEN true`] : []),
    `ELSE NOT (${within})`,
    'END',
  ].join(' ');
}

/**
 * The classified rows, as CTEs ending in `c`: one row per join output row, with `nb`/`ns` (the
 * key's rows on each side), the keys of each side (`bk0`, `sk0`..), a flag per value column
 * (`d0`..) and whether any is set (`dx`).
 *
 * Deduplicated, the keys seen more than once on a side (`bd`, `sd`) are taken out of both sides
 * before the join (an anti join against their small union `dk`), and come back as one row each
 * with their counts (`nb` or `ns` > 1) and no flags.
 */
function classified(ctx: Ctx, input: PlanInput, dedup?: DuplicateSides): string {
  const { d, keys, values } = ctx;
  const b = sideRows(ctx, input.batch, ctx.batchClass);
  const s = sideRows(ctx, input.stream, ctx.streamClass);
  const k = keys.map((_, i) => `k${i}`);
  const on = (x: string, y: string) => k.map((c) => d.notDistinct(`${x}.${c}`, `${y}.${c}`)).join(' AND ');
  const flags = values.map((v, i) => `${differs(d, v, `b.v${i}`, `s.v${i}`)} AS d${i}`);
  const join = [
    'SELECT CASE WHEN b.p THEN 1 ELSE 0 END AS nb, CASE WHEN s.p THEN 1 ELSE 0 END AS ns',
    ...k.flatMap((c, i) => [`b.${c} AS bk${i}`, `s.${c} AS sk${i}`]),
    ...flags,
  ].join(', ');
  const anyDiff = values.length ? values.map((_, i) => `d${i}`).join(' OR ') : 'false';
  // Only a key once on each side can differ: one-sided and duplicate rows have dx false, so each
  // kind of them is one group of the summary.
  const pairDiff = `CASE WHEN nb = 1 AND ns = 1 THEN (${anyDiff}) ELSE false END`;
  if (!dedup) {
    return (
      `WITH b AS (${b}), s AS (${s}), ` +
      `j AS (${join} FROM b FULL OUTER JOIN s ON ${on('b', 's')}), ` +
      `c AS (SELECT *, ${pairDiff} AS dx FROM j)`
    );
  }
  // An anti join spelled as a LEFT JOIN: DuckDB plans NOT EXISTS here as a delim join that groups
  // the big side's keys first (measured: 3 s of 15 s on 10M rows); this builds on the small `dk`.
  const unique = (rows: string) =>
    `SELECT r.* FROM (${rows}) AS r LEFT JOIN (SELECT ${k.join(', ')}, true AS hit FROM dk) AS x ON ${on('x', 'r')} WHERE x.hit IS NULL`;
  const dupRows = [
    'SELECT coalesce(bd.n, 0) AS nb, coalesce(sd.n, 0) AS ns',
    ...k.flatMap((c, i) => [`bd.${c} AS bk${i}`, `sd.${c} AS sk${i}`]),
    ...values.map((_, i) => `false AS d${i}`),
  ].join(', ');
  return (
    `WITH bd AS (${duplicateKeys(ctx, b, dedup === 'stream')}), sd AS (${duplicateKeys(ctx, s, dedup === 'batch')}), ` +
    `dk AS (SELECT ${k.join(', ')} FROM bd UNION SELECT ${k.join(', ')} FROM sd), ` +
    `b AS (${unique(b)}), s AS (${unique(s)}), ` +
    `j AS (${join} FROM b FULL OUTER JOIN s ON ${on('b', 's')} ` +
    `UNION ALL ${dupRows} FROM bd FULL OUTER JOIN sd ON ${on('bd', 'sd')}), ` +
    `c AS (SELECT *, ${pairDiff} AS dx FROM j)`
  );
}

/** Which rows each sample kind takes, and from which side's keys. */
const SAMPLE_WHERE: Record<SampleKind, [where: string, side: 'b' | 's']> = {
  mismatched: ['nb = 1 AND ns = 1 AND dx', 'b'],
  missingInBatch: ['nb = 0 AND ns = 1', 's'],
  missingInStream: ['nb = 1 AND ns = 0', 'b'],
  duplicateBatch: ['nb > 1', 'b'],
  duplicateStream: ['ns > 1', 's'],
};

/**
 * A pass's summary, in two levels: the classified rows grouped by (nb, ns, dx), a handful of groups,
 * then one row of counts from the groups. One GROUP BY instead of a score of FILTERed aggregates over
 * every row: 12 % less CPU on 10M × 10M (measured). In DuckDB each group also keeps its smallest keys
 * (`min(x, n)`, a bounded heap) and the top level merges them per kind.
 */
function pass(ctx: Ctx, ctes: string, single: boolean, view: string): CheckPass {
  const { d, keys, values } = ctx;
  const as = (name: string) => ` AS ${d.ident(name)}`;
  const struct = (side: 'b' | 's') => d.struct(keys.map((_, i) => [keyField(i), `${side}k${i}`] as const));
  // A row's key: the batch side's, or the stream's where the batch has none.
  const key = `CASE WHEN nb = 0 THEN ${struct('s')} ELSE ${struct('b')} END`;
  const problem = 'NOT (nb = 1 AND ns = 1 AND NOT dx)';
  const kinds = ctx.sampleSize > 0 ? SAMPLE_KINDS : [];
  const groups = [
    'nb',
    'ns',
    'dx',
    'count(*) AS n',
    ...values.map((_, i) => `count(*) FILTER (WHERE d${i}) AS m${i}`),
    ...(single ? [`count(DISTINCT ${key}) FILTER (WHERE nb = 0 OR ns = 0) AS keys`] : []),
    // FILTER keeps the matched rows out of min_n: over every row it cost 4 s of CPU on 10M (measured).
    ...(d.samplesInline && kinds.length
      ? [`min(CASE WHEN ${problem} THEN ${key} END, ${ctx.sampleSize}) FILTER (WHERE ${problem}) AS sample`]
      : []),
  ];
  const sum = (x: string, where: string) => `coalesce(sum(${x}) FILTER (WHERE ${where}), 0)`;
  const summary = [
    `${sum('n', 'nb = 1 AND ns = 1 AND NOT dx')}${as(FIELD.matched)}`,
    `${sum('n', 'nb = 1 AND ns = 1 AND dx')}${as(FIELD.mismatched)}`,
    `${sum('n', 'nb = 0 AND ns = 1')}${as(FIELD.missingInBatch)}`,
    `${sum('n', 'nb = 1 AND ns = 0')}${as(FIELD.missingInStream)}`,
    `${sum('n', 'nb > 1')}${as(FIELD.duplicateBatch)}`,
    `${sum('n', 'ns > 1')}${as(FIELD.duplicateStream)}`,
    `coalesce(sum(nb * n), 0)${as(FIELD.rowsBatch)}`,
    `coalesce(sum(ns * n), 0)${as(FIELD.rowsStream)}`,
    ...values.map((_, i) => `${sum(`m${i}`, 'nb = 1 AND ns = 1 AND dx')}${as(FIELD.mismatchedColumn(i))}`),
    ...(single
      ? [
          `${sum('keys', 'nb = 0 AND ns = 1')}${as(FIELD.keysMissingInBatch)}`,
          `${sum('keys', 'nb = 1 AND ns = 0')}${as(FIELD.keysMissingInStream)}`,
        ]
      : []),
  ];
  const grouped = (from: string) => `g AS (SELECT ${groups.join(', ')} FROM ${from} GROUP BY nb, ns, dx)`;
  if (d.samplesInline) {
    for (const kind of kinds) {
      const [where] = SAMPLE_WHERE[kind];
      summary.push(
        `list_sort(flatten(list(sample) FILTER (WHERE ${where})))[1:${ctx.sampleSize}]${as(FIELD.sample(kind))}`,
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
    const [where, side] = SAMPLE_WHERE[kind];
    const out = keys.map((k, i) => `${sampleOutput(d, k, `${side}k${i}`)}${as(keyField(i))}`);
    const order = keys.map((_, i) => `${side}k${i} ASC NULLS LAST`);
    samples[kind] =
      `SELECT ${out.join(', ')} FROM ${v} WHERE ${where} ORDER BY ${order.join(', ')} LIMIT ${ctx.sampleSize}`;
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
