/**
 * The Kappa workflow's policies on a dev server, with a fake Flink and fake lake (the real ones
 * run in tests/integration/kappa.test.ts): the view follows the serving generation; a reprocess
 * switches only when its diff passes (or is forced), a failing one is rejected and its tables
 * dropped; bad requests are refused by name; a rollback is one commit back; a retained generation
 * is removed after its retention. The pool scheduler and the stream workflows are real.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../activities';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from '../../activities/deps';
import { createLambdaActivities, nextProvenance } from '../../activities/lambda';
import { definePipeline, type KappaPipelineSpecInput } from '../../lib/pipelines';
import { until } from '../../lib/poll';
import { kappaPipelineWorkflow, poolSchedulerWorkflow } from '../../workflows';
import {
  cancelStream,
  kappaStatus,
  reprocess,
  rollback,
  streamStatus,
  type CheckFigures,
  type KappaStatus,
} from '../../workflows/messages';
import { fakeFlink } from '../helpers/fake-flink';
import { recordHistory } from '../helpers/histories';
import { startWorkflowSuite, type WorkflowSuite } from '../helpers/temporal';

jest.setTimeout(120_000);
let suite: WorkflowSuite;
let env: TestWorkflowEnvironment;
const taskQueue = 'kappa-tests';
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

// ---- the fake lake, per generation's pipeline name
const jobs = new Map<string, string>();
const watermark = new Map<string, number>();
/** Pipeline names whose diffs fail. */
const differing = new Set<string>();
const commits: { pipeline: string; source: string; generation?: number; snapshot: string }[] = [];
const dropped: string[] = [];
let snapshots = 0;

const figures = (consistent: boolean, report: string): CheckFigures => ({
  consistent,
  matched: 4,
  mismatched: consistent ? 0 : 2,
  missingInBatch: 0,
  missingInStream: 0,
  duplicateKeys: { batch: 0, stream: 0 },
  report,
  engine: 'local',
});

/** Pipeline names whose Flink job is refused at submission (the stream workflow fails). */
const refused = new Set<string>();
const flink = fakeFlink(jobs);
const temporalActs = () => createLambdaActivities({ temporal: () => env.client } as unknown as ActivityDeps);

const fakes: Partial<Activities> = {
  ...flink,
  submitStreamGeneration: async (input) => {
    if (refused.has(input.pipeline)) {
      throw ApplicationFailure.nonRetryable(`Flink refused ${input.pipeline}`, 'FlinkSqlRejected');
    }
    return flink.submitStreamGeneration!(input);
  },
  workflowStatus: (input) => temporalActs().workflowStatus(input),
  lambdaStreamProgress: async ({ pipeline }) => ({
    // A generation's table changes when its watermark does.
    ...(watermark.has(pipeline)
      ? { snapshotId: `${pipeline}@${watermark.get(pipeline)}`, watermarkMs: watermark.get(pipeline)! }
      : {}),
    rows: {},
  }),
  checkLambdaPartition: async (input) =>
    figures(
      !differing.has(input.tables!.batch.pipeline),
      `/reports/${input.pipeline}/${input.partition}/${input.reportName}.json`,
    ),
  commitView: async (input) => {
    const snapshot = String(++snapshots);
    commits.push({
      pipeline: input.pipeline,
      source: input.write.pipeline!,
      generation: input.annotate?.generation,
      snapshot,
    });
    const write = { ...input.write, source: 'x' };
    return { snapshotId: snapshot, provenance: nextProvenance(input, write, []), via: 'executed' };
  },
  dropLakeTables: async ({ pipeline, layers }) => {
    dropped.push(pipeline);
    return { dropped: layers.map((l) => `lake.${pipeline}.${l}`) };
  },
  expireView: async () => ({ snapshots: 1 }),
  awaitWorkflowEnd: async ({ workflowId }) => {
    const h = env.client.workflow.getHandle(workflowId);
    await h.result().catch(() => undefined);
    return { status: (await h.describe()).status.name };
  },
};

