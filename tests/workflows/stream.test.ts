/**
 * The streaming workflow's policies on a dev server, with a fake Flink (the real one runs in
 * tests/integration/streaming*.test.ts): a job that keeps failing is resubmitted from its newest
 * checkpoint with bounded attempts and then fails the workflow with Flink's root cause; a revoked
 * grant pauses the stream with a savepoint and re-admission resumes it from there; a cancel takes a
 * final savepoint; a batch spec is refused. The pool scheduler is real.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../activities';
import type { JobSnapshot } from '../../activities/stream';
import { ErrorType, rootCauseMessage } from '../../lib/errors';
import { until } from '../../lib/poll';
import { holdResourcesWorkflow, poolSchedulerWorkflow, streamingPipelineWorkflow } from '../../workflows';
import {
  cancelStream,
  configurePool,
  pause,
  poolState,
  resume,
  savepoints,
  streamStatus,
  type StreamState,
} from '../../workflows/messages';
import { streamSpec } from '../helpers/streams';
import { pageViewsFor } from '../helpers/pipelines';
import { startWorkflowSuite, type WorkflowSuite } from '../helpers/temporal';

jest.setTimeout(300_000);
let suite: WorkflowSuite;
let env: TestWorkflowEnvironment;
const taskQueue = 'stream-tests';

/** The fake cluster: each job's state, what was submitted, stopped and restored. */
const jobs = new Map<string, string>();
const submitted: { jobId: string; restoreFrom?: string; pipeline: string }[] = [];
const failing = new Set<string>();
/** Jobs the JobManager forgets as soon as they are watched, and the checkpoints each left on disk. */
const lost = new Set<string>();
const retainedOnDisk = new Map<string, string>();
let savepointSeq = 0;

const fakes: Partial<Activities> = {
  submitStreamGeneration: async (input) => {
    const jobId = `${input.pipeline}-${input.generation}`;
    if (!jobs.has(jobId)) {
      submitted.push({ jobId, restoreFrom: input.restoreFrom, pipeline: input.pipeline });
      jobs.set(jobId, 'RUNNING');
    }
    return { jobId, jobName: `sluice:${input.pipeline}#${input.generation}`, jobUrl: `http://flink/${jobId}` };
  },
  awaitStreamRunning: async ({ jobId }) => ({ jobId, state: jobs.get(jobId)!, vertexParallelism: [1], restarts: 0 }),
  watchStreamJob: async ({ jobId }) => {
    const ctx = Context.current();
    // A failing pipeline's job fails shortly after it starts, with Flink's root cause.
    if (failing.has(jobId.replace(/-\d+$/, ''))) jobs.set(jobId, 'FAILED');
    if (lost.has(jobId)) jobs.delete(jobId);
    const snap = (): JobSnapshot => ({
      jobId,
      state: jobs.get(jobId) ?? 'GONE',
      vertexParallelism: [1],
      restarts: 0,
      checkpoint: lost.has(jobId) ? undefined : { id: 7, path: `file:/chk/${jobId}/chk-7`, at: 1 },
      rootCause: jobs.get(jobId) === 'FAILED' ? 'java.lang.ArithmeticException: / by zero' : undefined,
    });
    if (snap().state !== 'RUNNING') return snap();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 500);
      ctx.cancellationSignal.addEventListener('abort', () => (clearTimeout(t), resolve()));
    });
    return snap();
  },
  stopStreamJob: async ({ jobId, savepoint }) => {
    jobs.set(jobId, savepoint ? 'FINISHED' : 'CANCELED');
    return savepoint ? { location: `file:/sp/${jobId}-${++savepointSeq}`, offsets: { '0': '10' } } : {};
  },
  takeSavepoint: async ({ jobId }) => ({ location: `file:/sp/${jobId}-${++savepointSeq}` }),
  checkRestorable: async ({ snapshots }) => snapshots.map(({ path }) => ({ path, restorable: true })),
  disposeSavepoint: async () => undefined,
  newestRetainedCheckpoint: async ({ jobId }) => retainedOnDisk.get(jobId),
};

beforeAll(async () => {
  suite = await startWorkflowSuite([{ taskQueue, options: { maxHeartbeatThrottleInterval: '1 second' } }], {
    activities: fakes,
  });
  env = suite.env;
  await env.client.workflow.start(poolSchedulerWorkflow, {
    taskQueue,
    workflowId: 'pool/sw',
    args: [{ name: 'sw', capacity: { cpu: 4, memoryMb: 8192 }, policy: { kind: 'fifo' } }],
  });
});
afterAll(async () => {
  await env?.client.workflow
    .getHandle('pool/sw')
    .terminate('done')
    .catch(() => undefined);
  await suite?.stop();
});

