/**
 * The consistency check of a lambda partition (docs/consistency.md): the batch layer's partition
 * at the snapshot its run committed against the stream layer's at a pinned snapshot. Both sides
 * are resolved to the Parquet data files Iceberg lists for the partition at those snapshots and
 * checked in-process (DuckDB); a side above the size limit, or one with delete files, is checked
 * by Spark through Spark Connect instead (the same plan in Spark's dialect: same semantics, same
 * report). The late-data explanation counts the stream's own late records of the partition
 * (`lake.<pipeline>.late`). The whole report is kept as JSON beside the partition:
 * `<lake>/checks/<pipeline>/<partition>/check-<n>.json`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkParquet } from '../engines/consistency-check';
import { partitionFiles } from '../engines/lake-view';
import { SparkConnectError } from '../engines/spark-connect';
import { queryRows, withSession } from '../engines/spark-connect-step';
import type { CheckReport } from '../lib/consistency/report';
import { runCheck, type RunCheckInput } from '../lib/consistency/run';
import type { Tolerance } from '../lib/consistency/tolerance';
import { sparkTableName, type LakeLayer } from '../lib/lake-catalog';
import { PARTITION_COLUMN, sqlString } from '../lib/spark-step';
import type { CheckFigures } from '../workflows/messages';
import type { ActivityDeps } from './deps';

export interface LambdaCheckInput {
  pipeline: string;
  partition: string;
  batchSnapshot: string;
  /** The stream layer's snapshot to compare against; undefined when it has committed nothing yet. */
  streamSnapshot?: string;
  keys: string[];
  tolerances: Tolerance[];
  /** Partitions with more rows than this on a side are checked by Spark. */
  localMaxRows: number;
  /** The count aggregate, for the late-data explanation. */
  countColumn?: string;
  /** 1 for the first check of the partition, 2 after a recompute. */
  attempt: number;
  /**
   * The two sides, when they are not the pipeline's batch and stream layers: e.g. a Kappa
   * reprocess compares the new stream generation's table ("batch" side, the candidate) with the
   * serving one's. @default the pipeline's `batch` and `stream` tables
   */
  tables?: { batch: LakeTable; stream: LakeTable };
  /** The report's file name, without `.json`. @default `check-<attempt>` */
  reportName?: string;
}

/** A pipeline's table of a lake layer: `lake.<pipeline>.<layer>`. */
export interface LakeTable {
  pipeline: string;
  layer: LakeLayer;
}

/** Columns of the lake tables that are not values to compare: the partition (equal by construction) and the stream's firing watermark. */
const NOT_VALUES = [PARTITION_COLUMN, 'watermark'];

export function createLambdaCheckActivities(deps: ActivityDeps) {
  return {
    /** Checks one partition of a lambda pipeline and keeps its report; answers the report's figures. */
    async checkLambdaPartition(input: LambdaCheckInput): Promise<CheckFigures> {
      const batch = sparkTableName(
        input.tables?.batch.pipeline ?? input.pipeline,
        input.tables?.batch.layer ?? 'batch',
      );
      const stream = sparkTableName(
        input.tables?.stream.pipeline ?? input.pipeline,
        input.tables?.stream.layer ?? 'stream',
      );
      const { report, engine } = await withSession(deps.sparkConnect, async (client, sessionId) => {
        const session = { client, sessionId };
        const batchFiles = await partitionFiles(session, {
          table: batch,
          snapshotId: input.batchSnapshot,
          partition: input.partition,
        });
        const streamFiles = input.streamSnapshot
          ? await partitionFiles(session, {
              table: stream,
              snapshotId: input.streamSnapshot,
              partition: input.partition,
            })
          : { files: [], rows: 0, deleteFiles: 0 };
        const droppedLateRecords = input.countColumn
          ? await lateRecords(session, input.pipeline, input.partition)
          : undefined;
        const common = {
          keys: input.keys,
          tolerances: input.tolerances,
          ignore: NOT_VALUES,
          ...(input.countColumn && droppedLateRecords !== undefined
            ? { lateData: { countColumn: input.countColumn, droppedLateRecords } }
            : {}),
        };
        const local =
          batchFiles.deleteFiles === 0 &&
          streamFiles.deleteFiles === 0 &&
          Math.max(batchFiles.rows, streamFiles.rows) <= input.localMaxRows &&
          batchFiles.files.length > 0 &&
          streamFiles.files.length > 0;
        if (local) {
          return {
            engine: 'local' as const,
            report: await checkParquet({
              batch: { files: batchFiles.files },
              stream: { files: streamFiles.files },
              ...common,
            }),
          };
        }
        // Spark: the tables themselves at the pinned snapshots (also when a side has no file: an empty side).
        const at = (table: string, snapshot: string | undefined) =>
          snapshot
            ? `(SELECT * FROM ${table} VERSION AS OF ${BigInt(snapshot).toString()} WHERE \`${PARTITION_COLUMN}\` = ${sqlString(input.partition)})`
            : `(SELECT * FROM ${table} WHERE false)`;
        const exec = (sql: string) => queryRows(client, sessionId, sql);
        const request: RunCheckInput = {
          dialect: 'spark',
          batch: { relation: `${at(batch, input.batchSnapshot)} AS \`b\`` },
          stream: { relation: `${at(stream, input.streamSnapshot)} AS \`s\`` },
          ...common,
        };
        return { engine: 'spark' as const, report: await runCheck(exec, request) };
      });
      const file = path.join(
        deps.lake,
        'checks',
        input.pipeline,
        input.partition,
        `${input.reportName ?? `check-${input.attempt}`}.json`,
      );
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, `${JSON.stringify({ ...input, report }, null, 2)}\n`);
      return figuresOf(report, file, engine);
    },
  };
}

/** The stream's late records of a partition (0 without a late table: nothing was late yet). */
async function lateRecords(
  s: { client: Parameters<typeof queryRows>[0]; sessionId: string },
  pipeline: string,
  partition: string,
): Promise<number> {
  try {
    const [row] = await queryRows(
      s.client,
      s.sessionId,
      `SELECT count(*) AS n FROM ${sparkTableName(pipeline, 'late')} WHERE \`${PARTITION_COLUMN}\` = ${sqlString(partition)}`,
    );
    return Number(row?.n ?? 0);
  } catch (err) {
    if (err instanceof SparkConnectError && err.errorClass === 'TABLE_OR_VIEW_NOT_FOUND') return 0;
    throw err;
  }
}

function figuresOf(report: CheckReport, file: string, engine: 'local' | 'spark'): CheckFigures {
  return {
    consistent: report.consistent,
    matched: report.matched,
    mismatched: report.mismatched,
    missingInBatch: report.missingInBatch,
    missingInStream: report.missingInStream,
    duplicateKeys: report.duplicateKeys,
    report: file,
    engine,
    ...(report.lateData
      ? {
          lateData: {
            difference: report.lateData.difference,
            droppedLateRecords: report.lateData.droppedLateRecords,
            explained: report.lateData.explained,
          },
        }
      : {}),
  };
}
