/**
 * The activities of a lambda pipeline (docs/lambda.md): how far the stream layer has committed,
 * the commits of the serving view `lake.<pipeline>.merged` (a batch partition published, the
 * stream partitions after the high-water mark refreshed: each one atomic commit, found again by
 * its step name when a retry follows a crash), and the expiry of old view snapshots.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ErrorType, rootCauseMessage } from '../lib/errors';
import { SparkConnectClient } from '../engines/spark-connect';
import { queryRows, withSession } from '../engines/spark-connect-step';
import { currentSnapshot, streamProgress, viewSnapshots, type StreamProgress } from '../engines/lake-view';
import { sparkTableName, type LakeLayer } from '../lib/lake-catalog';
import {
  viewChecksumQuery,
  viewCommitPlan,
  type PartitionProvenance,
  type ViewProvenance,
  type ViewWrite,
} from '../lib/lambda-view';
import type { OutputColumn } from '../lib/pipelines';
import { PARTITION_COLUMN, sqlString } from '../lib/spark-step';
import { rescale, type RescaleRequest, type RescaleResult } from '../workflows/messages';
import { runPlanOnConnect } from './batch';
import type { ActivityDeps } from './deps';

export interface ViewCommitInput {
  pipeline: string;
  /** Deterministic per workflow run and commit: the commit records it, a retry finds it. */
  stepName: string;
  columns: OutputColumn[];
  /**
   * What the commit copies: `layer` and `snapshotId` of the source; the table is the layer's table
   * of `write.pipeline` (a Kappa generation's) or else of the view's own pipeline.
   */
  write: Omit<ViewWrite, 'source'> & { pipeline?: string };
  /** The view's provenance before this commit. */
  provenance: ViewProvenance;
  /** For a batch publication: the check's verdict and report, recorded with the partition. */
  published?: Pick<PartitionProvenance, 'check' | 'report' | 'flagged'>;
  /** The high-water mark after this commit. */
  highWaterMark?: string;
  /** Top-level provenance to record with this commit (a Kappa pipeline's serving generation). */
  annotate?: Pick<ViewProvenance, 'generation'>;
}

export interface ViewCommitResult {
  /** The view's snapshot holding the commit; undefined when the commit wrote nothing and found no earlier one. */
  snapshotId?: string;
  provenance: ViewProvenance;
  via: 'found' | 'reattached' | 'executed';
}

