/**
 * Proof that each engine of the local stack is real: Kafka through kafkajs, a batch step reading
 * Kafka by offsets into an Iceberg partition (by spark-submit, and on the Spark Connect server),
 * read back as Arrow, and a Flink SQL job through the SQL Gateway. Needs `sluice stack up` (the test script brings it up).
 */
import * as crypto from 'node:crypto';
import { consumeJson, ensureTopic, produceJson, type PartitionOffsets } from '../../engines/kafka';
import { isPermanentSparkMessage, listSparkApps, submitSparkSql, SparkJobRejected } from '../../engines/spark';
import {
  connectServerJobs,
  jobHasTag,
  jobOperationId,
  SparkConnectClient,
  SparkConnectError,
  sqlQuery,
} from '../../engines/spark-connect';
import { executionIds, runConnectStep, stepTag } from '../../engines/spark-connect-step';
import { sparkTableName } from '../../lib/lake-catalog';
import { batchStepPlan } from '../../lib/spark-step';
import { lakeRows, sqlRows } from '../helpers/lake';
import { listFlinkJobs, SqlGatewaySession, waitFlinkJob, FlinkSqlRejected } from '../../engines/flink';
import { testDeps, testEnv } from '../helpers/worker';

jest.setTimeout(240_000);

const deps = testDeps(testEnv('it-engines'));
const run = `${Date.now().toString(36)}`;
const topic = `it-events-${run}`;
const events = [
  { user: 'ana', amount: 10, ts: 1_700_000_000_000 },
  { user: 'bo', amount: 5, ts: 1_700_000_001_000 },
  { user: 'ana', amount: 7, ts: 1_700_000_002_000 },
  { user: 'cy', amount: 1, ts: 1_700_000_003_000 },
  { user: 'bo', amount: 20, ts: 1_700_000_004_000 },
];
const later = [{ user: 'ana', amount: 1000, ts: 1_700_000_005_000 }];
let firstRange: { from: PartitionOffsets; to: PartitionOffsets };

beforeAll(async () => {
  await ensureTopic(deps.kafka, topic);
  firstRange = await produceJson(deps.kafka, topic, events, (e) => (e as { user: string }).user);
  // Written after the range the batch jobs read: it must not show up in their output.
  await produceJson(deps.kafka, topic, later);
});

test('kafka: a topic is created, produced to and consumed from with kafkajs', async () => {
  expect(firstRange.from).toEqual({ '0': 0 });
  expect(firstRange.to).toEqual({ '0': 5 });
  const read = await consumeJson(deps.kafka, topic);
  expect(read).toEqual([...events, ...later]);
});

const STEP_SQL =
  'SELECT user, COUNT(*) AS events, SUM(amount) AS total, MIN(timestamp_millis(ts)) AS first_seen FROM events GROUP BY user';
const TOTALS = [
  { user: 'ana', events: 2, total: 17, first_seen: 1_700_000_000_000 },
  { user: 'bo', events: 2, total: 25, first_seen: 1_700_000_001_000 },
  { user: 'cy', events: 1, total: 1, first_seen: 1_700_000_003_000 },
];

/** The step both engines run: the topic's first five records, per-user totals, into one partition. */
function plan(stepName: string, partition: string) {
  return batchStepPlan({
    stepName,
    sources: [
      {
        view: 'events',
        format: 'kafka',
        bootstrapServers: deps.brokers.join(','),
        topic,
        startingOffsets: firstRange.from,
        endingOffsets: firstRange.to,
        schema: 'user STRING, amount BIGINT, ts BIGINT',
      },
    ],
    sql: STEP_SQL,
    table: TABLE,
    partition,
  });
}
const TABLE = sparkTableName('it-engines', 'batch');

test('spark: spark-submit reads the topic by offsets and commits an Iceberg partition that Node reads as Arrow', async () => {
  const appName = `it-engines-${run}`;
  const partition = `submit-${run}`;
  const result = await submitSparkSql(deps.spark, { appName, plan: plan(appName, partition) });
  expect(result.rows).toBe(3);
  expect(result.applicationId).toMatch(/^app-/);
  expect(result.snapshotId).toMatch(/^\d+$/);
  expect(await lakeRows(deps, 'it-engines', partition, result.snapshotId)).toEqual(TOTALS);
  // The application really ran on the standalone master.
  const apps = await listSparkApps(deps.spark.uiUrl);
  expect([...apps.active, ...apps.completed].some((a) => a.name === appName && a.id === result.applicationId)).toBe(
    true,
  );
  // The same step again (an activity retry): its result comes back, and no second application runs.
  const again = await submitSparkSql(deps.spark, { appName, plan: plan(appName, 'would-write-elsewhere') });
  expect(again).toMatchObject({ applicationId: result.applicationId, rows: 3, snapshotId: result.snapshotId });
  const after = await listSparkApps(deps.spark.uiUrl);
  expect([...after.active, ...after.completed].filter((a) => a.name === appName)).toHaveLength(1);
});

test('spark: bad SQL is rejected with the engine message and is not retryable', async () => {
  const appName = `it-engines-bad-${run}`;
  const bad = { ...plan(appName, `bad-${run}`), query: 'SELECT no_such_column FROM no_such_table' };
  await expect(submitSparkSql(deps.spark, { appName, plan: bad })).rejects.toThrow(SparkJobRejected);
});