const start = (name: string, stream: Record<string, unknown> = {}) =>
  env.client.workflow.start(streamingPipelineWorkflow, {
    taskQueue,
    workflowId: `stream/${name}`,
    args: [{ pipeline: streamSpec(name, 'views', 'sw', stream) }],
  });

const waitState = (h: { query: (q: typeof streamStatus) => Promise<{ state: StreamState }> }, state: StreamState) =>
  until(`the stream to be ${state}`, async () => ((await h.query(streamStatus)).state === state ? true : undefined));

const grantsOf = async (workflowId: string) =>
  (await env.client.workflow.getHandle('pool/sw').query(poolState)).running.filter(
    (g) => g.holderWorkflowId === workflowId,
  );

test("a job that keeps failing is resubmitted from its newest checkpoint, then the workflow fails with Flink's root cause", async () => {
  failing.add('sw-failing');
  const h = await start('sw-failing', { restart: { attempts: 2, backoff: '1 second' } });
  const err = await h.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(rootCauseMessage(err)).toMatch(/gave up after 2 restarts: java.lang.ArithmeticException: \/ by zero/);
  const mine = submitted.filter((s) => s.pipeline === 'sw-failing');
  // The first submission and two restarts, each from the checkpoint of the job before it.
  expect(mine.map((s) => s.restoreFrom)).toEqual([
    undefined,
    'file:/chk/sw-failing-1/chk-7',
    'file:/chk/sw-failing-2/chk-7',
  ]);
  const st = await h.query(streamStatus);
  expect(st.state).toBe('FAILED');
  expect(st.events.filter((e) => /^recovering/.test(e.what))).toHaveLength(2);
  expect(await grantsOf(h.workflowId)).toEqual([]);
});

test('a job lost before any checkpoint was reported restarts from its retained one, else from where it started, never an older savepoint', async () => {
  // Generation 2 (resumed from the pause savepoint) checkpointed to disk, then the JobManager forgot
  // it before a watch round saw a checkpoint; generation 3 was forgotten with none retained.
  lost.add('sw-lost-2').add('sw-lost-3');
  retainedOnDisk.set('sw-lost-2', 'file:/chk/sw-lost-2/chk-9');
  const h = await start('sw-lost');
  await waitState(h, 'RUNNING');
  await h.signal(pause);
  await waitState(h, 'PAUSED');
  const pauseSavepoint = (await h.query(streamStatus)).lastSavepoint!.path;
  await h.signal(resume);
  await until('generation 4 to run', async () =>
    submitted.some((x) => x.jobId === 'sw-lost-4') && (await h.query(streamStatus)).state === 'RUNNING'
      ? true
      : undefined,
  );
  expect(submitted.filter((x) => x.pipeline === 'sw-lost').map((x) => x.restoreFrom)).toEqual([
    undefined,
    pauseSavepoint,
    'file:/chk/sw-lost-2/chk-9', // its own retained checkpoint
    'file:/chk/sw-lost-2/chk-9', // none of its own: where it started, not the older pause savepoint
  ]);
  await h.signal(cancelStream, { savepoint: false });
  await h.result();
});

test('a revoked grant pauses the stream with a savepoint; re-admitted, it resumes from that savepoint', async () => {
  const h = await start('sw-revoked');
  await waitState(h, 'RUNNING');
  expect(await grantsOf(h.workflowId)).toHaveLength(1);
  const pool = env.client.workflow.getHandle('pool/sw');
  // A non-preemptible holder of 2 cpu, then a pool shrunk to 2.5: the stream's (preemptible) grant
  // is revoked, and its request for 1 cpu waits until the pool grows again.
  const holder = await env.client.workflow.start(holdResourcesWorkflow, {
    taskQueue,
    workflowId: 'hold/sw',
    args: [
      {
        pool: 'sw',
        tenant: 'ops',
        priority: 0,
        demand: { cpu: 2, memoryMb: 512 },
        kind: 'batch',
        preemptible: false,
        holdMs: 600_000,
      },
    ],
  });
  await until('the holder to be admitted', async () => ((await grantsOf(holder.workflowId)).length ? true : undefined));
  await pool.executeUpdate(configurePool, { args: [{ capacity: { cpu: 2.5, memoryMb: 8192 } }] });
  await until('the stream to have stopped with a savepoint', async () => {
    const st = await h.query(streamStatus);
    return st.lastSavepoint?.reason === 'revoked' && st.state === 'WAITING_ADMISSION' ? st : undefined;
  });
  expect(jobs.get('sw-revoked-1')).toBe('FINISHED');
  expect(await grantsOf(h.workflowId)).toEqual([]);
  await pool.executeUpdate(configurePool, { args: [{ capacity: { cpu: 4, memoryMb: 8192 } }] });
  await waitState(h, 'RUNNING');
  await holder.terminate('test over');
  const resumed = submitted.filter((s) => s.pipeline === 'sw-revoked');
  expect(resumed).toHaveLength(2);
  expect(resumed[1]!.restoreFrom).toBe((await h.query(streamStatus)).lastSavepoint!.path);

  // Cancel: a final savepoint, the job stopped, the grant released, the result names the savepoint.
  await h.signal(cancelStream, { reason: 'test over' });
  const result = await h.result();
  expect(result).toMatchObject({ state: 'CANCELLED', savepoint: expect.stringMatching(/^file:\/sp\/sw-revoked-2-/) });
  expect(jobs.get('sw-revoked-2')).toBe('FINISHED');
  expect(await grantsOf(h.workflowId)).toEqual([]);
});