export function createLambdaActivities(deps: ActivityDeps) {
  return {
    /**
     * Forwards a rescale to the pipeline's speed layer (an update of `stream/<pipeline>`), so that
     * `rescale` sent to `lambda/<pipeline>` reaches it; answers the stream's result.
     */
    async rescaleStream(input: { workflowId: string; request: RescaleRequest }): Promise<RescaleResult> {
      if (!deps.temporal) throw new Error('rescaleStream needs a Temporal client in the activity dependencies');
      try {
        return await deps
          .temporal()
          .workflow.getHandle(input.workflowId)
          .executeUpdate(rescale, { args: [input.request] });
      } catch (err) {
        // The stream refused or rolled back the rescale: its answer, once (a retry would rescale again).
        if (err instanceof WorkflowUpdateFailedError) {
          throw ApplicationFailure.create({
            message: rootCauseMessage(err),
            type: ErrorType.rescaleFailed,
            nonRetryable: true,
          });
        }
        throw err;
      }
    },

    /** A workflow's execution status now (`NOT_FOUND` when the server has none): a Kappa candidate that ended early is rejected. */
    async workflowStatus(input: { workflowId: string }): Promise<{ status: string }> {
      if (!deps.temporal) throw new Error('workflowStatus needs a Temporal client in the activity dependencies');
      const described = await deps
        .temporal()
        .workflow.getHandle(input.workflowId)
        .describe()
        .catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return undefined;
          throw err;
        });
      return { status: described?.status.name ?? 'NOT_FOUND' };
    },

    /**
     * Waits until a workflow (the lambda's speed layer, told to cancel) has ended, heartbeating:
     * a lambda pipeline is over only once its stream has stopped (its final savepoint taken, its
     * Flink job gone, its grant released). A workflow that is already gone counts as ended.
     */
    async awaitWorkflowEnd(input: { workflowId: string }): Promise<{ status: string }> {
      if (!deps.temporal) throw new Error('awaitWorkflowEnd needs a Temporal client in the activity dependencies');
      const handle = deps.temporal().workflow.getHandle(input.workflowId);
      const ctx = Context.current();
      for (;;) {
        const described = await handle.describe().catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return undefined;
          throw err;
        });
        if (!described || described.status.name !== 'RUNNING') return { status: described?.status.name ?? 'NOT_FOUND' };
        ctx.heartbeat({ status: described.status.name });
        await ctx.sleep(1000);
      }
    },

    /**
     * Fault injection (`faults.corruptBatch`): adds 1 to `column` in the rows of the partition's
     * first window, in the batch table (a real UPDATE: one more snapshot). A retry may add 1 again:
     * the partition is corrupt either way. Returns the snapshot holding the corruption.
     */
    async corruptBatchPartition(input: {
      pipeline: string;
      partition: string;
      column: string;
    }): Promise<{ snapshotId: string }> {
      const table = sparkTableName(input.pipeline, 'batch');
      const column = `\`${input.column.replace(/`/g, '``')}\``;
      const where = `\`${PARTITION_COLUMN}\` = ${sqlString(input.partition)}`;
      return withSession(deps.sparkConnect, async (client, sessionId) => {
        await queryRows(
          client,
          sessionId,
          `UPDATE ${table} SET ${column} = ${column} + 1 WHERE ${where} AND \`window_start\` = ` +
            `(SELECT min(\`window_start\`) FROM ${table} WHERE ${where})`,
        );
        const snapshotId = await currentSnapshot({ client, sessionId }, table);
        if (!snapshotId) throw new Error(`${table} has no snapshot after the update`);
        return { snapshotId };
      });
    },

    /** The stream layer's committed progress: its snapshot, watermark and rows per partition. */
    async lambdaStreamProgress(input: { pipeline: string }): Promise<StreamProgress> {
      return withSession(deps.sparkConnect, (client, sessionId) =>
        streamProgress({ client, sessionId }, sparkTableName(input.pipeline, 'stream')),
      );
    },

    /**
     * One commit of the serving view: the rows `write` covers replaced by the source layer's rows
     * at its snapshot, and the view's new provenance (rows and checksum of every partition the
     * commit wrote, computed on the pinned source) in the snapshot summary.
     */
    async commitView(input: ViewCommitInput): Promise<ViewCommitResult> {
      const { pipeline: sourcePipeline, ...covers } = input.write;
      const write: ViewWrite = {
        ...covers,
        source: sparkTableName(sourcePipeline ?? input.pipeline, input.write.layer),
      };
      const table = sparkTableName(input.pipeline, 'merged');
      const sums = await withSession(deps.sparkConnect, (client, sessionId) =>
        queryRows(client, sessionId, viewChecksumQuery(write, input.columns)),
      );
      const provenance = nextProvenance(input, write, sums);
      const plan = viewCommitPlan({ stepName: input.stepName, table, columns: input.columns, write, provenance });
      const { outcome } = await runPlanOnConnect(new SparkConnectClient(deps.sparkConnect), input.stepName, plan);
      return { snapshotId: outcome.commit?.snapshotId, provenance, via: outcome.via };
    },

    /**
     * Drops a pipeline's lake tables of these layers with their files (a Kappa generation that
     * was rejected or whose retention ended). Idempotent: a table already gone is skipped.
     */
    async dropLakeTables(input: { pipeline: string; layers: LakeLayer[] }): Promise<{ dropped: string[] }> {
      const tables = input.layers.map((layer) => sparkTableName(input.pipeline, layer));
      await withSession(deps.sparkConnect, async (client, sessionId) => {
        for (const table of tables) await queryRows(client, sessionId, `DROP TABLE IF EXISTS ${table} PURGE`);
      });
      return { dropped: tables };
    },

    /**
     * Expires the view's snapshots older than `olderThanMs` (epoch ms), keeping the newest: time
     * travel reaches back to the retention. Returns how many remain.
     */
    async expireView(input: { pipeline: string; olderThanMs: number }): Promise<{ snapshots: number }> {
      const table = sparkTableName(input.pipeline, 'merged');
      return withSession(deps.sparkConnect, async (client, sessionId) => {
        const before = await viewSnapshots({ client, sessionId }, table);
        if (before.length > 1) {
          // The procedure parses its table argument as SQL: the quoted identifier, catalog left out.
          const identifier = table.slice(table.indexOf('.') + 1);
          await queryRows(
            client,
            sessionId,
            `CALL lake.system.expire_snapshots(table => ${sqlString(identifier)}, ` +
              `older_than => TIMESTAMP_MILLIS(${Math.floor(input.olderThanMs)}), retain_last => 1)`,
          );
        }
        return { snapshots: (await viewSnapshots({ client, sessionId }, table)).length };
      });
    },
  };
}

/**
 * The provenance after a commit: the partitions the write replaced are dropped, the ones it wrote
 * added with their rows and checksum (a partition the write covers that holds no rows is absent
 * from the view, and so from its provenance).
 */
export function nextProvenance(
  input: Pick<ViewCommitInput, 'provenance' | 'published' | 'highWaterMark' | 'annotate'>,
  write: ViewWrite,
  sums: Record<string, unknown>[],
): ViewProvenance {
  const covered = (p: string) =>
    write.partition !== undefined
      ? p === write.partition
      : (write.after === undefined || p > write.after) &&
        (write.from === undefined || p >= write.from) &&
        (write.to === undefined || p <= write.to);
  const partitions: Record<string, PartitionProvenance> = {};
  for (const [p, prov] of Object.entries(input.provenance.partitions)) if (!covered(p)) partitions[p] = prov;
  for (const r of sums) {
    partitions[String(r.p)] = {
      layer: write.layer,
      rows: Number(r.n),
      checksum: String(r.checksum),
      sourceSnapshot: write.snapshotId,
      ...(write.layer === 'batch' ? (input.published ?? {}) : {}),
    };
  }
  // A published batch partition with no rows is still served by the batch layer: record it.
  if (write.layer === 'batch' && write.partition !== undefined && !partitions[write.partition]) {
    partitions[write.partition] = {
      layer: 'batch',
      rows: 0,
      checksum: '0',
      sourceSnapshot: write.snapshotId,
      ...(input.published ?? {}),
    };
  }
  const highWaterMark = input.highWaterMark ?? input.provenance.highWaterMark;
  const generation = input.annotate?.generation ?? input.provenance.generation;
  return {
    ...(highWaterMark !== undefined ? { highWaterMark } : {}),
    ...(generation !== undefined ? { generation } : {}),
    streamSnapshot: write.layer === 'stream' ? write.snapshotId : input.provenance.streamSnapshot,
    partitions: Object.fromEntries(Object.entries(partitions).sort(([a], [b]) => a.localeCompare(b))),
  };
}
