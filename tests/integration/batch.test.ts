/**
 * Batch pipelines on the real stack: Kafka → Spark → the lake's Iceberg table, through the pool
 * scheduler, the batch and backfill workflows and the Sluice worker, on both engines: the warm
 * Spark Connect server (`batch.engine: connect`, the default) and spark-submit (`submit`).
 * Spark's own APIs are the witness for what ran: the Connect driver's jobs (by step tag) and the
 * standalone master's applications; the table's snapshot log for what committed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { poolTaskQueue } from '../../config/env';
import { ensureTopic, produceJson } from '../../engines/kafka';
import { listSparkApps, type SparkApp } from '../../engines/spark';
import { connectServerJobs, jobHasTag, jobOperationId, type SparkJob } from '../../engines/spark-connect';
import { stackUp } from '../../stack/stack';
import { sparkTableName } from '../../lib/lake-catalog';
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
import { lakeRows, sqlRows } from '../helpers/lake';
import { killStackProcess } from '../helpers/stack';

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

/** The page-views example pipeline on this suite's topic and pool (on the engine its batch block names). */
function spec(
  name: string,
  override: Record<string, unknown> = {},
  engine: 'connect' | 'submit' = 'connect',
): PipelineSpec {
  const batch = { pool: poolName, tenant: 'it', resources: { cpu: 1, memoryMb: 1024 }, engine };
  return pageViewsFor({ name, topic, pool: poolName, override: { batch, ...override } });
}

/** A step that runs for a while (tens of seconds): every event joined with a large range. */
const SLOW = {
  transform: { sql: 'SELECT COUNT(*) AS n, MAX(amount) AS biggest FROM events CROSS JOIN range(0, 40000000)' },
};
/** SLOW's result's `biggest` per partition: the hour's largest amount (10 + the hour). */
const BIGGEST: Record<string, number> = { '2026-11-20T09': 19, '2026-11-20T10': 20 };
/** A step that would run for minutes. */
const ENDLESS = { transform: { sql: 'SELECT COUNT(*) AS n FROM range(0, 50000000000)' } };

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

const min = 60_000;
/** The hour's four events, one per 15-minute window (the next day's event is not in the hour). */
function expectedHour(partition: string) {
  const start = partitionBounds('hour', partition).start;
  const window = (from: number) => ({ window_start: start + from * min, window_end: start + (from + 15) * min });
  return [
    { ...window(0), page: 'a', views: 1, total_amount: 15, max_amount: 15 }, // 05:01, 10 + 5
    { ...window(15), page: 'a', views: 1, total_amount: 5, max_amount: 5 }, // 05:25
    { ...window(30), page: 'b', views: 1, total_amount: 7, max_amount: 7 }, // 05:40
    { ...window(45), page: 'a', views: 1, total_amount: 1, max_amount: 1 }, // 05:59:59
  ];
}