describe('spark connect', () => {
  const client = new SparkConnectClient(deps.sparkConnect);
  afterAll(() => client.close());

  test('a step commits its partition once: run again under the same step name, it finds the commit and executes nothing', async () => {
    const stepName = `it-engines-connect-${run}`;
    const partition = `connect-${run}`;
    const first = await runConnectStep(client, {
      stepName,
      plan: plan(stepName, partition),
      ids: executionIds(stepName, 1),
      earlier: [],
    });
    expect(first).toMatchObject({
      via: 'executed',
      commit: { rows: 3, operationId: executionIds(stepName, 1).operationId },
    });
    expect(await lakeRows(deps, 'it-engines', partition)).toEqual(TOTALS);
    const again = await runConnectStep(client, {
      stepName,
      plan: plan(stepName, partition),
      ids: executionIds(stepName, 2),
      earlier: [executionIds(stepName, 1)],
    });
    expect(again).toEqual({ via: 'found', commit: first.commit });
    // Spark's own record: no job ever ran for the second execution's operation.
    const { jobs } = await connectServerJobs(deps.sparkConnect.uiUrl);
    const ops = new Set(jobs.filter((j) => jobHasTag(j, stepTag(stepName))).map(jobOperationId));
    expect(ops.has(executionIds(stepName, 2).operationId)).toBe(false);
    expect(ops.has(executionIds(stepName, 1).operationId)).toBe(true);
  });

  test('another step over the same partition replaces it, never adds to it, even with an empty result', async () => {
    const partition = `replace-${run}`;
    for (const n of [1, 2]) {
      const stepName = `it-engines-replace-${run}-${n}`;
      const out = await runConnectStep(client, {
        stepName,
        plan: plan(stepName, partition),
        ids: executionIds(stepName, 1),
        earlier: [],
      });
      expect(out.commit?.rows).toBe(3);
    }
    expect(await lakeRows(deps, 'it-engines', partition)).toEqual(TOTALS);
    const [latest] = await sqlRows(
      deps,
      `SELECT summary['deleted-records'] AS deleted, summary['added-records'] AS added FROM ${TABLE}.snapshots ORDER BY committed_at DESC LIMIT 1`,
    );
    expect(latest).toEqual({ deleted: '3', added: '3' });
    // A re-run whose result is empty leaves the partition empty (not its old rows).
    const stepName = `it-engines-replace-${run}-empty`;
    const empty = {
      ...plan(stepName, partition),
      query: `SELECT * FROM (${plan(stepName, partition).query}) WHERE false`,
    };
    const out = await runConnectStep(client, { stepName, plan: empty, ids: executionIds(stepName, 1), earlier: [] });
    expect(out.commit).toMatchObject({ rows: 0 });
    expect(await lakeRows(deps, 'it-engines', partition)).toEqual([]);
  });

  test('the server refuses an operation id it has run before', async () => {
    const session = crypto.randomUUID();
    const operationId = crypto.randomUUID();
    await client.execute({ sessionId: session, operationId, plan: sqlQuery('SELECT 1 AS one') });
    await expect(
      client.execute({ sessionId: session, operationId, plan: sqlQuery('SELECT 1 AS one') }),
    ).rejects.toThrow(/INVALID_HANDLE\.OPERATION_(ABANDONED|ALREADY_EXISTS)/);
    await client.releaseSession(session);
  });

  test("bad SQL fails with Spark's error class, recognised as permanent", async () => {
    const session = crypto.randomUUID();
    const err = await client
      .execute({
        sessionId: session,
        operationId: crypto.randomUUID(),
        plan: sqlQuery('SELECT no_such_column FROM no_such_table'),
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SparkConnectError);
    expect((err as SparkConnectError).errorClass).toBe('TABLE_OR_VIEW_NOT_FOUND');
    expect(isPermanentSparkMessage((err as Error).message)).toBe(true);
    await client.releaseSession(session);
  });
});

test('flink: a SQL job through the SQL Gateway reads the topic and writes aggregates to another topic', async () => {
  const outTopic = `it-totals-${run}`;
  await ensureTopic(deps.kafka, outTopic);
  const session = await SqlGatewaySession.open(deps.flink.gatewayUrl, `it-${run}`, {
    'execution.runtime-mode': 'batch',
  });
  try {
    await session.execute(`CREATE TABLE events (
        \`user\` STRING, amount BIGINT, ts BIGINT
      ) WITH (
        'connector' = 'kafka', 'topic' = '${topic}',
        'properties.bootstrap.servers' = '${deps.brokers.join(',')}',
        'properties.group.id' = 'it-${run}',
        'scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = 'partition:0,offset:0',
        'scan.bounded.mode' = 'specific-offsets', 'scan.bounded.specific-offsets' = 'partition:0,offset:5',
        'format' = 'json')`);
    await session.execute(`CREATE TABLE totals (
        \`user\` STRING, events BIGINT, total BIGINT
      ) WITH (
        'connector' = 'kafka', 'topic' = '${outTopic}',
        'properties.bootstrap.servers' = '${deps.brokers.join(',')}',
        'format' = 'json')`);
    const jobName = `it-flink-${run}`;
    const { jobId } = await session.execute(
      'INSERT INTO totals SELECT `user`, COUNT(*) AS events, SUM(amount) AS total FROM events GROUP BY `user`',
      { 'pipeline.name': jobName },
    );
    expect(jobId).toMatch(/^[0-9a-f]{32}$/);
    expect(await waitFlinkJob(deps.flink.restUrl, jobId!)).toBe('FINISHED');
    expect((await listFlinkJobs(deps.flink.restUrl)).find((j) => j.jid === jobId)?.name).toBe(jobName);

    const rows = (await consumeJson(deps.kafka, outTopic)) as { user: string; events: number; total: number }[];
    expect(rows.sort((a, b) => a.user.localeCompare(b.user))).toEqual([
      { user: 'ana', events: 2, total: 17 },
      { user: 'bo', events: 2, total: 25 },
      { user: 'cy', events: 1, total: 1 },
    ]);

    await expect(session.execute('SELECT nope FROM missing_table')).rejects.toThrow(FlinkSqlRejected);
  } finally {
    await session.close();
  }
});
