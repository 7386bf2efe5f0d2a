/**
 * The lambda workflow's policies on a dev server, with fake engines (the real ones run in
 * tests/integration/lambda.test.ts): partitions close as the stream's watermark passes them, run
 * as batch children through the pool, are checked, and are published in partition order (a hole
 * stops the high-water mark); `recompute` re-runs an inconsistent partition once, `alert`
 * publishes it flagged; a failed batch run is a gap until retried; pause, resume and cancel reach
 * both layers. The pool scheduler and the batch and stream child workflows are real.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../activities';
import type { ActivityDeps } from '../../activities/deps';
import { createLambdaActivities, nextProvenance } from '../../activities/lambda';
import { rootCauseMessage } from '../../lib/errors';
import { definePipeline, partitionBounds, type LambdaPipelineSpecInput } from '../../lib/pipelines';
import { lambdaLayers } from '../../lib/pipelines/lambda';
import { until } from '../../lib/poll';
import { lambdaPipelineWorkflow, poolSchedulerWorkflow } from '../../workflows';
import {
  cancelStream,
  lambdaStatus,
  pause,
  rescale,
  resume,
  retryPartitions,
  streamStatus,
  type CheckFigures,
  type LambdaStatus,
} from '../../workflows/messages';
import { fakeFlink } from '../helpers/fake-flink';
import { recordHistory } from '../helpers/histories';
import { startWorkflowSuite, type WorkflowSuite } from '../helpers/temporal';

jest.setTimeout(300_000);
let suite: WorkflowSuite;
let env: TestWorkflowEnvironment;
const taskQueue = 'lambda-tests';

// ---- the fake engines, per pipeline
const watermark = new Map<string, number>();
const jobs = new Map<string, string>();
/** Per `<pipeline>/<partition>`: the verdict of each successive check (consistent when not listed). */
const verdicts = new Map<string, boolean[]>();
const failingBatch = new Set<string>();
const sparkRuns: string[] = [];
const checks: { pipeline: string; partition: string; batchSnapshot: string }[] = [];
const commits: { pipeline: string; layer: string; partition?: string; after?: string; snapshot: string }[] = [];
const corrupted: string[] = [];
let snapshots = 100;

const figures = (consistent: boolean, report: string): CheckFigures => ({
  consistent,
  matched: consistent ? 4 : 3,
  mismatched: consistent ? 0 : 1,
  missingInBatch: 0,
  missingInStream: 0,
  duplicateKeys: { batch: 0, stream: 0 },
  report,
  engine: 'local',
});

const fakes: Partial<Activities> = {
  // the speed layer
  ...fakeFlink(jobs),
  // the batch layer
  kafkaEndOffsets: async () => ({ '0': 100 }),
  sparkSql: async (job) => {
    const key = `${job.output.pipeline}/${job.output.partition}`;
    sparkRuns.push(key);
    if (failingBatch.has(key)) throw ApplicationFailure.nonRetryable(`bad input in ${key}`, 'SparkJobRejected');
    return {
      engine: 'connect',
      rows: 4,
      output: `lake.\`${job.output.pipeline}\`.batch`,
      partition: job.output.partition,
      snapshotId: String(++snapshots),
      applicationId: 'app',
      sparkUi: 'http://ui',
    };
  },
  validateLakeOutput: async () => ({ rows: 4, columns: [] }),
  // the lambda's own
  lambdaStreamProgress: async ({ pipeline }) => ({
    snapshotId: `s${watermark.get(pipeline) ?? 0}`,
    ...(watermark.has(pipeline) ? { watermarkMs: watermark.get(pipeline)! } : {}),
    rows: {},
  }),
  checkLambdaPartition: async (input) => {
    const key = `${input.pipeline}/${input.partition}`;
    checks.push({ pipeline: input.pipeline, partition: input.partition, batchSnapshot: input.batchSnapshot });
    const planned = verdicts.get(key) ?? [];
    return figures(planned[input.attempt - 1] ?? true, `/reports/${key}/check-${input.attempt}.json`);
  },
  corruptBatchPartition: async ({ pipeline, partition }) => {
    corrupted.push(`${pipeline}/${partition}`);
    return { snapshotId: String(++snapshots) };
  },
  commitView: async (input) => {
    const snapshot = String(++snapshots);
    commits.push({ pipeline: input.pipeline, ...input.write, snapshot });
    const sums = input.write.partition ? [{ p: input.write.partition, n: 4, checksum: '42' }] : [];
    const write = { ...input.write, source: 'x' };
    return { snapshotId: snapshot, provenance: nextProvenance(input, write, sums), via: 'executed' };
  },
  expireView: async () => ({ snapshots: 1 }),
  // The real forwarding activity, with the test server's client: only its Temporal part is used.
  rescaleStream: (input) =>
    createLambdaActivities({ temporal: () => env.client } as unknown as ActivityDeps).rescaleStream(input),
  awaitWorkflowEnd: async ({ workflowId }) => {
    const h = env.client.workflow.getHandle(workflowId);
    await h.result().catch(() => undefined);
    return { status: (await h.describe()).status.name };
  },
};

