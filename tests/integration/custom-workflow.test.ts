/**
 * A pipeline written as a user's own Temporal workflow, on the real stack: the example
 * `pipelines/workflows/repair-where-differs.ts`, loaded from its folder by
 * `sluice worker --workflows`, runs a Flink speed layer, a Spark step per partition, the check
 * against the stream, and a recompute into the serving view only where the two differ; the
 * worker is SIGKILLed during a Spark step and another takes over; the run is listed with Sluice's
 * search attributes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { poolTaskQueue } from '../../config/env';
import { ensureTopic, produceJson } from '../../engines/kafka';
import { viewSnapshots } from '../../engines/lake-view';
import { withSession } from '../../engines/spark-connect-step';
import { sparkTableName } from '../../lib/lake-catalog';
import { definePipeline, type LambdaPipelineSpec } from '../../lib/pipelines';
import { until } from '../../lib/poll';
import type { RepairWhereDiffersResult } from '../../pipelines/workflows/repair-where-differs';
import { poolSchedulerWorkflow } from '../../workflows';
import { sqlRows } from '../helpers/lake';
import { pageViewsComputation, pageViewTotals, quickStreamSettings } from '../helpers/page-views';
import { connectTestClient, spawnWorkerProcess, testDeps, testEnv, type WorkerProcess } from '../helpers/worker';

jest.setTimeout(600_000);
const ROOT = path.join(__dirname, '..', '..');
const id = Date.now().toString(36);
const env = testEnv('it-custom');
const deps = testDeps(env);
const pool = `it-custom-${id}`;
const name = `cus-${id}`;
const topic = `it-custom-${id}`;
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-custom-'));
let client: Client;

const HOUR = 3_600_000;
const MIN = 60_000;
const T0 = Date.UTC(2026, 2, 1, 0, 0, 0);
const P = ['2026-03-01T00', '2026-03-01T01'];
const ev = (ts: number, page: string, amount: number) => ({ user: 'u1', page, amount, ts });

/** Hour 00 in full (out of order within the lateness) and hour 01 up to 01:20. */
const EARLY = [
  ev(T0 + 2 * MIN, '/home', 1),
  ev(T0 + MIN, '/cart', 2),
  ev(T0 + 20 * MIN, '/home', 3),
  ev(T0 + 50 * MIN, '/pay', 4),
  ev(T0 + HOUR + 3 * MIN, '/home', 5),
  ev(T0 + HOUR + 20 * MIN, '/cart', 6),
];
/** Late for the window 01:00–01:15 (fired by then): the stream drops them, Spark counts them. */
const LATE = [ev(T0 + HOUR + 4 * MIN, '/home', 50), ev(T0 + HOUR + 5 * MIN, '/new', 51)];
/** The rest of hour 01, then two records in 02 whose windows close the range. */
const REST = [
  ev(T0 + HOUR + 45 * MIN, '/pay', 7),
  ev(T0 + 2 * HOUR + 10_000, '/home', 1),
  ev(T0 + 2 * HOUR + 20 * MIN, '/home', 1),
];

const spec: LambdaPipelineSpec = definePipeline({
  name,
  kind: 'lambda',
  ...pageViewsComputation(topic),
  sink: { lake: true },
  batch: { pool, tenant: 'it', resources: { cpu: 1, memoryMb: 1024 } },
  stream: quickStreamSettings(pool),
  schedule: { start: P[0]!, end: P[1]! },
});

let worker: WorkerProcess | undefined;
let workers = 0;
const startWorker = () =>
  spawnWorkerProcess(env, logDir, ++workers, ['--workflows', path.join(ROOT, 'pipelines', 'workflows')]);

beforeAll(async () => {
  client = await connectTestClient(env);
  await client.workflow.start(poolSchedulerWorkflow, {
    taskQueue: poolTaskQueue(env),
    workflowId: `pool/${pool}`,
    args: [{ name: pool, capacity: { cpu: 8, memoryMb: 16384 }, policy: { kind: 'fifo' } }],
  });
  await ensureTopic(deps.kafka, topic, 1);
  worker = startWorker();
});

afterAll(async () => {
  for (const wf of [`custom/${name}`, `stream/${name}`, `pool/${pool}`]) {
    await client?.workflow
      .getHandle(wf)
      .terminate('test over')
      .catch(() => undefined);
  }
  await worker?.kill();
  await client?.connection.close();
});

