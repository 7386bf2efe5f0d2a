/**
 * Proof that each engine of the local stack is real: Kafka through kafkajs, a Spark SQL job by
 * spark-submit reading Kafka by offsets into Parquet read back as Arrow, and a Flink SQL job
 * through the SQL Gateway. Needs `sluice stack up` (the test script brings it up).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { consumeJson, ensureTopic, produceJson, type PartitionOffsets } from '../../engines/kafka';
import { readPartition, tableRows } from '../../engines/lake';
import { listSparkApps, submitSparkSql, SparkJobRejected } from '../../engines/spark';
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

test('spark: spark-submit reads the topic by offsets and writes Parquet that Node reads as Arrow', async () => {
  const out = path.join(deps.lake, 'it-engines', 'batch', run);
  const appName = `it-engines-${run}`;
  const result = await submitSparkSql(deps.spark, {
    appName,
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
    sql: 'SELECT user, COUNT(*) AS events, SUM(amount) AS total, MIN(timestamp_millis(ts)) AS first_seen FROM events GROUP BY user',
    output: { path: out },
  });
  expect(result.rows).toBe(3);
  expect(result.applicationId).toMatch(/^app-/);

  const table = readPartition(out);
  expect(table.schema.fields.map((f) => f.name)).toEqual(['user', 'events', 'total', 'first_seen']);
  const rows = tableRows(table).sort((a, b) => String(a.user).localeCompare(String(b.user)));
  expect(rows.map(({ user, events, total }) => ({ user, events, total }))).toEqual([
    { user: 'ana', events: 2, total: 17 },
    { user: 'bo', events: 2, total: 25 },
    { user: 'cy', events: 1, total: 1 },
  ]);
  expect(rows[0]!.first_seen).toBe(1_700_000_000_000);
  // Atomic write: no temporary folder is left beside the partition.
  expect(fs.readdirSync(path.dirname(out)).filter((f) => f.startsWith('.'))).toEqual([]);
  // The application really ran on the standalone master.
  const apps = await listSparkApps(deps.spark.uiUrl);
  expect([...apps.active, ...apps.completed].some((a) => a.name === appName && a.id === result.applicationId)).toBe(
    true,
  );
  // The same step again (an activity retry): its result comes back, and no second application runs.
  const again = await submitSparkSql(deps.spark, {
    appName,
    sources: [],
    sql: 'SELECT 1 AS would_overwrite',
    output: { path: out },
  });
  expect(again.applicationId).toBe(result.applicationId);
  expect(again.rows).toBe(3);
  const after = await listSparkApps(deps.spark.uiUrl);
  expect([...after.active, ...after.completed].filter((a) => a.name === appName)).toHaveLength(1);
});

test('spark: bad SQL is rejected with the engine message and is not retryable', async () => {
  await expect(
    submitSparkSql(deps.spark, {
      appName: `it-engines-bad-${run}`,
      sources: [],
      sql: 'SELECT no_such_column FROM no_such_table',
      output: { path: path.join(deps.lake, 'it-engines', 'batch', `bad-${run}`) },
    }),
  ).rejects.toThrow(SparkJobRejected);
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