beforeAll(async () => {
  suite = await startWorkflowSuite([{ taskQueue, options: { maxHeartbeatThrottleInterval: '1 second' } }], {
    activities: fakes,
  });
  env = suite.env;
  await env.client.workflow.start(poolSchedulerWorkflow, {
    taskQueue,
    workflowId: 'pool/lw',
    args: [{ name: 'lw', capacity: { cpu: 8, memoryMb: 16384 }, policy: { kind: 'fifo' } }],
  });
});
afterAll(async () => {
  await env?.client.workflow
    .getHandle('pool/lw')
    .terminate('done')
    .catch(() => undefined);
  await suite?.stop();
});

function lambdaSpec(name: string, extra: Partial<LambdaPipelineSpecInput> = {}) {
  return definePipeline({
    name,
    kind: 'lambda',
    source: {
      kind: 'kafka',
      topic: `${name}-events`,
      format: 'json',
      schema: { page: 'string', amount: 'bigint', ts: 'epoch_millis' },
      eventTime: 'ts',
    },
    transform: {
      window: { tumbling: '15 minutes' },
      groupBy: ['page'],
      aggregates: [
        { fn: 'count', as: 'views' },
        { fn: 'sum', column: 'amount', as: 'total_amount' },
      ],
    },
    partitioning: 'hour',
    sink: { lake: true },
    batch: { pool: 'lw', tenant: 't', resources: { cpu: 1, memoryMb: 512 } },
    stream: { pool: 'lw', tenant: 't', resources: { cpu: 1, memoryMb: 512 } },
    schedule: { start: '2026-01-01T00', end: '2026-01-01T03' },
    ...extra,
  });
}

const start = (name: string, extra: Partial<LambdaPipelineSpecInput> = {}, faults?: { corruptBatch?: string[] }) =>
  env.client.workflow.start(lambdaPipelineWorkflow, {
    taskQueue,
    workflowId: `lambda/${name}`,
    args: [{ pipeline: lambdaSpec(name, extra), pollMs: 200, ...(faults ? { faults } : {}) }],
  });

const endOf = (p: string) => partitionBounds('hour', p).end;
const statusWhen = (h: WorkflowHandle, what: string, ok: (s: LambdaStatus) => boolean) =>
  until(what, async () => {
    const s = await h.query(lambdaStatus);
    return ok(s) ? s : undefined;
  });
/** The stream child's state (undefined until the lambda has started it). */
const streamState = (name: string) =>
  env.client.workflow
    .getHandle(`stream/${name}`)
    .query(streamStatus)
    .then((s) => s.state)
    .catch(() => undefined);
const phaseOf = (s: LambdaStatus, p: string) => s.partitions.find((x) => x.partition === p)?.phase;