test('a batch spec is refused at once and starts nothing', async () => {
  const h = await env.client.workflow.start(streamingPipelineWorkflow, {
    taskQueue,
    workflowId: 'stream/sw-batch',
    args: [{ pipeline: pageViewsFor({ name: 'sw-batch', topic: 'views', pool: 'sw' }) }],
  });
  const err = await h.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe(ErrorType.invalidPipelineSpec);
  expect(rootCauseMessage(err)).toMatch(/sw-batch is a batch pipeline, not a streaming one/);
  expect(submitted.filter((s) => s.pipeline === 'sw-batch')).toEqual([]);
});

test('a stream cancelled while paused names its pause savepoint as where a later run picks up', async () => {
  const h = await start('sw-paused');
  await waitState(h, 'RUNNING');
  await h.signal(pause);
  await waitState(h, 'PAUSED');
  const paused = await h.query(streamStatus);
  expect(paused.lastSavepoint?.reason).toBe('pause');
  // A resume, then a pause: the last word wins (withdrawn before it ran, or paused again after).
  await h.signal(resume);
  await h.signal(pause);
  await waitState(h, 'PAUSED');
  await h.signal(cancelStream, {});
  const result = await h.result();
  const last = (await h.query(streamStatus)).lastSavepoint!;
  expect(last.reason).toBe('pause');
  expect(result).toMatchObject({ state: 'CANCELLED', savepoint: last.path });
  expect(await grantsOf(h.workflowId)).toEqual([]);
});

test('a resume and then a pause in one workflow task leave the stream paused: the last word wins', async () => {
  // A task queue whose worker runs only when asked: with it down, both signals wait for one task.
  const lull = 'stream-tests-lull';
  const h = await env.client.workflow.start(streamingPipelineWorkflow, {
    taskQueue: lull,
    workflowId: 'stream/sw-one-task',
    args: [{ pipeline: streamSpec('sw-one-task', 'views', 'sw') }],
  });
  await suite.runWorkerUntil(lull, async () => {
    await waitState(h, 'RUNNING');
    await h.signal(pause);
    await waitState(h, 'PAUSED');
  });
  await h.signal(resume);
  await h.signal(pause);
  const st = await suite.runWorkerUntil(lull, () =>
    until('the resume to be withdrawn', async () => {
      const s = await h.query(streamStatus);
      return s.events.some((e) => e.what === 'resume withdrawn by a pause') ? s : undefined;
    }),
  );
  expect(st.state).toBe('PAUSED');
  expect(submitted.filter((s) => s.pipeline === 'sw-one-task')).toHaveLength(1);
  expect(await grantsOf(h.workflowId)).toEqual([]);
  await h.terminate('test over');
});

test('periodic savepoints are taken on their interval and kept to the retention count', async () => {
  const h = await start('sw-periodic', { savepoints: { interval: '1 second', retain: { count: 2 } } });
  await waitState(h, 'RUNNING');
  const catalogue = await until('three periodic savepoints to have been taken', async () => {
    const c = await h.query(savepoints);
    return c.disposed >= 2 ? c : undefined;
  });
  const kept = catalogue.savepoints.filter((s) => s.kind === 'savepoint');
  expect(kept.length).toBeLessThanOrEqual(2);
  expect(kept.every((s) => s.reason === 'periodic')).toBe(true);
  await h.signal(cancelStream, { savepoint: false });
  const result = await h.result();
  expect(result.state).toBe('CANCELLED');
  expect(result.savepoint).toBeUndefined(); // cancelled without a savepoint: nothing to pick up from
});
