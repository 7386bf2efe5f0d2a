/**
 * Batch pipelines on the real stack: Kafka → Spark → lake, through the pool scheduler, the batch
 * and backfill workflows and the Sluice worker. Spark's own API is the witness for what ran.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { poolTaskQueue } from '../../config/env';
import { ensureTopic, produceJson } from '../../engines/kafka';
import { readPartition, tableRows } from '../../engines/lake';
import { listSparkApps, type SparkApp } from '../../engines/spark';
import { partitionBounds, type PipelineSpec } from '../../lib/pipelines';
import { pageViewsFor } from '../helpers/pipelines';
import {
  backfillWorkflow,
  backfillWorkflowId,
  batchPipelineWorkflow,
  batchWorkflowId,
  poolSchedulerWorkflow,
} from '../../workflows';
import { cancel, poolState, status } from '../../workflows/messages';
import { until } from '../../lib/poll';
import { connectTestClient, startTestWorker, testDeps, testEnv, type RunningWorker } from '../helpers/worker';

jest.setTimeout(900_000);

const ROOT = path.join(__dirname, '..', '..');
const id = Date.now().toString(36);
const env = testEnv('it-batch');
const taskQueue = env.SLUICE_TASK_QUEUE;
const poolName = `batch-${id}`;
const deps = testDeps(env);
const topic = `it-batch-events-${id}`;
const HOUR = 3_600_000;
const day0 = Date.UTC(2026, 10, 20); // 2026-11-20T00 UTC

let client: Client;
let inProcess: RunningWorker | undefined;

/** The page-views example pipeline on this suite's topic and pool. */
function spec(name: string, override: Record<string, unknown> = {}): PipelineSpec {
  return pageViewsFor({ name, topic, pool: poolName, override });
}

beforeAll(async () => {
  client = await connectTestClient(env);
  await client.workflow.start(poolSchedulerWorkflow, {
    taskQueue: poolTaskQueue(env),
    workflowId: `pool/${poolName}`,
    args: [
      {
        name: poolName,
        capacity: { cpu: 4, memoryMb: 8192 },
        policy: { kind: 'fifo' },
        options: { holderCheckIntervalMs: 5000 },
      },
    ],
  });
  // 24 hours of events: per hour, pages a/b in both half-hours, plus one event in the next day.
  await ensureTopic(deps.kafka, topic);
  const events = [];
  for (let h = 0; h < 24; h++) {
    const t = day0 + h * HOUR;
    events.push(
      { user: 'u1', page: 'a', amount: 10 + h, ts: t + 60_000 },
      { user: 'u2', page: 'a', amount: 5, ts: t + 25 * 60_000 },
      { user: 'u3', page: 'b', amount: 7, ts: t + 40 * 60_000 },
      { user: 'u1', page: 'a', amount: 1, ts: t + 59 * 60_000 + 59_000 },
    );
  }
  events.push({ user: 'u9', page: 'a', amount: 999, ts: day0 + 24 * HOUR });
  await produceJson(deps.kafka, topic, events);
  inProcess = await startTestWorker(env);
});

afterAll(async () => {
  await inProcess?.stop();
  await client?.workflow
    .getHandle(`pool/${poolName}`)
    .terminate('tests done')
    .catch(() => undefined);
  await client?.connection.close();
});

test('a batch pipeline over Kafka events writes the right aggregates to the lake', async () => {
  const pipeline = spec(`it-views-${id}`);
  const partition = '2026-11-20T05';
  const result = await client.workflow.execute(batchPipelineWorkflow, {
    taskQueue,
    workflowId: batchWorkflowId(pipeline.name, partition),
    args: [{ pipeline, partition }],
  });
  expect(result.state).toBe('succeeded');
  expect(result.rows).toBe(4);
  const rows = tableRows(readPartition(result.lakePath!));
  const start = partitionBounds('hour', partition).start;
  const min = 60_000;
  const window = (from: number) => ({ window_start: start + from * min, window_end: start + (from + 15) * min });
  // Timestamps come back from Arrow as epoch milliseconds. The hour's four events, one per
  // 15-minute window; the next day's event is not in the hour.
  expect(rows).toEqual([
    { ...window(0), page: 'a', views: 1, total_amount: 15, max_amount: 15 }, // 05:01, 10 + 5
    { ...window(15), page: 'a', views: 1, total_amount: 5, max_amount: 5 }, // 05:25
    { ...window(30), page: 'b', views: 1, total_amount: 7, max_amount: 7 }, // 05:40
    { ...window(45), page: 'a', views: 1, total_amount: 1, max_amount: 1 }, // 05:59:59
  ]);
  const s = await client.workflow.getHandle(batchWorkflowId(pipeline.name, partition)).query(status);
  expect(s).toMatchObject({ state: 'succeeded', rows: 4, progress: { done: 3, total: 3 }, submissions: 1 });
});