test('partitions close with the watermark, run as batch children, are checked and published in order; the view mirrors the stream after the mark', async () => {
  const h = await start('lw-order');
  await statusWhen(h, 'the lambda to run', (s) => s.state === 'RUNNING');
  expect((await h.query(lambdaStatus)).partitions).toEqual([]); // nothing closed before the watermark
  watermark.set('lw-order', endOf('2026-01-01T01')); // 00 and 01 have closed, 02 not yet
  const s = await statusWhen(h, 'two partitions published', (x) => x.highWaterMark === '2026-01-01T01');
  expect(s.partitions.map((p) => [p.partition, p.phase])).toEqual([
    ['2026-01-01T00', 'published'],
    ['2026-01-01T01', 'published'],
  ]);
  // Two at once (maxConcurrentBatches 2): started in either order.
  expect(sparkRuns.filter((r) => r.startsWith('lw-order/')).sort()).toEqual([
    'lw-order/2026-01-01T00',
    'lw-order/2026-01-01T01',
  ]);
  // Batch publications in partition order, and stream refreshes that cover only what is after the mark.
  const mine = commits.filter((c) => c.pipeline === 'lw-order');
  expect(mine.filter((c) => c.layer === 'batch').map((c) => c.partition)).toEqual(['2026-01-01T00', '2026-01-01T01']);
  // The stream commits more of 02: the refresh copies only what is after the mark.
  watermark.set('lw-order', endOf('2026-01-01T01') + 60_000);
  const refresh = await until('a refresh after the mark', async () =>
    commits.find((c) => c.pipeline === 'lw-order' && c.layer === 'stream' && c.after === '2026-01-01T01'),
  );
  expect(refresh).toMatchObject({ from: '2026-01-01T00', snapshot: expect.any(String) });

  watermark.set('lw-order', endOf('2026-01-01T03'));
  const result = await h.result();
  expect(result).toMatchObject({ pipeline: 'lw-order', state: 'COMPLETED', highWaterMark: '2026-01-01T03' });
  // The speed layer was stopped with the schedule's end.
  await until('the stream to be cancelled', async () =>
    (await streamState('lw-order')) === 'CANCELLED' ? true : undefined,
  );
});

test('recompute: an inconsistent partition runs its batch again once and is published repaired; alert publishes it flagged at once', async () => {
  verdicts.set('lw-repair/2026-01-01T00', [false, true]);
  verdicts.set('lw-repair/2026-01-01T01', [false, false]);
  verdicts.set('lw-alert/2026-01-01T00', [false]);
  const repair = await start('lw-repair', { schedule: { start: '2026-01-01T00', end: '2026-01-01T01' } });
  const alert = await start('lw-alert', {
    schedule: { start: '2026-01-01T00', end: '2026-01-01T00' },
    lambda: { onInconsistent: 'alert' },
  });
  watermark.set('lw-repair', endOf('2026-01-01T01'));
  watermark.set('lw-alert', endOf('2026-01-01T00'));
  await Promise.all([repair.result(), alert.result()]);
  await recordHistory('lambda-repaired.json', repair);

  const r = await repair.query(lambdaStatus);
  const [p0, p1] = r.partitions;
  expect(p0).toMatchObject({ phase: 'published', batchRuns: 2 });
  expect(p0!.flagged).toBeUndefined();
  expect(p0!.checks.map((c) => c.consistent)).toEqual([false, true]);
  expect(p1).toMatchObject({ phase: 'published', batchRuns: 2, flagged: true });
  expect(sparkRuns.filter((x) => x === 'lw-repair/2026-01-01T00')).toHaveLength(2);
  const prov = commits.filter((c) => c.pipeline === 'lw-repair' && c.layer === 'batch');
  expect(prov.map((c) => c.partition)).toEqual(['2026-01-01T00', '2026-01-01T01']);

  const a = await alert.query(lambdaStatus);
  expect(a.partitions[0]).toMatchObject({ phase: 'published', batchRuns: 1, flagged: true });
  expect(sparkRuns.filter((x) => x === 'lw-alert/2026-01-01T00')).toHaveLength(1);
});

test('faults.corruptBatch corrupts the first batch output of a partition before its check, never the recompute', async () => {
  const h = await start(
    'lw-fault',
    { schedule: { start: '2026-01-01T00', end: '2026-01-01T00' } },
    { corruptBatch: ['2026-01-01T00'] },
  );
  verdicts.set('lw-fault/2026-01-01T00', [false, true]);
  watermark.set('lw-fault', endOf('2026-01-01T00'));
  await h.result();
  expect(corrupted.filter((c) => c.startsWith('lw-fault/'))).toEqual(['lw-fault/2026-01-01T00']);
  const checked = checks.filter((c) => c.pipeline === 'lw-fault');
  expect(checked).toHaveLength(2);
  // The first check compared the corrupted snapshot, not the batch run's own.
  expect(checked[0]!.batchSnapshot).not.toBe(checked[1]!.batchSnapshot);
});