describe.each(['connect', 'submit'] as const)('on %s', (engine) => {
  test('a batch pipeline over Kafka events writes the right aggregates into its Iceberg table', async () => {
    const pipeline = spec(`it-views-${engine}-${id}`, {}, engine);
    const partition = '2026-11-20T05';
    const result = await client.workflow.execute(batchPipelineWorkflow, {
      taskQueue,
      workflowId: batchWorkflowId(pipeline.name, partition),
      args: [{ pipeline, partition }],
    });
    expect(result).toMatchObject({
      state: 'succeeded',
      rows: 4,
      engine,
      table: sparkTableName(pipeline.name, 'batch'),
    });
    // Timestamps come back from Arrow as epoch milliseconds.
    expect(await lakeRows(deps, pipeline.name, partition)).toEqual(expectedHour(partition));
    const s = await client.workflow.getHandle(batchWorkflowId(pipeline.name, partition)).query(status);
    expect(s).toMatchObject({ state: 'succeeded', rows: 4, progress: { done: 3, total: 3 }, submissions: 1, engine });
    expect(s.snapshotId).toBe(result.snapshotId);
    // The step's Spark UI link shows its jobs: the Connect server's session page (with the write
    // operation), or the history server's page of the spark-submit application.
    const page = await until(
      `the Spark UI page ${s.sparkUi} to show the step's jobs`,
      async () => {
        const r = await fetch(s.sparkUi!).catch(() => undefined);
        const html = r?.ok ? await r.text() : '';
        const shown = engine === 'connect' ? html.includes(s.operationId!) : /Completed Jobs/.test(html);
        return shown ? html : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    if (engine === 'connect') expect(page).toContain('write_operation_v2');
    else expect(page).toContain(result.applicationId!);
    // The commit is the table's own record of the step: one snapshot, an overwrite of one partition.
    const [snap] = await sqlRows(
      deps,
      `SELECT operation, summary FROM ${sparkTableName(pipeline.name, 'batch')}.snapshots WHERE snapshot_id = ${result.snapshotId}`,
    );
    expect(snap).toMatchObject({ operation: 'overwrite' });
  });
});

test('a 24-partition backfill with concurrency 3 on connect commits every partition, never more than 3 steps at once', async () => {
  const pipeline = spec(`it-fill-${id}`);
  const from = '2026-11-20T00';
  const to = '2026-11-20T23';
  const since = Date.now();
  const result = await client.workflow.execute(backfillWorkflow, {
    taskQueue,
    workflowId: backfillWorkflowId(pipeline.name, from, to),
    args: [{ pipeline, from, to, concurrency: 3 }],
  });
  expect(result).toMatchObject({ total: 24, done: 24, failed: [], cancelled: [], remaining: 0, running: [] });
  const table = sparkTableName(pipeline.name, 'batch');
  const perPartition = await sqlRows(
    deps,
    `SELECT partition, count(*) AS n FROM ${table} GROUP BY partition ORDER BY partition`,
  );
  expect(perPartition).toEqual(
    Array.from({ length: 24 }, (_, h) => ({ partition: `2026-11-20T${String(h).padStart(2, '0')}`, n: 4 })),
  );
  // One commit per partition: 24 snapshots (and the empty one that created the table).
  const [{ n: commits }] = (await sqlRows(
    deps,
    `SELECT count(*) AS n FROM ${table}.snapshots WHERE operation = 'overwrite'`,
  )) as { n: number }[];
  expect(commits).toBe(24);
  // Spark's record: the steps' jobs, grouped by step tag, overlapped at most 3 at a time.
  const steps = stepIntervals((await connectServerJobs(deps.sparkConnect.uiUrl)).jobs, since);
  expect(steps).toHaveLength(24);
  expect(maxOverlap(steps)).toBeLessThanOrEqual(3);
  expect(maxOverlap(steps)).toBeGreaterThanOrEqual(2); // they really ran side by side
});

test('cancel interrupts the running connect operation within seconds and releases the grant', async () => {
  const pipeline = spec(`it-cancel-c-${id}`, ENDLESS);
  const partition = '2026-11-20T07';
  const handle = await client.workflow.start(batchPipelineWorkflow, {
    taskQueue,
    workflowId: batchWorkflowId(pipeline.name, partition),
    args: [{ pipeline, partition }],
  });
  const { job } = await stepRunningOnServer(handle.workflowId);
  const cancelledAt = Date.now();
  await handle.signal(cancel, { reason: 'test cancels' });
  const result = await handle.result();
  expect(result.state).toBe('cancelled');
  // Spark's own record: the job ended (not RUNNING) within seconds of the cancel.
  const ended = await until(
    'the job to end',
    async () =>
      (await connectServerJobs(deps.sparkConnect.uiUrl)).jobs.find(
        (j) => j.jobId === job.jobId && j.status !== 'RUNNING',
      ),
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  expect(ended.status).toBe('FAILED');
  expect(Date.parse(ended.completionTime!.replace('GMT', 'Z')) - cancelledAt).toBeLessThan(10_000);
  const pool = await client.workflow.getHandle(`pool/${poolName}`).query(poolState);
  expect(pool.running.filter((g) => g.holderWorkflowId === handle.workflowId)).toEqual([]);
  expect((await handle.query(status)).state).toBe('cancelled');
});

test('cancel kills the spark-submit application and releases the grant', async () => {
  const pipeline = spec(`it-cancel-s-${id}`, ENDLESS, 'submit');
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

describe('crashes (workers are separate processes from here on)', () => {
  beforeAll(async () => {
    await inProcess?.stop();
  });

  test('SIGKILL of the worker during a connect step: a new worker completes it with exactly one execution', async () => {
    const pipeline = spec(`it-crash-c-${id}`, SLOW);
    const partition = '2026-11-20T09';
    let worker = startWorkerProcess('worker-c1');
    try {
      const handle = await client.workflow.start(batchPipelineWorkflow, {
        taskQueue,
        workflowId: batchWorkflowId(pipeline.name, partition),
        args: [{ pipeline, partition }],
      });
      const { operationId, tag } = await stepRunningOnServer(handle.workflowId);
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      worker = startWorkerProcess('worker-c2');
      const result = await handle.result();
      expect(result.state).toBe('succeeded');
      // Spark's record: every job of the step ran for that one operation, the one that committed.
      expect(await stepOperations(tag)).toEqual([operationId]);
      expect(await stepCommits(pipeline.name)).toEqual([expect.objectContaining({ operation: operationId })]);
      // The partition's one row, once, in the table's current snapshot.
      expect(await lakeRows(deps, pipeline.name, partition)).toEqual([
        { n: 4 * 40_000_000, biggest: BIGGEST[partition] },
      ]);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });

  test('the Connect server killed mid-step and started again: the step runs again once, its rows once', async () => {
    const pipeline = spec(`it-server-${id}`, SLOW);
    const partition = '2026-11-20T10';
    const worker = startWorkerProcess('worker-s1');
    try {
      const handle = await client.workflow.start(batchPipelineWorkflow, {
        taskQueue,
        workflowId: batchWorkflowId(pipeline.name, partition),
        args: [{ pipeline, partition }],
      });
      const { operationId: first, tag, server: before } = await stepRunningOnServer(handle.workflowId);
      await killStackProcess('spark-connect', 15002);
      await stackUp();
      const result = await handle.result();
      expect(result.state).toBe('succeeded');
      // A new server application ran the step's write once, under a new operation.
      const after = await connectServerJobs(deps.sparkConnect.uiUrl);
      expect(after.applicationId).not.toBe(before.applicationId);
      const ops = await stepOperations(tag);
      expect(ops).toHaveLength(1);
      expect(ops[0]).not.toBe(first);
      expect(await stepCommits(pipeline.name)).toEqual([expect.objectContaining({ operation: ops[0] })]);
      expect(await lakeRows(deps, pipeline.name, partition)).toEqual([
        { n: 4 * 40_000_000, biggest: BIGGEST[partition] },
      ]);
      // No snapshot ever showed part of the partition: each holds none of it or all of it.
      const table = sparkTableName(pipeline.name, 'batch');
      for (const { snapshot_id } of await sqlRows(
        deps,
        `SELECT CAST(snapshot_id AS STRING) AS snapshot_id FROM ${table}.snapshots`,
      )) {
        const rows = await lakeRows(deps, pipeline.name, partition, String(snapshot_id));
        expect([0, 1]).toContain(rows.length);
      }
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });

  test('SIGKILL of the worker during a spark-submit step: a new worker completes the run with exactly one application', async () => {
    const pipeline = spec(`it-crash-s-${id}`, SLOW, 'submit');
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
      expect(await lakeRows(deps, pipeline.name, partition)).toEqual([
        { n: 4 * 40_000_000, biggest: BIGGEST[partition] },
      ]);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });
});

/**
 * Spark's record of a step's executions: the distinct operations of the Connect server's jobs that
 * carry the step's tag and ran its table write (the job description starts with the request: a `command { write_...` plan;
 * creating the table on its first step is an operation of its own).
 */
async function stepOperations(tag: string): Promise<string[]> {
  const { jobs } = await connectServerJobs(deps.sparkConnect.uiUrl);
  const writes = jobs.filter((j) => jobHasTag(j, tag) && /command \{\s+write_/.test(j.description ?? ''));
  return [...new Set(writes.map(jobOperationId).filter((o): o is string => !!o))];
}

/** The table's snapshots committed by a step of this pipeline (its summary names the step). */
async function stepCommits(pipeline: string): Promise<Record<string, unknown>[]> {
  return sqlRows(
    deps,
    `SELECT CAST(snapshot_id AS STRING) AS id, summary['sluice.operation'] AS operation FROM ${sparkTableName(pipeline, 'batch')}.snapshots WHERE summary['sluice.step'] IS NOT NULL`,
  );
}

/** The execution a running connect step's last heartbeat names (Temporal's record of the activity). */
async function runningExecution(workflowId: string): Promise<{ tag: string; operationId: string } | undefined> {
  const d = await client.workflow.getHandle(workflowId).describe();
  const payload = d.raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
  if (!payload?.data) return undefined;
  const beat = JSON.parse(Buffer.from(payload.data).toString('utf8')) as {
    tag?: string;
    execution?: { operationId?: string };
  };
  return beat.tag && beat.execution?.operationId
    ? { tag: beat.tag, operationId: beat.execution.operationId }
    : undefined;
}

/**
 * Waits until a connect step runs on the server: the execution its heartbeat names (Temporal's
 * record) has a RUNNING Spark job (Spark's). Returns the ids, the job and the server's jobs then.
 */
async function stepRunningOnServer(workflowId: string) {
  const { operationId, tag } = await until('the step to run', () => runningExecution(workflowId), {
    timeoutMs: 120_000,
    intervalMs: 300,
  });
  return until(
    "a running Spark job of the step's operation",
    async () => {
      const server = await connectServerJobs(deps.sparkConnect.uiUrl);
      const job = server.jobs.find((j) => jobOperationId(j) === operationId && j.status === 'RUNNING');
      return job ? { operationId, tag, job, server } : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 300 },
  );
}

/** Every step's jobs of the Connect server since `since`, as [first submission, last completion] per step tag. */
function stepIntervals(jobs: SparkJob[], since: number): { starttime: number; duration: number }[] {
  const byTag = new Map<string, { start: number; end: number }>();
  const t = (s?: string) => (s ? Date.parse(s.replace('GMT', 'Z')) : Date.now());
  for (const j of jobs) {
    const tag = j.jobTags.map((x) => /_Tag_(sluice-step-\w+)$/.exec(x)?.[1]).find(Boolean);
    if (!tag || t(j.submissionTime) < since) continue;
    const cur = byTag.get(tag) ?? { start: Infinity, end: -Infinity };
    byTag.set(tag, { start: Math.min(cur.start, t(j.submissionTime)), end: Math.max(cur.end, t(j.completionTime)) });
  }
  return [...byTag.values()].map((v) => ({ starttime: v.start, duration: v.end - v.start }));
}

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
function maxOverlap(apps: { starttime: number; duration?: number }[]): number {
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
