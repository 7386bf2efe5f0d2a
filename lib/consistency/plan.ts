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
 * 2. `deduplicated`: each side grouped by key first (`count(*)`, `any_value` of each value), then the
 *    same join and aggregate. A key seen more than once on a side is a duplicate of that side and
 *    takes no part in matched, mismatched or missing.
 *
 * Measured on 10M × 10M rows here (docs/consistency.md): the grouping costs about as much as the
 * join again, so the single pass is what a check costs when the sides are clean.
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
  deduplicated: CheckPass;
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
    rowCounts:
      `SELECT (SELECT count(*) FROM ${input.batch.relation}) AS ${d.ident(FIELD.batchRows)}, ` +
      `(SELECT count(*) FROM ${input.stream.relation}) AS ${d.ident(FIELD.streamRows)}`,
    single: pass(ctx, classified(ctx, input, false), true, `${view}_single`),
    deduplicated: pass(ctx, classified(ctx, input, true), false, `${view}_dedup`),
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

/** A side grouped by key: rows per key (`n`), any value of each column, the count column's sum (`c`). */
function groupedRows(ctx: Ctx, rows: string): string {
  const keys = ctx.keys.map((_, i) => `k${i}`);
  const cols = [
    ...keys,
    'count(*) AS n',
    ...ctx.values.map((_, i) => `any_value(v${i}) AS v${i}`),
    ...(ctx.countIndex === undefined ? [] : [`sum(v${ctx.countIndex}) AS c`]),
  ];
  return `SELECT ${cols.join(', ')} FROM (${rows}) AS r GROUP BY ${keys.join(', ')}`;
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
 * The classified rows, as the CTEs ending in `c`: one row per join output row, with `nb`/`ns` (the key's rows on each side: 0/1
 * in the single pass, the group's count when deduplicated), the keys of each side (`bk0`, `sk0`..),
 * a flag per value column (`d0`..) and any (`dx`), and the count column of each side (`cb`, `cs`).
 */
function classified(ctx: Ctx, input: PlanInput, dedup: boolean): string {
  const { d, keys, values } = ctx;
  const b = sideRows(ctx, input.batch, ctx.batchClass);
  const s = sideRows(ctx, input.stream, ctx.streamClass);
  const present = (side: 'b' | 's') => (dedup ? `coalesce(${side}.n, 0)` : `CASE WHEN ${side}.p THEN 1 ELSE 0 END`);
  const count = (side: 'b' | 's') => (dedup ? `${side}.c` : `${side}.v${ctx.countIndex}`);
  const cols = [
    `${present('b')} AS nb`,
    `${present('s')} AS ns`,
    ...keys.flatMap((_, i) => [`b.k${i} AS bk${i}`, `s.k${i} AS sk${i}`]),
    ...values.map((v, i) => `${differs(d, v, `b.v${i}`, `s.v${i}`)} AS d${i}`),
    ...(ctx.countIndex === undefined ? [] : [`${count('b')} AS cb`, `${count('s')} AS cs`]),
  ];
  const on = keys.map((_, i) => d.notDistinct(`b.k${i}`, `s.k${i}`)).join(' AND ');
  const anyDiff = values.length ? values.map((_, i) => `d${i}`).join(' OR ') : 'false';
  return (
    `WITH b AS (${dedup ? groupedRows(ctx, b) : b}), s AS (${dedup ? groupedRows(ctx, s) : s}), ` +
    `j AS (SELECT ${cols.join(', ')} FROM b FULL OUTER JOIN s ON ${on}), ` +
    `c AS (SELECT *, (${anyDiff}) AS dx FROM j)`
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

function pass(ctx: Ctx, ctes: string, single: boolean, view: string): CheckPass {
  const { d, keys, values } = ctx;
  const as = (name: string) => ` AS ${d.ident(name)}`;
  const keyStruct = (side: 'b' | 's') => d.struct(keys.map((_, i) => [keyField(i), `${side}k${i}`] as const));
  const pair = 'nb = 1 AND ns = 1';
  const aggregates = [
    `count(*) FILTER (WHERE ${pair} AND NOT dx)${as(FIELD.matched)}`,
    `count(*) FILTER (WHERE ${pair} AND dx)${as(FIELD.mismatched)}`,
    `count(*) FILTER (WHERE nb = 0 AND ns = 1)${as(FIELD.missingInBatch)}`,
    `count(*) FILTER (WHERE nb = 1 AND ns = 0)${as(FIELD.missingInStream)}`,
    `count(*) FILTER (WHERE nb > 1)${as(FIELD.duplicateBatch)}`,
    `count(*) FILTER (WHERE ns > 1)${as(FIELD.duplicateStream)}`,
    `coalesce(sum(nb), 0)${as(FIELD.rowsBatch)}`,
    `coalesce(sum(ns), 0)${as(FIELD.rowsStream)}`,
    ...values.map((_, i) => `count(*) FILTER (WHERE ${pair} AND d${i})${as(FIELD.mismatchedColumn(i))}`),
    ...(single
      ? [
          `count(DISTINCT ${keyStruct('s')}) FILTER (WHERE nb = 0)${as(FIELD.keysMissingInBatch)}`,
          `count(DISTINCT ${keyStruct('b')}) FILTER (WHERE ns = 0)${as(FIELD.keysMissingInStream)}`,
        ]
      : []),
    ...(ctx.countIndex === undefined ? [] : [`sum(cb)${as(FIELD.countBatch)}`, `sum(cs)${as(FIELD.countStream)}`]),
  ];
  const kinds = ctx.sampleSize > 0 ? SAMPLE_KINDS : [];
  if (d.samplesInline) {
    // DuckDB's min(x, n): the n smallest, kept in a bounded heap (rows outside the kind are NULL, which min skips).
    for (const kind of kinds) {
      const [where, side] = SAMPLE_WHERE[kind];
      aggregates.push(
        `min(CASE WHEN ${where} THEN ${keyStruct(side)} END, ${ctx.sampleSize})${as(FIELD.sample(kind))}`,
      );
    }
    return { setup: [], summary: `${ctes} SELECT ${aggregates.join(', ')} FROM c`, samples: {}, cleanup: [] };
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
    summary: `SELECT ${aggregates.join(', ')} FROM ${v}`,
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