test('a failed batch run is a gap that stops the high-water mark; later partitions wait; a retry fills it', async () => {
  failingBatch.add('lw-gap/2026-01-01T01');
  const h = await start('lw-gap', { schedule: { start: '2026-01-01T00', end: '2026-01-01T02' } });
  watermark.set('lw-gap', endOf('2026-01-01T02'));
  const s = await statusWhen(
    h,
    '01 to fail and 02 to be ready',
    (x) => phaseOf(x, '2026-01-01T01') === 'batch-failed' && phaseOf(x, '2026-01-01T02') === 'ready',
  );
  expect(s.highWaterMark).toBe('2026-01-01T00');
  expect(s.gaps).toEqual(['2026-01-01T01', '2026-01-01T02']);
  expect(s.partitions.find((p) => p.partition === '2026-01-01T01')!.error).toMatch(
    /bad input in lw-gap\/2026-01-01T01/,
  );
  failingBatch.delete('lw-gap/2026-01-01T01');
  await h.signal(retryPartitions, {});
  expect(await h.result()).toMatchObject({ state: 'COMPLETED', highWaterMark: '2026-01-01T02' });
  await recordHistory('lambda-gap-retried.json', h);
});

test('pause and resume reach the speed layer; cancel stops both layers', async () => {
  const h = await start('lw-ops', { schedule: { start: '2026-01-01T00' } });
  await until('the stream to run', async () => ((await streamState('lw-ops')) === 'RUNNING' ? true : undefined));
  await h.signal(pause);
  await until('the stream to pause', async () => ((await streamState('lw-ops')) === 'PAUSED' ? true : undefined));
  // Paused: a partition that closes now runs no batch.
  watermark.set('lw-ops', endOf('2026-01-01T00'));
  const paused = await statusWhen(h, 'the partition to close', (s) => s.partitions.length === 1);
  expect(paused.paused).toBe(true);
  expect(paused.partitions[0]!.phase).toBe('batch-waiting');
  await h.signal(resume);
  await until('the stream to run again', async () => ((await streamState('lw-ops')) === 'RUNNING' ? true : undefined));
  await statusWhen(h, 'the partition to be published', (s) => phaseOf(s, '2026-01-01T00') === 'published');
  await h.signal(cancelStream, { reason: 'test over' });
  expect(await h.result()).toMatchObject({ state: 'CANCELLED', highWaterMark: '2026-01-01T00' });
  await until('the stream to be cancelled', async () =>
    (await streamState('lw-ops')) === 'CANCELLED' ? true : undefined,
  );
});

test('rescale sent to the lambda pipeline reaches its speed layer: a new generation at the new parallelism', async () => {
  const h = await start('lw-rescale', { schedule: { start: '2026-01-01T00' } });
  await until('the stream to run', async () => ((await streamState('lw-rescale')) === 'RUNNING' ? true : undefined));
  const answer = await h.executeUpdate(rescale, { args: [{ parallelism: 2 }] });
  expect(answer).toMatchObject({ from: 1, to: 2, jobId: 'lw-rescale-2', vertexParallelism: [2] });
  const stream = await env.client.workflow.getHandle('stream/lw-rescale').query(streamStatus);
  expect(stream).toMatchObject({ state: 'RUNNING', parallelism: 2, generation: 2 });
  // A parallelism the stream refuses comes back as the lambda's answer, naming it.
  const refused = await h.executeUpdate(rescale, { args: [{ parallelism: 0 }] }).catch((err: Error) => err);
  expect(rootCauseMessage(refused)).toMatch(/^parallelism: expected an integer from 1 to maxParallelism \d+, got 0$/);
  await h.signal(cancelStream, { reason: 'test over' });
  expect(await h.result()).toMatchObject({ state: 'CANCELLED' });
});

test('a spec of another kind is refused at once, naming the kind', async () => {
  const { batch } = lambdaLayers(lambdaSpec('lw-wrong'));
  const h = await env.client.workflow.start(lambdaPipelineWorkflow, {
    taskQueue,
    workflowId: 'lambda/lw-wrong',
    args: [{ pipeline: batch }],
  });
  await expect(h.result()).rejects.toThrow(WorkflowFailedError);
  const err = await h.result().catch((e: unknown) => e);
  expect(rootCauseMessage(err)).toMatch(/lw-wrong is a batch pipeline, not a lambda one/);
});
