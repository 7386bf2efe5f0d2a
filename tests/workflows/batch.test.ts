/**
 * Batch and backfill workflows on a dev server: pause, resume, cancel, status, a failed partition
 * that does not stop the others and is retried alone, bad input. The engine activities are fakes
 * (the real ones run in tests/integration/batch.test.ts); the pool scheduler and its liveness
 * activity are real.
 */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Context } from '@temporalio/activity';
import type { Activities } from '../../activities';
import { definePipeline } from '../../lib/pipelines';
import {
  backfillWorkflow,
  backfillWorkflowId,
  batchPipelineWorkflow,
  batchWorkflowId,
  holdResourcesWorkflow,
  poolSchedulerWorkflow,
} from '../../workflows';
import {
  cancel,
  explain,
  pause,
  poolState,
  progress,
  requestRecords,
  resume,
  retryPartitions,
  status,
} from '../../workflows/messages';
import { recordHistory } from '../helpers/histories';
import { startWorkflowSuite, type WorkflowSuite } from '../helpers/temporal';
import { until } from '../../lib/poll';
import { historyEvents, isIdle } from '../helpers/history';

jest.setTimeout(300_000);

let suite: WorkflowSuite;
let env: TestWorkflowEnvironment;
const taskQueue = 'batch-tests';

/** Spark steps by partition: each waits for its gate (or fails when told to). */
const gates = new Map<string, { open: () => void; promise: Promise<void> }>();
const failing = new Set<string>();
const started: string[] = [];
const appNames: string[] = [];
let killed = 0;
const gate = (p: string) => {
  if (!gates.has(p)) {
    let open!: () => void;
    const promise = new Promise<void>((r) => (open = r));
    gates.set(p, { open, promise });
  }
  return gates.get(p)!;
};

const fakes: Partial<Activities> = {
  kafkaEndOffsets: async () => ({ '0': 100 }),
  sparkSql: async (job) => {
    const p = job.output.partition;
    started.push(p);
    appNames.push(job.appName);
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(), 200);
    try {
      await Promise.race([
        gate(p).promise,
        new Promise((_, reject) =>
          ctx.cancellationSignal.addEventListener('abort', () => {
            killed += 1;
            reject(ctx.cancellationSignal.reason);
          }),
        ),
      ]);
    } finally {
      clearInterval(beat);
    }
    if (failing.has(p)) throw ApplicationFailure.nonRetryable(`bad SQL in ${p}`, 'SparkJobRejected');
    return {
      engine: 'connect',
      rows: 3,
      output: 'lake.`wf-views`.batch',
      partition: p,
      snapshotId: '1',
      applicationId: `app-${p}`,
      sparkUi: 'http://ui',
    };
  },
  validateLakeOutput: async () => ({ rows: 3, columns: [] }),
};

const spec = definePipeline({
  name: 'wf-views',
  kind: 'batch',
  source: {
    kind: 'kafka',
    topic: 'views',
    format: 'json',
    schema: { page: 'string', amount: 'bigint', ts: 'epoch_millis' },
    eventTime: 'ts',
  },
  transform: { groupBy: ['page'], aggregates: [{ fn: 'count', as: 'views' }] },
  partitioning: 'hour',
  validate: { minRows: 0 },
  batch: { pool: 'wf', tenant: 't', resources: { cpu: 1, memoryMb: 512 } },
});

beforeAll(async () => {
  suite = await startWorkflowSuite(
    // as Sluice's worker (workers/worker.ts)
    [{ taskQueue, options: { maxHeartbeatThrottleInterval: '2 seconds' } }],
    { activities: fakes },
  );
  env = suite.env;
  await env.client.workflow.start(poolSchedulerWorkflow, {
    taskQueue,
    workflowId: 'pool/wf',
    args: [{ name: 'wf', capacity: { cpu: 8, memoryMb: 8192 }, policy: { kind: 'fifo' } }],
  });
});
afterAll(async () => {
  await env?.client.workflow
    .getHandle('pool/wf')
    .terminate('done')
    .catch(() => undefined);
  await suite?.stop();
});

