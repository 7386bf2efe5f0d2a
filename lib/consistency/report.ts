/**
 * The consistency report, assembled from plain query result rows: the summary row of a pass (plan.ts
 * {@link FIELD}) and its sample rows. Both executors (DuckDB in-process, Spark through Spark Connect)
 * hand their rows here, so the report is the same whichever engine ran the check. Rows must be plain
 * JS values: numbers, strings (int64 beyond 2^53, decimals), booleans, null, arrays and objects;
 * BigInt is accepted too.
 */
import {
  FIELD,
  SAMPLE_KINDS,
  keyField,
  type CheckPlan,
  type DuplicateSides,
  type PlannedColumn,
  type SampleKind,
} from './plan';
import type { Tolerance } from './tolerance';

export type Row = Record<string, unknown>;
/** A sample key: key column → value (timestamps as ISO-8601 UTC, decimals as strings, NaN as "NaN"). */
export type SampleKey = Record<string, unknown>;

/** Flink's count of late records dropped for the partition, to explain stream < batch. */
export interface LateDataInput {
  /** The column holding each row's record count (COUNT(*) of the window), on both sides. */
  countColumn: string;
  /** `numLateRecordsDropped` over the run, for this partition. */
  droppedLateRecords: number;
}

export interface LateData {
  countColumn: string;
  /** Σ countColumn over the batch side's rows. */
  batchCount: number;
  /** Σ countColumn over the stream side's rows. */
  streamCount: number;
  /** batchCount − streamCount. */
  difference: number;
  droppedLateRecords: number;
  /** difference === droppedLateRecords: the stream lacks exactly what Flink dropped as late. */
  explained: boolean;
}

export interface CheckReport {
  /** No mismatch, no missing row on either side, no duplicate key. */
  consistent: boolean;
  /** Keys once on each side with every value equal (within its tolerance). */
  matched: number;
  /** Keys once on each side with some value different. */
  mismatched: number;
  /** Keys once on the stream side and not on the batch side. */
  missingInBatch: number;
  /** Keys once on the batch side and not on the stream side. */
  missingInStream: number;
  /** Keys seen more than once on a side (reported, never summed; excluded from the counts above). */
  duplicateKeys: { batch: number; stream: number };
  /** Mismatched keys per value column (a key can count in several). */
  mismatchedByColumn: Record<string, number>;
  /** Up to the plan's sample size keys of each kind, smallest first. */
  samples: {
    mismatched: SampleKey[];
    missingInBatch: SampleKey[];
    missingInStream: SampleKey[];
    duplicateKeys: { batch: SampleKey[]; stream: SampleKey[] };
  };
  /** Rows read from each side. */
  rows: { batch: number; stream: number };
  keys: string[];
  /** The value columns compared, with the tolerance each was compared with (none: exact). */
  compared: { column: string; type: string; tolerance?: Omit<Tolerance, 'column'> }[];
  /** Columns not compared: on one side only, or ignored by request. */
  notCompared: { batch: string[]; stream: string[]; ignored: string[] };
  engine: 'duckdb' | 'spark';
  /** `single`: one join of the rows as read; `deduplicated`: duplicate keys found first and set apart (there were some). */
  pass: 'single' | 'deduplicated';
  lateData?: LateData;
}

/** A count from a result row: numbers, numeric strings and BigInt alike. */
export function toCount(v: unknown): number {
  if (v === null || v === undefined) return 0;
  const n = typeof v === 'bigint' ? Number(v) : Number(v);
  if (!Number.isFinite(n)) throw new Error(`expected a count, got ${JSON.stringify(String(v))}`);
  return n;
}

/**
 * Which sides have duplicate keys, from the single pass's counts and the sides' row counts
 * (`rowCounts`, the plan's `rowCounts` row); undefined when none has, and the single pass is exact.
 *
 * A batch key seen n > 1 times that the stream has too makes the join see each of its stream rows
 * n times: the stream rows the join saw exceed the stream's rows. A repeated key on one side only
 * shows as fewer distinct one-sided keys than one-sided rows.
 */
export function duplicatesIn(summary: Row, rowCounts: Row): DuplicateSides | undefined {
  const batch =
    toCount(summary[FIELD.rowsStream]) > toCount(rowCounts[FIELD.streamRows]) ||
    toCount(summary[FIELD.keysMissingInStream]) < toCount(summary[FIELD.missingInStream]);
  const stream =
    toCount(summary[FIELD.rowsBatch]) > toCount(rowCounts[FIELD.batchRows]) ||
    toCount(summary[FIELD.keysMissingInBatch]) < toCount(summary[FIELD.missingInBatch]);
  return batch && stream ? 'both' : batch ? 'batch' : stream ? 'stream' : undefined;
}