beforeAll(async () => {
  suite = await startWorkflowSuite([{ taskQueue }], { activities: fakes });
  env = suite.env;
  await env.client.workflow.start(poolSchedulerWorkflow, {
    taskQueue,
    workflowId: 'pool/kw',
    args: [{ name: 'kw', capacity: { cpu: 8, memoryMb: 16384 }, policy: { kind: 'fifo' } }],
  });
});
afterAll(async () => {
  await env?.client.workflow
    .getHandle('pool/kw')
    .terminate('done')
    .catch(() => undefined);
  await suite?.stop();
});

function kappaSpec(name: string, extra: Partial<KappaPipelineSpecInput> = {}) {
  return definePipeline({
    name,
    kind: 'kappa',
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
    stream: { pool: 'kw', tenant: 't', resources: { cpu: 1, memoryMb: 512 } },
    schedule: { start: '2026-01-01T00' },
    ...extra,
  });
}
const start = (name: string, extra: Partial<KappaPipelineSpecInput> = {}) =>
  env.client.workflow.start(kappaPipelineWorkflow, {
    taskQueue,
    workflowId: `kappa/${name}`,
    args: [{ pipeline: kappaSpec(name, extra), pollMs: 200 }],
  });
const statusWhen = (h: WorkflowHandle, what: string, ok: (s: KappaStatus) => boolean) =>
  until(what, async () => {
    const s = await h.query(kappaStatus);
    return ok(s) ? s : undefined;
  });
const gen = (s: KappaStatus, n: number) => s.generations.find((g) => g.generation === n);
/** Refused updates answer their validator's message. */
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (err: Error) => String((err.cause as Error | undefined)?.message ?? err.message),
  );
const streamRunning = (id: string) =>
  until(`${id} to run`, async () =>
    (
      await env.client.workflow
        .getHandle(id)
        .query(streamStatus)
        .catch(() => undefined)
    )?.state === 'RUNNING'
      ? true
      : undefined,
  );

test('the view follows the serving generation; a passing reprocess switches it once; a rollback is one commit back', async () => {
  const h = await start('kw-a');
  expect(await refusal(h.executeUpdate(reprocess, { args: [{}] }))).toBe(
    'the serving generation has committed nothing yet: nothing to reprocess',
  );
  watermark.set('kw-a', T0 + 2 * HOUR);
  await statusWhen(h, 'the view to follow generation 1', (s) => s.viewSnapshot !== undefined);
  expect(await refusal(h.executeUpdate(rollback, { args: [] }))).toBe('no retained generation to roll back to');

  const answer = await h.executeUpdate(reprocess, { args: [{}] });
  expect(answer).toEqual({ generation: 2, workflowId: 'stream/kw-a-g2', targetMs: T0 + 2 * HOUR });
  expect(await refusal(h.executeUpdate(reprocess, { args: [{}] }))).toBe('generation 2 is still catching-up');
  await streamRunning('stream/kw-a-g2');
  // Behind its target: no diff, no switch.
  watermark.set('kw-a-g2', T0 + HOUR);
  await statusWhen(h, 'generation 2 to catch up', (s) => gen(s, 2)!.state === 'catching-up');
  expect(commits.filter((c) => c.source === 'kw-a-g2')).toEqual([]);
  watermark.set('kw-a-g2', T0 + 2 * HOUR);
  const s = await statusWhen(h, 'generation 2 to serve', (x) => x.serving === 2);
  // Both closed partitions were diffed, then the view switched in one commit.
  expect(gen(s, 2)!.checks.map((c) => [c.partition, c.consistent])).toEqual([
    ['2026-01-01T00', true],
    ['2026-01-01T01', true],
  ]);
  expect(commits.filter((c) => c.pipeline === 'kw-a').map((c) => [c.source, c.generation])).toEqual([
    ['kw-a', 1],
    ['kw-a-g2', 2],
  ]);
  expect(gen(s, 2)!.switchSnapshot).toBe(commits.at(-1)!.snapshot);
  expect(gen(s, 1)).toMatchObject({ state: 'retained', retainUntil: expect.any(Number) });
  await until('generation 1 to pause', async () =>
    (await env.client.workflow.getHandle('stream/kw-a').query(streamStatus)).state === 'PAUSED' ? true : undefined,
  );

  const back = await h.executeUpdate(rollback, { args: [] });
  expect(back).toEqual({ serving: 1, from: 2, viewSnapshot: commits.at(-1)!.snapshot });
  expect(commits.at(-1)).toMatchObject({ source: 'kw-a', generation: 1 });
  await until('generation 2 to pause', async () =>
    (await env.client.workflow.getHandle('stream/kw-a-g2').query(streamStatus)).state === 'PAUSED' ? true : undefined,
  );
  await h.signal(cancelStream, { reason: 'test over' });
  expect(await h.result()).toMatchObject({ state: 'CANCELLED', serving: 1 });
  await recordHistory('kappa-switched-rolled-back.json', h);
});