test('a 24-partition backfill with concurrency 3 completes every partition with never more than 3 Spark applications at once', async () => {
  const pipeline = spec(`it-fill-${id}`);
  const from = '2026-11-20T00';
  const to = '2026-11-20T23';
  const result = await client.workflow.execute(backfillWorkflow, {
    taskQueue,
    workflowId: backfillWorkflowId(pipeline.name, from, to),
    args: [{ pipeline, from, to, concurrency: 3 }],
  });
  expect(result).toMatchObject({ total: 24, done: 24, failed: [], cancelled: [], remaining: 0, running: [] });
  for (let h = 0; h < 24; h++) {
    const dir = path.join(deps.lake, pipeline.name, 'batch', `2026-11-20T${String(h).padStart(2, '0')}`);
    expect(fs.existsSync(path.join(dir, '_SUCCESS'))).toBe(true);
  }
  const apps = await appsNamed(`sluice-${pipeline.name}-`);
  expect(apps).toHaveLength(24);
  expect(maxOverlap(apps)).toBeLessThanOrEqual(3);
  expect(maxOverlap(apps)).toBeGreaterThanOrEqual(2); // they really ran side by side
});

test('cancel kills the Spark application and releases the grant', async () => {
  // A step that would run for minutes.
  const pipeline = spec(`it-cancel-${id}`, { transform: { sql: 'SELECT COUNT(*) AS n FROM range(0, 50000000000)' } });
  const partition = '2026-11-20T07';
  const handle = await client.workflow.start(batchPipelineWorkflow, {
    taskQueue,
    workflowId: batchWorkflowId(pipeline.name, partition),
    args: [{ pipeline, partition }],
  });
  const app = await until(
    "the pipeline's Spark application",
    async () => (await appsNamed(`sluice-${pipeline.name}-`, 'active'))[0],
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  await handle.signal(cancel, { reason: 'test cancels' });
  const result = await handle.result();
  expect(result.state).toBe('cancelled');
  // Spark's own record: the application is no longer active, and the master has it as ended.
  const { active, completed } = await listSparkApps(deps.spark.uiUrl);
  expect(active.map((a) => a.id)).not.toContain(app.id);
  expect(completed.map((a) => a.id)).toContain(app.id);
  const pool = await client.workflow.getHandle(`pool/${poolName}`).query(poolState);
  expect(pool.running.filter((g) => g.holderWorkflowId === handle.workflowId)).toEqual([]);
  expect((await handle.query(status)).state).toBe('cancelled');
});

test('SIGKILL of the worker during a Spark step: a new worker completes the run with exactly one application', async () => {
  await inProcess?.stop(); // from here on, workers are separate processes that can be killed
  const pipeline = spec(`it-crash-${id}`, {
    transform: { sql: 'SELECT COUNT(*) AS n, MAX(amount) AS biggest FROM events CROSS JOIN range(0, 40000000)' },
  });
  const partition = '2026-11-20T09';
  let worker = startWorkerProcess('worker-1');
  try {
    const handle = await client.workflow.start(batchPipelineWorkflow, {
      taskQueue,
      workflowId: batchWorkflowId(pipeline.name, partition),
      args: [{ pipeline, partition }],
    });
    await until(
      "the pipeline's Spark application",
      async () => (await appsNamed(`sluice-${pipeline.name}-`, 'active'))[0],
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    worker.kill('SIGKILL');
    await new Promise((r) => worker.once('exit', r));
    worker = startWorkerProcess('worker-2');
    const result = await handle.result();
    expect(result.state).toBe('succeeded');
    const apps = await appsNamed(`sluice-${pipeline.name}-`);
    expect(apps).toHaveLength(1);
    expect(result.applicationId).toBe(apps[0]!.id);
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
  }
});

function startWorkerProcess(name: string): ChildProcess {
  const log = fs.openSync(path.join(os.tmpdir(), `sluice-it-${id}-${name}.log`), 'a');
  // `sluice worker`: the worker process as users run it, with the local stack's Spark client side.
  return spawn(process.execPath, [path.join(ROOT, 'bin', 'sluice.js'), 'worker'], {
    env: { ...process.env, SLUICE_TASK_QUEUE: taskQueue },
    stdio: ['ignore', log, log],
  });
}

async function appsNamed(prefix: string, which: 'all' | 'active' = 'all'): Promise<SparkApp[]> {
  const { active, completed } = await listSparkApps(deps.spark.uiUrl);
  return (which === 'active' ? active : [...active, ...completed]).filter((a) => a.name.startsWith(prefix));
}

/** The most applications running at one instant, from Spark's start times and durations. */
function maxOverlap(apps: SparkApp[]): number {
  const events = apps.flatMap((a) => [
    { t: a.starttime, d: 1 },
    { t: a.starttime + (a.duration ?? 0), d: -1 },
  ]);
  events.sort((x, y) => x.t - y.t || x.d - y.d);
  let now = 0;
  let max = 0;
  for (const e of events) max = Math.max(max, (now += e.d));
  return max;
}
