import { CancelledFailure, Context, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import * as path from 'node:path';
import type { ActivityDeps } from '../workers/deps';
import { FlinkSqlRejected, SqlGatewaySession, waitFlinkJob } from './flink';
import { consumeJson, endOffsets, ensureTopic, produceJson, type PartitionOffsets } from './kafka';
import { partitionPath, readPartition, tableRows, type LakeLayer } from './lake';
import { findGoneHolders, signalPool, type HolderRef, type PoolMessage } from './pool';
import { readResultMarker, submitSparkSql, SparkJobRejected, type SparkResult, type SparkSqlJob } from './spark';
import { checkBatchOutput, type BatchOutputSummary, type ValidationPlan } from '../lib/pipelines';

/** Error types no retry can fix; workflows list them in `nonRetryableErrorTypes` too. */
export const PERMANENT_ERROR_TYPES = ['SparkJobRejected', 'FlinkSqlRejected', 'InvalidInput'] as const;

export interface DemoEvent {
  user: string;
  amount: number;
  ts: number;
}

/**
 * The activities, built from their engine clients (STYLE.md: a factory receiving its clients, so
 * tests pass real or fake ones). Every activity is idempotent or safe to retry.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    /** The trivial activity of the hello workflow. */
    async greet(name: string): Promise<string> {
      return `Hello, ${name}!`;
    },

    /**
     * Writes `count` deterministic demo events to a topic and returns the offset range written.
     * A retry after a partial write writes again: the range returned is the last complete one.
     */
    async produceDemoEvents(input: { topic: string; count: number; seed: number; startTs: number }) {
      await ensureTopic(deps.kafka, input.topic);
      const events = demoEvents(input.count, input.seed, input.startTs);
      return produceJson(deps.kafka, input.topic, events, (e) => (e as DemoEvent).user);
    },

    /**
     * One Spark SQL step by spark-submit, writing to a lake partition; heartbeats the application
     * id; killed on cancellation. Kafka sources without `bootstrapServers` read the configured brokers.
     */
    async sparkSql(input: SparkSqlStep): Promise<SparkResult> {
      const ctx = Context.current();
      const job: SparkSqlJob = {
        ...input,
        sources: input.sources.map((s) => {
          if (s.format === 'kafka') return s.bootstrapServers ? s : { ...s, bootstrapServers: deps.brokers.join(',') };
          // lake://<pipeline>/<layer>[/<partition glob>]: a path in the configured lake.
          return s.path.startsWith('lake://')
            ? { ...s, path: path.join(deps.lake, s.path.slice('lake://'.length)) }
            : s;
        }),
        output: {
          path: partitionPath(deps.lake, input.output.pipeline, input.output.layer, input.output.partition),
          partitionBy: input.output.partitionBy,
        },
      };
      try {
        return await submitSparkSql(deps.spark, job, {
          signal: ctx.cancellationSignal,
          onProgress: (info) => heartbeat(info),
        });
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('Spark step cancelled');
        if (err instanceof SparkJobRejected) throw ApplicationFailure.nonRetryable(err.message, 'SparkJobRejected');
        throw err;
      }
    },

    /** The end offsets of a topic now: a batch run reads up to them, so its retries read the same records. */
    async kafkaEndOffsets(input: { topic: string }): Promise<PartitionOffsets> {
      return endOffsets(deps.kafka, input.topic);
    },

    /**
     * Checks a written partition against the pipeline's validation plan: complete (`_SUCCESS`), read
     * back through Arrow for its real row count, and its columns (Spark's types, from the result
     * marker written with the data). Fails permanently with every problem named.
     */
    async validateLakeOutput(input: {
      pipeline: string;
      layer: LakeLayer;
      partition: string;
      plan: ValidationPlan;
    }): Promise<BatchOutputSummary> {
      const dir = partitionPath(deps.lake, input.pipeline, input.layer, input.partition);
      const fail = (problem: string) =>
        ApplicationFailure.nonRetryable(`output ${dir}: ${problem}`, 'OutputValidationFailed');
      let table;
      try {
        table = readPartition(dir);
      } catch (err) {
        throw fail((err as Error).message);
      }
      const marker = readResultMarker(dir);
      const summary: BatchOutputSummary = {
        rows: table.numRows,
        columns: marker?.columns ?? table.schema.fields.map((f) => ({ name: f.name, type: String(f.type) })),
      };
      const problems = checkBatchOutput(input.plan, summary);
      if (marker && marker.rows !== table.numRows) {
        problems.push(`the writer reported ${marker.rows} rows, the files hold ${table.numRows}`);
      }
      if (problems.length) throw fail(problems.join('; '));
      return summary;
    },

    /** Reads a lake partition into Arrow and returns its rows (bounded: for small results only). */
    async readLakePartition(input: { pipeline: string; layer: LakeLayer; partition: string; limit?: number }) {
      const table = readPartition(partitionPath(deps.lake, input.pipeline, input.layer, input.partition));
      return { numRows: table.numRows, rows: tableRows(table, input.limit ?? 1000) };
    },

    /**
     * Runs a bounded Flink SQL job through the SQL Gateway: the DDL, then one INSERT, then waits
     * for the job to finish. Cancellation cancels the Flink job. `${KAFKA_BROKERS}` in the DDL
     * stands for the configured brokers (workflow code does not know engine addresses).
     */
    async flinkSqlJob(input: { name: string; ddl: string[]; insert: string; properties?: Record<string, string> }) {
      const ctx = Context.current();
      const session = await SqlGatewaySession.open(deps.flink.gatewayUrl, input.name, input.properties);
      try {
        for (const statement of input.ddl) {
          await session.execute(statement.replaceAll('${KAFKA_BROKERS}', deps.brokers.join(',')));
        }
        const { jobId } = await session.execute(input.insert, { 'pipeline.name': input.name });
        if (!jobId) throw new Error(`the SQL Gateway returned no job id for ${input.name}`);
        heartbeat({ jobId });
        const beat = setInterval(() => heartbeat({ jobId }), 5000);
        const cancel = () =>
          void fetch(`${deps.flink.restUrl}/jobs/${jobId}?mode=cancel`, { method: 'PATCH' }).catch(() => undefined);
        ctx.cancellationSignal.addEventListener('abort', cancel, { once: true });
        try {
          const state = await waitFlinkJob(deps.flink.restUrl, jobId);
          return { jobId, state };
        } finally {
          clearInterval(beat);
          ctx.cancellationSignal.removeEventListener('abort', cancel);
        }
      } catch (err) {
        if (err instanceof FlinkSqlRejected) throw ApplicationFailure.nonRetryable(err.message, 'FlinkSqlRejected');
        throw err;
      } finally {
        await session.close();
      }
    },

    async ensureTopic(input: { topic: string }): Promise<void> {
      await ensureTopic(deps.kafka, input.topic);
    },

    /** The pool scheduler's liveness check: which of these holders have ended or been reset. */
    async findGoneHolders(holders: HolderRef[]): Promise<HolderRef[]> {
      if (!deps.temporal) throw new Error('findGoneHolders needs a Temporal client (ActivityDeps.temporal)');
      return findGoneHolders(deps.temporal(), holders);
    },

    /** A holder's request or release to its pool's scheduler, sent by `withAdmission`. */
    async signalPool(message: PoolMessage): Promise<void> {
      if (!deps.temporal) throw new Error('signalPool needs a Temporal client (ActivityDeps.temporal)');
      return signalPool(deps.temporal(), message);
    },

    /** Reads a topic's JSON records up to its end offsets (bounded: for small results only). */
    async readTopic(input: { topic: string }): Promise<unknown[]> {
      return consumeJson(deps.kafka, input.topic);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** A Spark SQL step as workflows describe it: the output is a lake partition, not a path. */
export type SparkSqlStep = Omit<SparkSqlJob, 'output'> & {
  output: { pipeline: string; layer: LakeLayer; partition: string; partitionBy?: string[] };
};
export type { PartitionOffsets };

/** Deterministic demo events: a small xorshift generator, so a seed always gives the same data. */
export function demoEvents(count: number, seed: number, startTs: number): DemoEvent[] {
  const users = ['ana', 'bo', 'cy', 'dee', 'eli'];
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return Array.from({ length: count }, (_, i) => ({
    user: users[next() % users.length]!,
    amount: (next() % 100) + 1,
    ts: startTs + i * 1000,
  }));
}
