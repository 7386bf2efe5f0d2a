import type { OutputColumn } from './pipelines';
import { PARTITION_COLUMN, sqlString, STEP_PROPERTY, type BatchStepPlan } from './spark-step';

/*
 * The serving view of a lambda pipeline, `lake.<pipeline>.merged` (docs/lambda.md): batch rows for
 * the partitions up to the contiguous verified high-water mark, stream rows after it. Every change
 * is one Iceberg commit of whole partitions, written by one writer (the pipeline's workflow, one
 * commit at a time), and every commit's snapshot summary carries the whole view's provenance, so
 * a reader of any snapshot knows, per partition, which layer served it and why.
 */

/** Snapshot summary key holding the view's provenance (JSON, {@link ViewProvenance}). */
export const VIEW_PROPERTY = 'sluice.view';

/** Which layer serves a partition in a snapshot of the view. */
export type ServingLayer = 'batch' | 'stream';

/** What the consistency check said about a partition before it was published. */
export type CheckVerdict = 'consistent' | 'repaired' | 'inconsistent';

export interface PartitionProvenance {
  layer: ServingLayer;
  rows: number;
  /** Order-independent checksum of the partition's rows as the view holds them (sum of xxhash64). */
  checksum: string;
  /** The source table's snapshot the rows were copied from. */
  sourceSnapshot: string;
  /** Batch partitions: the check's verdict, and the report's file. */
  check?: CheckVerdict;
  report?: string;
  /** Published although the layers disagree (the batch side is the source of truth). */
  flagged?: boolean;
}

export interface ViewProvenance {
  /** The contiguous verified batch high-water mark: partitions up to it are served by the batch layer. */
  highWaterMark?: string;
  /** The stream layer's snapshot the stream partitions were copied from. */
  streamSnapshot?: string;
  /** A Kappa pipeline's view: the stream generation it serves (docs/kappa.md). */
  generation?: number;
  partitions: Record<string, PartitionProvenance>;
}

/** What one commit of the view copies: a layer's table at a pinned snapshot, some of its partitions. */
export interface ViewWrite {
  layer: ServingLayer;
  /** The source table, e.g. lake.`clicks`.batch. */
  source: string;
  snapshotId: string;
  /** Exactly this partition (a batch publication)... */
  partition?: string;
  /**
   * ...or every partition after `after` (the high-water mark), from `from` (the schedule's start)
   * up to `to` (its end, when it has one): a stream refresh.
   */
  after?: string;
  from?: string;
  to?: string;
}

/** The rows the write replaces and copies: a condition on the partition column. */
export function viewCondition(write: ViewWrite): string {
  const column = ident(PARTITION_COLUMN);
  if (write.partition !== undefined) return `${column} = ${sqlString(write.partition)}`;
  const bounds = [
    ...(write.after !== undefined ? [`${column} > ${sqlString(write.after)}`] : []),
    ...(write.from !== undefined ? [`${column} >= ${sqlString(write.from)}`] : []),
    ...(write.to !== undefined ? [`${column} <= ${sqlString(write.to)}`] : []),
  ];
  return bounds.length ? bounds.join(' AND ') : 'true';
}

/**
 * The rows a write puts into the view: the source's rows at its snapshot, cast to the view's
 * types (the stream layer's window bounds are timestamps without zone; its `watermark` is left out).
 */
export function viewQuery(write: ViewWrite, columns: OutputColumn[]): string {
  const select = columns.map((c) => `CAST(${ident(c.name)} AS ${c.type}) AS ${ident(c.name)}`).join(', ');
  return `SELECT ${select} FROM ${write.source} VERSION AS OF ${BigInt(write.snapshotId).toString()} WHERE ${viewCondition(write)}`;
}

/** Per partition of a write, its rows and checksum (computed on the rows exactly as the view will hold them). */
export function viewChecksumQuery(write: ViewWrite, columns: OutputColumn[]): string {
  const hashed = columns.map((c) => ident(c.name)).join(', ');
  return (
    `SELECT ${ident(PARTITION_COLUMN)} AS p, count(*) AS n, ` +
    `CAST(sum(CAST(xxhash64(${hashed}) AS DECIMAL(38, 0))) AS STRING) AS checksum ` +
    `FROM (${viewQuery(write, columns)}) AS \`rows\` GROUP BY ${ident(PARTITION_COLUMN)}`
  );
}

/**
 * One commit of the view as a step plan (the same machinery as batch steps: the commit records
 * `stepName`, a retry finds it): create the table on first use, then overwrite exactly what the
 * write covers, with the new provenance in the snapshot summary.
 */
export function viewCommitPlan(v: {
  stepName: string;
  table: string;
  columns: OutputColumn[];
  write: ViewWrite;
  provenance: ViewProvenance;
}): BatchStepPlan {
  const query = viewQuery(v.write, v.columns);
  const namespace = v.table.slice(0, v.table.lastIndexOf('.'));
  const schema = v.columns.map((c) => `${ident(c.name)} ${c.type}`).join(', ');
  return {
    setup: [
      `CREATE NAMESPACE IF NOT EXISTS ${namespace}`,
      `CREATE TABLE IF NOT EXISTS ${v.table} (${schema}) USING iceberg PARTITIONED BY (${ident(PARTITION_COLUMN)}) ` +
        `TBLPROPERTIES ('format-version' = '2')`,
    ],
    query,
    overwrite: viewCondition(v.write),
    table: v.table,
    options: {
      [`snapshot-property.${STEP_PROPERTY}`]: v.stepName,
      [`snapshot-property.${VIEW_PROPERTY}`]: JSON.stringify(v.provenance),
    },
  };
}

/** The provenance a snapshot summary carries; an empty view's when it has none (a table no commit of Sluice's wrote). */
export function parseProvenance(summary: Record<string, string>): ViewProvenance {
  const raw = summary[VIEW_PROPERTY];
  return raw ? (JSON.parse(raw) as ViewProvenance) : { partitions: {} };
}

const ident = (s: string) => `\`${s.replace(/`/g, '``')}\``;