const stateOf = async (h: WorkflowHandle) => (await h.query(status)).state;

test('status reports the steps; pause finishes the current step and waits before the next; resume goes on', async () => {
  const partition = '2026-11-20T01';
  const h = await env.client.workflow.start(batchPipelineWorkflow, {
    taskQueue,
    workflowId: batchWorkflowId(spec.name, partition),
    args: [{ pipeline: spec, partition }],
  });
  await until('the run to be running', async () => ((await stateOf(h)) === 'running' ? true : undefined));
  expect(await h.query(status)).toMatchObject({ state: 'running', progress: { step: 'spark', done: 1, total: 3 } });
  await h.signal(pause);
  gate(partition).open(); // the Spark step finishes...
  await until('the run to be paused', async () => ((await stateOf(h)) === 'paused' ? true : undefined)); // ...then the run waits
  expect(await h.query(status)).toMatchObject({ paused: true, applicationId: `app-${partition}` });
  // While paused it holds nothing in the pool.
  expect((await env.client.workflow.getHandle('pool/wf').query(poolState)).running).toEqual([]);
  await h.signal(resume);
  expect(await h.result()).toMatchObject({ state: 'succeeded', rows: 3, applicationId: `app-${partition}` });
  expect(await h.query(status)).toMatchObject({ state: 'succeeded', progress: { done: 3, total: 3 }, submissions: 1 });
  await recordHistory('batch-pipeline-paused.json', h);
});

test('cancel kills the running step, releases the grant and marks the run cancelled', async () => {
  const partition = '2026-11-20T02';
  const h = await env.client.workflow.start(batchPipelineWorkflow, {
    taskQueue,
    workflowId: batchWorkflowId(spec.name, partition),
    args: [{ pipeline: spec, partition }],
  });
  await until('the run to be running', async () => ((await stateOf(h)) === 'running' ? true : undefined));
  const before = killed;
  await h.signal(cancel, { reason: 'operator' });
  expect(await h.result()).toEqual({ pipeline: spec.name, partition, state: 'cancelled' });
  expect(killed).toBe(before + 1);
  expect(await h.query(status)).toMatchObject({ state: 'cancelled', error: 'operator' });
  await until('the pool to have released the grant', async () =>
    (await env.client.workflow.getHandle('pool/wf').query(poolState)).running.length === 0 ? true : undefined,
  );
});

