/**
 * The activities of a batch step (docs/architecture.md#batch-pipelines): run one partition's SQL on
 * Spark — on the warm Spark Connect server (`batch.engine: connect`, the default) or as its own
 * spark-submit application (`submit`) — into the pipeline's Iceberg table, then check what the
 * commit holds. Either way the write is one atomic overwrite of exactly the partition whose snapshot
 * records the step, and a retry after a worker crash finds that commit, or the execution still
 * running, before it would start anything.
 */
import { CancelledFailure, Context, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isPermanentSparkMessage, submitSparkSql, SparkJobRejected, type SparkResult } from '../engines/spark';
import { isUnavailable, SparkConnectClient, SparkConnectError } from '../engines/spark-connect';
import {
  executionIds,
  readCommittedPartition,
  runConnectStep,
  withSession,
  stepTag,
  type ConnectStepOutcome,
  type ExecutionIds,
} from '../engines/spark-connect-step';
import { until } from '../lib/poll';
import { ErrorType } from '../lib/errors';
import { sparkTableName, type LakeLayer } from '../lib/lake-catalog';
import { checkBatchOutput, type BatchOutputSummary, type ValidationPlan } from '../lib/pipelines';
import { batchStepPlan, type BatchStepPlan } from '../lib/spark-step';
import type { SparkSource } from '../lib/spark-source';
import type { ActivityDeps } from './deps';

export type BatchEngine = 'connect' | 'submit';

/** A Spark SQL step as workflows describe it: sources, a query, and the lake partition it writes. */
export interface SparkSqlStep {
  /** Deterministic per workflow run and submission: the step's identity in Spark and in the table. */
  appName: string;
  sources: SparkSource[];
  sql: string;
  output: { pipeline: string; layer: LakeLayer; partition: string };
  /** @default 'connect' */
  engine?: BatchEngine;
}

export interface BatchStepResult {
  engine: BatchEngine;
  /** Rows the commit wrote into the partition. */
  rows: number;
  /** The table, e.g. lake.`page-views`.batch. */
  output: string;
  partition: string;
  snapshotId?: string;
  applicationId: string;
  /** Connect: the write's operation id; how the result was reached (found a commit, reattached, executed). */
  operationId?: string;
  via?: 'found' | 'reattached' | 'executed';
  /** Where Spark's UI shows the step's jobs. */
  sparkUi: string;
  /** Submit: the spark-submit log. */
  logFile?: string;
}

const permanent = (type: string, err: Error) =>
  ApplicationFailure.create({ message: err.message, type, nonRetryable: true, cause: err });

/** The pipeline's table of a layer: `lake.<pipeline>.<layer>`. */
const tableOf = (output: { pipeline: string; layer: LakeLayer }) => sparkTableName(output.pipeline, output.layer);

