/**
 * Reads of a lambda pipeline's tables through Spark Connect (docs/lambda.md): how far the stream
 * layer has committed, which Parquet files hold a partition at a snapshot (for the in-process
 * check), and the serving view at a snapshot with its provenance.
 */
import { PARTITION_COLUMN, sqlString } from '../lib/spark-step';
import { parseProvenance, type ViewProvenance } from '../lib/lambda-view';
import { SparkConnectError, type SparkConnectClient } from './spark-connect';
import { mapOf, queryRows } from './spark-connect-step';

type Session = { client: SparkConnectClient; sessionId: string };

const notFound = (err: unknown) => err instanceof SparkConnectError && err.errorClass === 'TABLE_OR_VIEW_NOT_FOUND';

/** The table's current snapshot (its `main` branch), or undefined for a table without one (or no table). */
export async function currentSnapshot(s: Session, table: string): Promise<string | undefined> {
  try {
    const rows = await queryRows(
      s.client,
      s.sessionId,
      `SELECT CAST(snapshot_id AS STRING) AS s FROM ${table}.refs WHERE name = 'main'`,
    );
    return rows[0]?.s === undefined ? undefined : String(rows[0].s);
  } catch (err) {
    if (notFound(err)) return undefined;
    throw err;
  }
}

export interface StreamProgress {
  /** The stream layer's current snapshot; undefined before its first commit. */
  snapshotId?: string;
  /**
   * How far the committed windows reach (epoch ms UTC): every window ending at or before it has
   * fired and is committed. The larger of the rows' firing watermark and their windows' end: the
   * `watermark` column is the one the sink saw, which lags the watermark that fired the row's own
   * window (an operator emits what a watermark fires before it forwards the watermark).
   */
  watermarkMs?: number;
  /** Committed rows per partition at that snapshot. */
  rows: Record<string, number>;
}

/** How far the stream layer has committed, from its table at one snapshot. */
export async function streamProgress(s: Session, table: string): Promise<StreamProgress> {
  const snapshotId = await currentSnapshot(s, table);
  if (!snapshotId) return { rows: {} };
  const rows = await queryRows(
    s.client,
    s.sessionId,
    `SELECT \`${PARTITION_COLUMN}\` AS p, count(*) AS n, ` +
      `unix_millis(CAST(greatest(max(\`watermark\`), max(\`window_end\`)) AS TIMESTAMP)) AS wm ` +
      `FROM ${table} VERSION AS OF ${snapshotId} GROUP BY \`${PARTITION_COLUMN}\``,
  );
  const marks = rows.map((r) => Number(r.wm)).filter(Number.isFinite);
  return {
    snapshotId,
    ...(marks.length ? { watermarkMs: Math.max(...marks) } : {}),
    rows: Object.fromEntries(rows.map((r) => [String(r.p), Number(r.n)])),
  };
}

export interface PartitionFiles {
  /** Local paths of the partition's data files at the snapshot. */
  files: string[];
  rows: number;
  /** Position or equality delete files: the data files alone do not hold the partition's rows. */
  deleteFiles: number;
}

/** The data files that hold a partition at a snapshot (Iceberg's `files` metadata table, time travelled). */
export async function partitionFiles(
  s: Session,
  at: { table: string; snapshotId: string; partition: string },
): Promise<PartitionFiles> {
  const rows = await queryRows(
    s.client,
    s.sessionId,
    `SELECT file_path, content, record_count FROM ${at.table}.files VERSION AS OF ${BigInt(at.snapshotId).toString()} ` +
      `WHERE \`partition\`.\`${PARTITION_COLUMN}\` = ${sqlString(at.partition)}`,
  );
  const data = rows.filter((r) => Number(r.content) === 0);
  return {
    files: data.map((r) => localPath(String(r.file_path))),
    rows: data.reduce((n, r) => n + Number(r.record_count), 0),
    deleteFiles: rows.length - data.length,
  };
}

export interface ViewSnapshot {
  snapshotId: string;
  committedAt: string;
  provenance: ViewProvenance;
}

/** The view's snapshots, oldest first, each with its provenance (time travel: any of them can be read). */
export async function viewSnapshots(s: Session, table: string): Promise<ViewSnapshot[]> {
  let rows: Record<string, unknown>[];
  try {
    rows = await queryRows(
      s.client,
      s.sessionId,
      `SELECT CAST(snapshot_id AS STRING) AS s, CAST(committed_at AS STRING) AS t, summary FROM ${table}.snapshots ORDER BY committed_at`,
    );
  } catch (err) {
    if (notFound(err)) return [];
    throw err;
  }
  return rows.map((r) => ({
    snapshotId: String(r.s),
    committedAt: String(r.t),
    provenance: parseProvenance(mapOf(r.summary)),
  }));
}

/** The view's rows at a snapshot (current when undefined), partitions `from`..`to` inclusive when given, ordered. */
export async function viewRows(
  s: Session,
  at: { table: string; snapshotId?: string; from?: string; to?: string; limit?: number },
): Promise<Record<string, unknown>[]> {
  const version = at.snapshotId ? ` VERSION AS OF ${BigInt(at.snapshotId).toString()}` : '';
  const where = [
    ...(at.from ? [`\`${PARTITION_COLUMN}\` >= ${sqlString(at.from)}`] : []),
    ...(at.to ? [`\`${PARTITION_COLUMN}\` <= ${sqlString(at.to)}`] : []),
  ];
  return queryRows(
    s.client,
    s.sessionId,
    `SELECT * FROM ${at.table}${version}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
      `ORDER BY ALL LIMIT ${at.limit ?? 10_000}`,
  );
}

/** A `file:` URI as Iceberg records it → a local path. */
function localPath(uri: string): string {
  return uri.startsWith('file:') ? decodeURIComponent(uri.replace(/^file:(\/\/)?/, '')) : uri;
}