test('a reprocess whose diff fails is rejected and dropped; forced, it switches and says so', async () => {
  const h = await start('kw-b', { kappa: { retainOld: '1 second' } });
  watermark.set('kw-b', T0 + HOUR);
  await statusWhen(h, 'the view to follow generation 1', (s) => s.viewSnapshot !== undefined);
  expect(await refusal(h.executeUpdate(reprocess, { args: [{ force: 'yes' } as never] }))).toBe(
    'force: expected true or false, got "yes"',
  );
  expect(
    await refusal(
      h.executeUpdate(reprocess, {
        args: [{ transform: { window: { tumbling: '15 minutes' }, groupBy: ['nope'], aggregates: [] } }],
      }),
    ),
  ).toMatch(/^transform: /);

  differing.add('kw-b-g2');
  await h.executeUpdate(reprocess, { args: [{}] });
  watermark.set('kw-b-g2', T0 + HOUR);
  const s = await statusWhen(h, 'generation 2 to be rejected', (x) => gen(x, 2)?.state === 'rejected');
  expect(s.serving).toBe(1);
  expect(gen(s, 2)!.reason).toMatch(
    /^diff failed in 2026-01-01T00 \(2 mismatched, 0 one-sided; \/reports\/kw-b\/2026-01-01T00\/reprocess-g2-vs-g1\.json\)$/,
  );
  expect(dropped).toContain('kw-b-g2');
  expect(commits.some((c) => c.source === 'kw-b-g2')).toBe(false);
  expect(jobs.get('kw-b-g2-1')).toBe('CANCELED');

  // A generation whose stream fails before catching up is rejected too, naming it.
  refused.add('kw-b-g3');
  await h.executeUpdate(reprocess, { args: [{}] });
  const failed = await statusWhen(h, 'generation 3 to be rejected', (x) => gen(x, 3)?.state === 'rejected');
  expect(gen(failed, 3)!.reason).toBe('its stream stream/kw-b-g3 ended FAILED before catching up');
  expect(dropped).toContain('kw-b-g3');

  differing.add('kw-b-g4');
  await h.executeUpdate(reprocess, { args: [{ force: true }] });
  watermark.set('kw-b-g4', T0 + HOUR);
  const forced = await statusWhen(h, 'generation 4 to serve', (x) => x.serving === 4);
  expect(gen(forced, 4)!.reason).toBe('switched by force although the diff failed in 2026-01-01T00');
  // Generation 1's retention (1 s) ends: its stream stops and its tables are dropped.
  const removed = await statusWhen(h, 'generation 1 to be removed', (x) => gen(x, 1)!.state === 'removed');
  expect(gen(removed, 1)!.state).toBe('removed');
  expect(dropped).toContain('kw-b');
  await h.signal(cancelStream, { reason: 'test over' });
  await h.result();
});