export function createBatchActivities(deps: ActivityDeps) {
  const resolve = (sources: SparkSource[]) =>
    sources.map((s) =>
      s.format === 'kafka' && !s.bootstrapServers ? { ...s, bootstrapServers: deps.brokers.join(',') } : s,
    );
  const connect = () => new SparkConnectClient(deps.sparkConnect);

  return {
    /**
     * One batch step into the pipeline's Iceberg table. Heartbeats carry the step's operation id
     * (connect) or application id (submit); cancellation interrupts the operation or kills the
     * application before the activity reports cancelled. Bad SQL or a missing input fails for good
     * (`SparkJobRejected`, with Spark's message).
     */
    async sparkSql(input: SparkSqlStep): Promise<BatchStepResult> {
      const plan = batchStepPlan({
        stepName: input.appName,
        sources: resolve(input.sources),
        sql: input.sql,
        table: tableOf(input.output),
        partition: input.output.partition,
      });
      return (input.engine ?? 'connect') === 'connect'
        ? runOnConnect(deps, connect(), input, plan)
        : runOnSubmit(deps, input, plan);
    },

    /**
     * Checks a step's commit against the pipeline's validation plan, reading the committed
     * snapshot (not whatever the table holds now): its rows in the partition and the table's
     * columns with Spark's types. Fails permanently with every problem named.
     */
    async validateLakeOutput(input: {
      pipeline: string;
      layer: LakeLayer;
      partition: string;
      plan: ValidationPlan;
      snapshotId?: string;
      /** What the writer reported; must match what the snapshot holds. */
      writtenRows?: number;
    }): Promise<BatchOutputSummary> {
      const table = tableOf(input);
      const fail = (problem: string) =>
        ApplicationFailure.create({
          message: `output ${table} partition ${input.partition}${input.snapshotId ? ` @ snapshot ${input.snapshotId}` : ''}: ${problem}`,
          type: ErrorType.outputValidationFailed,
          nonRetryable: true,
        });
      let read;
      try {
        read = await withSession(deps.sparkConnect, (client, session) =>
          readCommittedPartition(client, session, { table, partition: input.partition, snapshotId: input.snapshotId }),
        );
      } catch (err) {
        if (err instanceof SparkConnectError && err.errorClass === 'TABLE_OR_VIEW_NOT_FOUND') throw fail(err.message);
        throw err;
      }
      const summary: BatchOutputSummary = { rows: read.rows, columns: read.columns };
      const problems = checkBatchOutput(input.plan, summary);
      if (input.writtenRows !== undefined && input.writtenRows !== read.rows) {
        problems.push(`the writer reported ${input.writtenRows} rows, the snapshot holds ${read.rows}`);
      }
      if (problems.length) throw fail(problems.join('; '));
      return summary;
    },

    /** A lake partition's rows as committed (bounded: for small results only). */
    async readLakePartition(input: {
      pipeline: string;
      layer: LakeLayer;
      partition: string;
      snapshotId?: string;
      limit?: number;
    }) {
      const read = await withSession(deps.sparkConnect, (client, session) =>
        readCommittedPartition(client, session, {
          table: tableOf(input),
          partition: input.partition,
          snapshotId: input.snapshotId,
          limit: input.limit ?? 1000,
        }),
      );
      return { numRows: read.rows, rows: read.sample };
    },
  };
}

async function runOnConnect(
  deps: ActivityDeps,
  client: SparkConnectClient,
  input: SparkSqlStep,
  plan: ReturnType<typeof batchStepPlan>,
): Promise<BatchStepResult> {
  const { outcome, sessionId } = await runPlanOnConnect(client, input.appName, plan);
  return {
    engine: 'connect',
    rows: outcome.commit?.rows ?? 0,
    output: plan.table,
    partition: input.output.partition,
    snapshotId: outcome.commit?.snapshotId,
    applicationId: outcome.commit?.applicationId ?? '',
    operationId: outcome.commit?.operationId ?? outcome.ids?.operationId,
    via: outcome.via,
    sparkUi: `${deps.sparkConnect.uiUrl.replace(/\/$/, '')}/connect/session/?id=${sessionId}`,
  };
}

/**
 * One step plan on the Spark Connect server, at most once per step name, from inside an activity:
 * heartbeats name the execution under way, a retry follows what an earlier attempt started (or
 * finds its commit), a server outage is waited out, and cancellation interrupts the execution
 * before the activity reports cancelled. Used by batch steps and by commits of a lambda view.
 */