test('a preemptible run whose grant is revoked has its Spark step killed, queues again and completes', async () => {
  // Capacity queues: dev above its guarantee, prod below it and waiting, so the pool preempts
  // dev's newest preemptible grant, the batch run's.
  const pool = await env.client.workflow.start(poolSchedulerWorkflow, {
    taskQueue,
    workflowId: 'pool/wfcap',
    args: [
      {
        name: 'wfcap',
        capacity: { cpu: 10, memoryMb: 100_000 },
        policy: {
          kind: 'capacity',
          queues: [
            { name: 'prod', guaranteed: 0.6, max: 1 },
            { name: 'dev', guaranteed: 0.2, max: 1 },
          ],
        },
      },
    ],
  });
  const grants = async () => (await pool.query(poolState)).running.map((g) => g.holderWorkflowId);
  const holder = (id: string, queue: string, cpu: number, holdMs: number) =>
    env.client.workflow.start(holdResourcesWorkflow, {
      taskQueue,
      workflowId: id,
      args: [{ pool: 'wfcap', demand: { cpu }, holdMs, tenant: 't', kind: 'batch', queue, requestId: `${id}#r` }],
    });
  const devHolder = await holder('wfcap-dev', 'dev', 4, 600_000);
  await until('the dev holder granted', async () => ((await grants()).length === 1 ? true : undefined));

  const partition = '2026-11-20T06';
  const preemptible = definePipeline({
    ...spec,
    batch: { pool: 'wfcap', tenant: 't', queue: 'dev', resources: { cpu: 4, memoryMb: 512 }, preemptible: true },
  });
  const h = await env.client.workflow.start(batchPipelineWorkflow, {
    taskQueue,
    workflowId: batchWorkflowId(spec.name, partition),
    args: [{ pipeline: preemptible, partition }],
  });
  await until('the run to be running', async () => ((await stateOf(h)) === 'running' ? true : undefined));
  const killedBefore = killed;

  const prod = await holder('wfcap-prod', 'prod', 5, 1500);
  await until('the prod holder granted', async () => ((await grants()).includes('wfcap-prod') ? true : undefined));
  expect(killed).toBe(killedBefore + 1); // the Spark step was killed before the grant went back
  expect(await grants()).not.toContain(h.workflowId);
  expect((await prod.result()).outcome).toBe('released');

  gate(partition).open();
  expect(await h.result()).toMatchObject({ state: 'succeeded', rows: 3 });
  expect(await h.query(status)).toMatchObject({ state: 'succeeded', submissions: 2 });
  // Two submissions under two application names; the second ran after the preemption.
  expect(new Set(appNames.filter((n) => n.includes(partition)))).toEqual(
    new Set([expect.stringMatching(/-s1$/), expect.stringMatching(/-s2$/)]),
  );
  const records = (await pool.query(requestRecords)).records.filter((r) => r.holderWorkflowId === h.workflowId);
  expect(records.map((r) => [r.outcome, r.revoked])).toEqual([
    ['released', 'preempted'],
    ['released', undefined],
  ]);
  const why = await pool.query(explain, records[0]!.requestId);
  expect(why.explanation).toMatch(/^granted after \d+ ms, revoked \(preempted\), then released$/);
  expect((await pool.query(poolState)).counters).toMatchObject({ revoked: 1, duplicateGrants: 0 });
  await devHolder.terminate('test done');
  await pool.terminate('test done');
});

test('bad input fails the run at once and starts nothing', async () => {
  const n = started.length;
  const bad = await env.client.workflow
    .execute(batchPipelineWorkflow, {
      taskQueue,
      workflowId: 'batch/wf-views/bad',
      args: [
        {
          pipeline: { ...spec, batch: { ...spec.batch, resources: { cpu: -1, memoryMb: 1 } } },
          partition: '2026-11-20T03',
        },
      ],
    })
    .catch((e: unknown) => e);
  expect(bad).toBeInstanceOf(WorkflowFailedError);
  expect(((bad as WorkflowFailedError).cause as ApplicationFailure).type).toBe('InvalidPipelineSpec');
  expect((bad as WorkflowFailedError).cause?.message).toMatch(/batch\.resources\.cpu/);
  const inverted = await env.client.workflow
    .execute(backfillWorkflow, {
      taskQueue,
      workflowId: 'backfill/wf-views/inverted',
      args: [{ pipeline: spec, from: '2026-11-20T05', to: '2026-11-20T01', concurrency: 2 }],
    })
    .catch((e: unknown) => e);
  expect(((inverted as WorkflowFailedError).cause as ApplicationFailure).type).toBe('InvalidInput');
  expect(started.length).toBe(n);
});