/** The sample rows of a pass: from the sample queries, or from the summary's `sample_<kind>` lists. */
export type SampleRows = Partial<Record<SampleKind, Row[]>>;

/** Sample rows carried in the summary row (DuckDB's inline top-N lists). */
export function inlineSamples(summary: Row): SampleRows {
  const out: SampleRows = {};
  for (const kind of SAMPLE_KINDS) {
    const v = summary[FIELD.sample(kind)];
    if (v !== undefined) out[kind] = Array.isArray(v) ? (v as Row[]) : [];
  }
  return out;
}

/** Assembles the report of a plan from its `rowCounts` row and a pass's summary row and sample rows. */
export function assembleReport(
  plan: CheckPlan,
  pass: 'single' | 'deduplicated',
  rowCounts: Row,
  summary: Row,
  samples: SampleRows,
  lateData?: LateDataInput,
): CheckReport {
  const n = (field: string) => toCount(summary[field]);
  const total = (field: string) => toCount(rowCounts[field]);
  const keysOf = (kind: SampleKind) =>
    (samples[kind] ?? []).slice(0, plan.sampleSize).map((r) => sampleKey(plan.keys, r));
  const report: CheckReport = {
    consistent: false,
    matched: n(FIELD.matched),
    mismatched: n(FIELD.mismatched),
    missingInBatch: n(FIELD.missingInBatch),
    missingInStream: n(FIELD.missingInStream),
    duplicateKeys: { batch: n(FIELD.duplicateBatch), stream: n(FIELD.duplicateStream) },
    mismatchedByColumn: Object.fromEntries(plan.values.map((v, i) => [v.name, n(FIELD.mismatchedColumn(i))])),
    samples: {
      mismatched: keysOf('mismatched'),
      missingInBatch: keysOf('missingInBatch'),
      missingInStream: keysOf('missingInStream'),
      duplicateKeys: { batch: keysOf('duplicateBatch'), stream: keysOf('duplicateStream') },
    },
    rows: { batch: total(FIELD.batchRows), stream: total(FIELD.streamRows) },
    keys: plan.keys.map((k) => k.name),
    compared: plan.values.map((v) => ({
      column: v.name,
      type: typeName(v),
      ...(v.tolerance ? { tolerance: { kind: v.tolerance.kind, value: v.tolerance.value } } : {}),
    })),
    notCompared: plan.notCompared,
    engine: plan.dialect,
    pass,
  };
  report.consistent =
    report.mismatched === 0 &&
    report.missingInBatch === 0 &&
    report.missingInStream === 0 &&
    report.duplicateKeys.batch === 0 &&
    report.duplicateKeys.stream === 0;
  if (lateData) {
    const batchCount = total(FIELD.countBatch);
    const streamCount = total(FIELD.countStream);
    const difference = batchCount - streamCount;
    report.lateData = {
      countColumn: lateData.countColumn,
      batchCount,
      streamCount,
      difference,
      droppedLateRecords: lateData.droppedLateRecords,
      explained: difference === lateData.droppedLateRecords,
    };
  }
  return report;
}

/** The common type a column was compared as, e.g. `DECIMAL(38,8)` or `timestamp (µs, UTC)`. */
function typeName(c: PlannedColumn): string {
  const t = c.type;
  switch (t.kind) {
    case 'decimal':
      return `decimal(${t.precision},${t.scale})`;
    case 'epoch':
      return `timestamp (${t.unit === 'ns' ? 'ns' : 'µs'}, UTC)`;
    case 'int':
      return t.wide ? 'int128' : 'int64';
    case 'float':
      return 'double';
    case 'other':
      return t.type.toLowerCase();
    default:
      return t.kind;
  }
}

/** A sample row (fields k0, k1, ...) as key name → display value. */
function sampleKey(keys: readonly PlannedColumn[], row: Row): SampleKey {
  return Object.fromEntries(keys.map((k, i) => [k.name, displayValue(k, row[keyField(i)])]));
}

function displayValue(k: PlannedColumn, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  }
  if (k.type.kind === 'epoch') return isoFromEpoch(BigInt(v as string | number | bigint), k.type.unit);
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  return v;
}

/** An epoch count of microseconds (or nanoseconds) as ISO-8601 UTC with all its digits. */
export function isoFromEpoch(epoch: bigint, unit: 'us' | 'ns'): string {
  const perSecond = unit === 'ns' ? 1_000_000_000n : 1_000_000n;
  let seconds = epoch / perSecond;
  let fraction = epoch % perSecond;
  if (fraction < 0n) {
    fraction += perSecond;
    seconds -= 1n;
  }
  const whole = new Date(Number(seconds) * 1000).toISOString().replace(/\.000Z$/, '');
  return `${whole}.${fraction.toString().padStart(unit === 'ns' ? 9 : 6, '0')}Z`;
}