export async function runPlanOnConnect(
  client: SparkConnectClient,
  stepName: string,
  plan: BatchStepPlan,
): Promise<{ outcome: ConnectStepOutcome; sessionId: string }> {
  const ctx = Context.current();
  const { attempt } = ctx.info;
  // What may still run on the server: the execution the last attempt's heartbeat named, and the
  // first execution of every earlier attempt (a worker can die before its first heartbeat leaves).
  const beatBefore = ctx.info.heartbeatDetails as Partial<ConnectHeartbeat> | undefined;
  const earlier: ExecutionIds[] = [];
  const remember = (ids: ExecutionIds | undefined) => {
    if (ids?.sessionId && ids.operationId && !earlier.some((e) => e.operationId === ids.operationId)) earlier.push(ids);
  };
  remember(beatBefore?.execution);
  for (let a = attempt - 1; a >= 1; a--) remember(executionIds(stepName, a));

  let current: ExecutionIds | undefined;
  const beat = (extra: object = {}) =>
    heartbeat({
      engine: 'connect',
      tag: stepTag(stepName),
      execution: current,
      ...extra,
    } satisfies ConnectHeartbeat);
  const timer = setInterval(() => beat(), 5000);
  try {
    for (let n = 0; ; n++) {
      try {
        const outcome = await runConnectStep(
          client,
          { stepName, plan, ids: executionIds(stepName, attempt, n), earlier },
          {
            signal: ctx.cancellationSignal,
            onExecution: (ids) => {
              current = ids;
              beat();
            },
            onProgress: (p) => beat({ progress: p }),
          },
        );
        return { outcome, sessionId: outcome.ids?.sessionId ?? '' };
      } catch (err) {
        if (!isUnavailable(err) || ctx.cancellationSignal.aborted) throw err;
        // The server went away (restarting, or the connection dropped): the execution under way
        // may still run there. Wait for the server, heartbeating, then look again — without
        // spending the activity's retries on an outage.
        remember(current);
        await until(
          'the Spark Connect server to answer',
          async () => ((await client.answersQuery(2000)) ? true : undefined),
          {
            timeoutMs: 10 * 60_000,
            intervalMs: 1000,
            signal: ctx.cancellationSignal,
          },
        );
      }
    }
  } catch (err) {
    if (ctx.cancellationSignal.aborted) {
      // Stop the execution on the server before reporting: the grant is released after this.
      if (current) {
        await client.interrupt(current.sessionId, { operationId: current.operationId }).catch(() => undefined);
        await client.releaseSession(current.sessionId).catch(() => undefined);
      }
      throw new CancelledFailure('Spark step cancelled', undefined, err as Error);
    }
    if (err instanceof SparkConnectError && !isUnavailable(err) && isPermanentSparkMessage(err.message)) {
      throw permanent(ErrorType.sparkJobRejected, err);
    }
    throw err;
  } finally {
    clearInterval(timer);
    client.close();
  }
}

/** What a connect step's heartbeats carry: the execution under way (its retry reattaches to it). */
interface ConnectHeartbeat {
  engine: 'connect';
  tag: string;
  execution?: ExecutionIds;
  progress?: unknown;
}

async function runOnSubmit(
  deps: ActivityDeps,
  input: SparkSqlStep,
  plan: ReturnType<typeof batchStepPlan>,
): Promise<BatchStepResult> {
  const ctx = Context.current();
  let result: SparkResult;
  try {
    result = await submitSparkSql(
      deps.spark,
      { appName: input.appName, plan },
      { signal: ctx.cancellationSignal, onProgress: (info) => heartbeat({ engine: 'submit', ...info }) },
    );
  } catch (err) {
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure('Spark step cancelled', undefined, err as Error);
    if (err instanceof SparkJobRejected) throw permanent(ErrorType.sparkJobRejected, err);
    throw err;
  }
  return {
    engine: 'submit',
    rows: result.rows,
    output: result.output,
    partition: input.output.partition,
    snapshotId: result.snapshotId ?? undefined,
    applicationId: result.applicationId,
    // The history server shows a finished application's jobs (the master's page only its executors).
    sparkUi: deps.spark.historyUrl
      ? `${deps.spark.historyUrl.replace(/\/$/, '')}/history/${result.applicationId}/jobs/`
      : `${deps.spark.uiUrl.replace(/\/$/, '')}/app/?appId=${result.applicationId}`,
    logFile: result.logFile,
  };
}