test('a backfill keeps a sliding window, goes on past a failed partition, pauses, and retries the failed one alone', async () => {
  const from = '2026-11-21T00';
  const to = '2026-11-21T05';
  failing.add('2026-11-21T01');
  const h = await env.client.workflow.start(backfillWorkflow, {
    taskQueue,
    workflowId: backfillWorkflowId(spec.name, from, to),
    args: [{ pipeline: spec, from, to, concurrency: 2 }],
  });
  const p0 = await until('the first progress', async () => {
    const p = await h.query(progress);
    return p.running.length === 2 ? p : undefined;
  });
  expect(p0).toMatchObject({ total: 6, done: 0, remaining: 4, running: ['2026-11-21T00', '2026-11-21T01'] });

  gate('2026-11-21T01').open(); // fails
  await until('one failed partition', async () => ((await h.query(progress)).failed.length === 1 ? true : undefined));
  const p1 = await until('the retried progress', async () => {
    const p = await h.query(progress);
    return p.running.length === 2 ? p : undefined; // the window refilled despite the failure
  });
  expect(p1.failed).toEqual([
    { partition: '2026-11-21T01', error: expect.stringContaining('bad SQL in 2026-11-21T01') },
  ]);
  expect(p1.running).toEqual(['2026-11-21T00', '2026-11-21T02']);

  await h.signal(pause);
  gate('2026-11-21T00').open();
  gate('2026-11-21T02').open();
  const paused = await until('the backfill to pause', async () => {
    const p = await h.query(progress);
    return p.running.length === 0 && p.done === 2 ? p : undefined;
  });
  expect(paused).toMatchObject({ paused: true, remaining: 3 });
  // Paused, nothing new starts: once the backfill is idle after both children reported, its
  // history holds no child started after the pause signal.
  const events = await until('the paused backfill to be idle', async () => {
    const ev = await historyEvents(h);
    return isIdle(ev) ? ev : undefined;
  });
  const pausedAt = events.findIndex((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'pause');
  expect(pausedAt).toBeGreaterThan(0);
  expect(events.slice(pausedAt).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toEqual([]);
  expect((await h.query(progress)).running).toEqual([]);

  failing.delete('2026-11-21T01');
  await h.signal(retryPartitions, {});
  for (const p of ['2026-11-21T03', '2026-11-21T04', '2026-11-21T05']) gate(p).open();
  await h.signal(resume);
  const final = await h.result();
  expect(final).toMatchObject({ total: 6, done: 6, failed: [], running: [], remaining: 0 });
  await recordHistory('backfill-retried.json', h);
  // The failed partition ran twice (failed, then retried); every other partition once.
  expect(started.filter((p) => p.startsWith('2026-11-21')).sort()).toEqual([
    '2026-11-21T00',
    '2026-11-21T01',
    '2026-11-21T01',
    '2026-11-21T02',
    '2026-11-21T03',
    '2026-11-21T04',
    '2026-11-21T05',
  ]);
});

test('two runs of one partition started back to back submit under different application names', async () => {
  // Run ids are UUIDv7: their first digits are a timestamp, so the whole id goes into the name.
  const partition = '2026-11-20T04';
  gate(partition).open();
  for (let i = 0; i < 2; i++) {
    await env.client.workflow.execute(batchPipelineWorkflow, {
      taskQueue,
      workflowId: batchWorkflowId(spec.name, partition),
      args: [{ pipeline: spec, partition }],
    });
  }
  const names = appNames.filter((n) => n.includes(partition));
  expect(names).toHaveLength(2);
  expect(new Set(names).size).toBe(2);
});

test('a long backfill continues as new without losing a partition or running one twice', async () => {
  const from = '2026-11-22T00';
  const to = '2026-11-22T09';
  for (let h = 0; h < 10; h++) gate(`2026-11-22T${String(h).padStart(2, '0')}`).open();
  const h = await env.client.workflow.start(backfillWorkflow, {
    taskQueue,
    workflowId: backfillWorkflowId(spec.name, from, to),
    // A small threshold forces several continue-as-new boundaries on this short range. A partition
    // adds at least four events (child initiated, started, completed, its report) however the
    // server batches them into workflow tasks; at 40, a loaded machine (few, large tasks) ran the
    // ten in two generations only: at 20 every generation covers at most a few partitions.
    args: [{ pipeline: spec, from, to, concurrency: 3, continueAsNewAfterEvents: 20 }],
  });
  const final = await h.result();
  expect(final).toMatchObject({ total: 10, done: 10, failed: [], cancelled: [], running: [], remaining: 0 });
  expect(final.generation).toBeGreaterThanOrEqual(2);
  const ran = started.filter((p) => p.startsWith('2026-11-22')).sort();
  expect(ran).toEqual(Array.from({ length: 10 }, (_, i) => `2026-11-22T${String(i).padStart(2, '0')}`));
});
