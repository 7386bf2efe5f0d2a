import {
  ApplicationFailure,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../lib/errors';
import { NAME_MESSAGE, NAME_PATTERN } from '../lib/names';
import { SluiceState } from '../lib/search-attributes';

/** The trivial workflow: one activity round trip through the worker. */
export async function helloWorkflow(name: string): Promise<string> {
  const { greet } = proxyActivities<Activities>({ startToCloseTimeout: '10 seconds' });
  return greet(name);
}

export interface HelloPipelineInput {
  /** Names the topics and the lake partition of this run. */
  runId: string;
  /** @default 200 */
  events?: number;
  /** @default 42 */
  seed?: number;
}

export interface UserTotal {
  user: string;
  events: number;
  total: number;
}

export interface HelloPipelineResult {
  topic: string;
  offsets: { from: Record<string, number>; to: Record<string, number> };
  batch: { applicationId: string; table: string; snapshotId?: string; rows: UserTotal[] };
  stream: { jobId: string; topic: string; rows: UserTotal[] };
  agree: boolean;
}

const engine = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  // A worker killed mid-step is noticed within this; the retry follows the job it had started.
  heartbeatTimeout: '20 seconds',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
});
const quick = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
});

async function step<T>(state: string, details: string, fn: () => Promise<T>): Promise<T> {
  upsertSearchAttributes([{ key: SluiceState, value: state }]);
  setCurrentDetails(`**${state}**: ${details}`);
  return fn();
}

/**
 * The hello pipeline touches every engine once: demo events go to Kafka; Spark reads them by
 * offsets and writes per-user totals to the lake (an Iceberg partition, read back as Arrow); Flink computes the
 * same totals through the SQL Gateway into another topic; the two results must agree.
 */
export async function helloPipelineWorkflow(input: HelloPipelineInput): Promise<HelloPipelineResult> {
  if (!NAME_PATTERN.test(input.runId)) {
    throw ApplicationFailure.nonRetryable(
      `runId: ${NAME_MESSAGE} (got ${JSON.stringify(input.runId)})`,
      ErrorType.invalidInput,
    );
  }
  const topic = `hello-events-${input.runId}`;
  const outTopic = `hello-totals-${input.runId}`;
  const count = input.events ?? 200;
  // Event times derive from the workflow's start: deterministic on replay.
  const startTs = workflowInfo().startTime.getTime();

  const offsets = await step('producing', `${count} events to Kafka topic ${topic}`, () =>
    quick.produceDemoEvents({ topic, count, seed: input.seed ?? 42, startTs }),
  );

  const spark = await step('spark', `Spark SQL over ${topic} offsets ${JSON.stringify(offsets)}`, () =>
    engine.sparkSql({
      appName: `sluice-hello-${input.runId}-${workflowInfo().runId}-totals`,
      sources: [
        {
          view: 'events',
          format: 'kafka',
          topic,
          startingOffsets: offsets.from,
          endingOffsets: offsets.to,
          schema: 'user STRING, amount BIGINT, ts BIGINT',
        },
      ],
      sql: 'SELECT user, COUNT(*) AS events, SUM(amount) AS total FROM events GROUP BY user',
      output: { pipeline: 'hello', layer: 'batch', partition: input.runId },
    }),
  );
  const lake = await step('reading-lake', `Iceberg → Arrow from ${spark.output} at snapshot ${spark.snapshotId}`, () =>
    quick.readLakePartition({
      pipeline: 'hello',
      layer: 'batch',
      partition: input.runId,
      snapshotId: spark.snapshotId,
    }),
  );

  await quick.ensureTopic({ topic: outTopic });
  const flinkOffsets = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([p, off]) => `partition:${p},offset:${off}`)
      .join(';');
  const flink = await step('flink', `Flink SQL over ${topic} into ${outTopic}`, () =>
    engine.flinkSqlJob({
      name: `sluice-hello-${input.runId}`,
      properties: { 'execution.runtime-mode': 'batch' },
      ddl: [
        `CREATE TABLE events (\`user\` STRING, amount BIGINT, ts BIGINT) WITH (
          'connector' = 'kafka', 'topic' = '${topic}', 'properties.bootstrap.servers' = '\${KAFKA_BROKERS}',
          'properties.group.id' = 'sluice-hello-${input.runId}',
          'scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = '${flinkOffsets(offsets.from)}',
          'scan.bounded.mode' = 'specific-offsets', 'scan.bounded.specific-offsets' = '${flinkOffsets(offsets.to)}',
          'format' = 'json')`,
        `CREATE TABLE totals (\`user\` STRING, events BIGINT, total BIGINT) WITH (
          'connector' = 'kafka', 'topic' = '${outTopic}', 'properties.bootstrap.servers' = '\${KAFKA_BROKERS}',
          'format' = 'json')`,
      ],
      insert: 'INSERT INTO totals SELECT `user`, COUNT(*), SUM(amount) FROM events GROUP BY `user`',
    }),
  );
  const streamRows = (await step('reading-stream', `results from ${outTopic}`, () =>
    quick.readTopic({ topic: outTopic }),
  )) as UserTotal[];

  const byUser = (rows: UserTotal[]) =>
    rows
      .map((r) => ({ user: String(r.user), events: Number(r.events), total: Number(r.total) }))
      .sort((a, b) => a.user.localeCompare(b.user));
  const batchRows = byUser(lake.rows as unknown as UserTotal[]);
  const stream = byUser(streamRows);
  const agree = JSON.stringify(batchRows) === JSON.stringify(stream);
  upsertSearchAttributes([{ key: SluiceState, value: agree ? 'succeeded' : 'mismatch' }]);
  setCurrentDetails(agree ? '**done**: batch and stream agree' : '**mismatch**: batch and stream differ');
  return {
    topic,
    offsets,
    batch: { applicationId: spark.applicationId, table: spark.output, snapshotId: spark.snapshotId, rows: batchRows },
    stream: { jobId: flink.jobId, topic: outTopic, rows: stream },
    agree,
  };
}