test('a user workflow from a folder: Spark step, check, recompute only where the layers differ', async () => {
  await produceJson(deps.kafka, topic, EARLY);
  // Started by type name, as the temporal CLI or the UI would: the worker found it in the user folder.
  const handle = await client.workflow.start('repairWhereDiffersWorkflow', {
    taskQueue: env.SLUICE_TASK_QUEUE,
    workflowId: `custom/${name}`,
    args: [{ pipeline: spec, pollMs: 1000 }],
  });
  await until(
    'the stream layer to commit the window 01:00',
    async () => {
      const rows = await sqlRows(
        deps,
        `SELECT count(*) AS n FROM ${sparkTableName(name, 'stream')} WHERE window_start = TIMESTAMP_NTZ '2026-03-01 01:00:00'`,
      ).catch(() => [{ n: 0 }]);
      return Number(rows[0]?.n) > 0 ? true : undefined;
    },
    { timeoutMs: 300_000, intervalMs: 1000 },
  );
  await produceJson(deps.kafka, topic, [...LATE, ...REST]);

  // SIGKILL the worker during the Spark step of the second partition; another worker takes over.
  await until(
    'the Spark step of the second partition to run',
    async () => {
      const d = await handle.describe();
      const running = (d.raw.pendingActivities ?? []).some(
        (a) => a.activityType?.name === 'sparkSql' && Number(a.state) === 2 && (a.attempt ?? 1) === 1,
      );
      const batchCommits = await sqlRows(
        deps,
        `SELECT count(*) AS n FROM ${sparkTableName(name, 'batch')}.snapshots WHERE summary['sluice.step'] IS NOT NULL`,
      ).catch(() => [{ n: 0 }]);
      return running && Number(batchCommits[0]?.n) === 1 ? true : undefined;
    },
    { timeoutMs: 300_000, intervalMs: 100 },
  );
  await worker!.kill();
  worker = startWorker();

  const result = (await handle.result()) as RepairWhereDiffersResult;
  // T00: the layers agree, the stream keeps serving it; T01: the stream dropped LATE, Spark's rows replace it.
  expect(result.partitions.map((p) => [p.partition, p.servedBy, p.check.consistent])).toEqual([
    [P[0], 'stream', true],
    [P[1], 'batch', false],
  ]);
  expect(result.partitions[1]!.check).toMatchObject({
    mismatched: 1,
    missingInStream: 1,
    missingInBatch: 0,
    lateData: { difference: LATE.length, droppedLateRecords: LATE.length, explained: true },
  });

  // The view holds every event's totals: T00 from the stream, T01 (late records included) from Spark.
  const rows = await sqlRows(
    deps,
    `SELECT partition, unix_millis(window_start) AS window_start, page, views, total_amount FROM ${sparkTableName(name, 'merged')} ORDER BY window_start, page`,
  );
  expect(rows).toEqual(pageViewTotals([...EARLY, ...LATE, ...REST], P));

  // Two commits of the view (the stream's range, then T01's repair), each once; each Spark step committed once.
  const snaps = await withSession(deps.sparkConnect, (c, s) =>
    viewSnapshots({ client: c, sessionId: s }, sparkTableName(name, 'merged')),
  );
  expect(
    snaps.map((s) => Object.fromEntries(Object.entries(s.provenance.partitions).map(([p, v]) => [p, v.layer]))),
  ).toEqual([
    { [P[0]!]: 'stream', [P[1]!]: 'stream' },
    { [P[0]!]: 'stream', [P[1]!]: 'batch' },
  ]);
  const batchSteps = await sqlRows(
    deps,
    `SELECT summary['sluice.step'] AS step FROM ${sparkTableName(name, 'batch')}.snapshots WHERE summary['sluice.step'] IS NOT NULL ORDER BY committed_at`,
  );
  expect(batchSteps.map((r) => String(r.step).replace(/-[0-9a-f-]{36}-/, '-<run>-'))).toEqual([
    `sluice-${name}-${P[0]}-<run>-x1`,
    `sluice-${name}-${P[1]}-<run>-x2`,
  ]);

  // Listed with Sluice's search attributes, as the Temporal UI's filter shows it.
  const listed = await until(
    'the run to be visible by its search attributes',
    async () => {
      const found: string[] = [];
      for await (const w of client.workflow.list({
        query: `SluicePipeline = "${name}" AND SluiceKind = "custom" AND SluicePool = "${pool}"`,
      })) {
        found.push(`${w.type}:${w.workflowId}`);
      }
      return found.length ? found : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
  expect(listed).toEqual([`repairWhereDiffersWorkflow:custom/${name}`]);
  // The speed layer was stopped by the workflow (its last block).
  expect((await client.workflow.getHandle(`stream/${name}`).describe()).status.name).toBe('COMPLETED');
});
