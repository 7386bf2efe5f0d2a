/**
 * `intakeWorkflow` with fake intake activities and the real pool scheduler: the schema is
 * registered before anything is admitted (an incompatible one fails the intake with nothing held),
 * a pause cancels the running slice and gives the grant back, a resume asks again, a
 * continue-as-new keeps the grant (the pool sees one request throughout), and a cancel ends with
 * the committed counts.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../activities';
import type { IntakeSliceResult } from '../../activities/intake';
import { rootCauseMessage } from '../../lib/errors';
import { defineIntake } from '../../lib/intake/spec';
import { until } from '../../lib/poll';
import { intakeWorkflow, poolSchedulerWorkflow } from '../../workflows';
import { cancelStream, intakeStatus, pause, poolState, resume, type IntakeStatus } from '../../workflows/messages';
import { startWorkflowSuite, type WorkflowSuite } from '../helpers/temporal';

jest.setTimeout(120_000);
let suite: WorkflowSuite;
let env: TestWorkflowEnvironment;
const taskQueue = 'intake-tests';
const pool = 'iw';

/** Per intake: slices started, and the committed counts (each slice commits 10 records). */
const slices = new Map<string, number>();
const committed = new Map<string, number>();
const incompatible = new Set<string>();

const result = (name: string): IntakeSliceResult => ({
  counts: { recordsIn: committed.get(name) ?? 0, recordsOut: committed.get(name) ?? 0, deadLetters: 0 },
  commits: (committed.get(name) ?? 0) / 10,
  lagBytes: 0,
  files: [{ path: '/logs/app.log', offset: committed.get(name) ?? 0 }],
  position: '1 file',
});

const fakes: Partial<Activities> = {
  registerIntakeSchema: async ({ intake }) => {
    if (incompatible.has(intake.name)) {
      throw ApplicationFailure.create({
        message: `topic ${intake.topic}: dropped column "n"`,
        type: 'SchemaIncompatible',
        nonRetryable: true,
      });
    }
    return { version: 1, columns: {}, registeredBy: `intake ${intake.name}`, registeredAt: 0 };
  },
  runIntakeSlice: async ({ intake }) => {
    const name = intake.name;
    slices.set(name, (slices.get(name) ?? 0) + 1);
    committed.set(name, (committed.get(name) ?? 0) + 10);
    // `hold-*` intakes run until cancelled (a pause, a cancel), heartbeating; the others return.
    if (name.startsWith('hold-')) {
      const ctx = Context.current();
      // A cancellation reaches an activity only in the answer to a heartbeat: heartbeat until it does.
      const beat = setInterval(() => ctx.heartbeat(), 200);
      try {
        await ctx.cancelled;
      } finally {
        clearInterval(beat);
      }
    }
    return result(name);
  },
  intakeProgress: async ({ intake }) => result(intake.name),
};

const spec = (name: string) =>
  defineIntake({
    name,
    source: { kind: 'files', dir: '/logs', format: 'jsonl' },
    schema: { n: 'int', ts: 'epoch_millis' },
    eventTime: 'ts',
    topic: `${name}-topic`,
    intake: { pool, tenant: 't', resources: { cpu: 1, memoryMb: 100 } },
  });

const holders = async () =>
  (await env.client.workflow.getHandle(`pool/${pool}`).query(poolState)).running.map((g) => g.holderWorkflowId);
const stateOf = (h: WorkflowHandle, state: IntakeStatus['state']) =>
  until(
    `${h.workflowId} to be ${state}`,
    async () => ((await h.query(intakeStatus)).state === state ? true : undefined),
    {
      timeoutMs: 30_000,
      intervalMs: 100,
    },
  );

beforeAll(async () => {
  suite = await startWorkflowSuite([{ taskQueue, options: { maxHeartbeatThrottleInterval: '1 second' } }], {
    activities: fakes,
  });
  env = suite.env;
  await env.client.workflow.start(poolSchedulerWorkflow, {
    taskQueue,
    workflowId: `pool/${pool}`,
    args: [{ name: pool, capacity: { cpu: 4, memoryMb: 1000 }, policy: { kind: 'fifo' } }],
  });
});
afterAll(async () => {
  await env?.client.workflow
    .getHandle(`pool/${pool}`)
    .terminate('done')
    .catch(() => undefined);
  await suite?.stop();
});

test('a pause gives the grant back, a resume asks again, a cancel ends with the committed counts', async () => {
  const h = await env.client.workflow.start(intakeWorkflow, {
    taskQueue,
    workflowId: 'intake/hold-a',
    args: [{ intake: spec('hold-a') }],
  });
  await stateOf(h, 'RUNNING');
  expect(await holders()).toEqual(['intake/hold-a']);

  await h.signal(pause);
  await stateOf(h, 'PAUSED');
  await until('the grant to be given back', async () => ((await holders()).length === 0 ? true : undefined), {
    timeoutMs: 10_000,
    intervalMs: 100,
  });

  await h.signal(resume);
  await stateOf(h, 'RUNNING');
  expect(await holders()).toEqual(['intake/hold-a']);
  expect(slices.get('hold-a')).toBe(2);

  await h.signal(cancelStream, { reason: 'done' });
  const final = await h.result();
  expect(final).toMatchObject({ state: 'CANCELLED', recordsIn: 20, commits: 2 });
  expect(await holders()).toEqual([]);
});

test('continue-as-new keeps the grant: the pool sees the same request throughout', async () => {
  const h = await env.client.workflow.start(intakeWorkflow, {
    taskQueue,
    workflowId: 'intake/runs-b',
    args: [{ intake: spec('runs-b'), slicesPerRun: 2 }],
  });
  const firstRun = (await h.describe()).runId;
  const grant = await until(
    'a grant',
    async () => (await env.client.workflow.getHandle(`pool/${pool}`).query(poolState)).running[0],
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  await until('three runs', async () => ((slices.get('runs-b') ?? 0) >= 6 ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  expect((await h.describe()).runId).not.toBe(firstRun);
  const now = (await env.client.workflow.getHandle(`pool/${pool}`).query(poolState)).running;
  expect(now.map((g) => [g.holderWorkflowId, g.requestId])).toEqual([['intake/runs-b', grant.requestId]]);
  await h.signal(cancelStream, {});
  expect(await h.result()).toMatchObject({ state: 'CANCELLED' });
  expect(await holders()).toEqual([]);
});

test('an incompatible schema fails the intake by name before anything is admitted', async () => {
  incompatible.add('bad-c');
  const h = await env.client.workflow.start(intakeWorkflow, {
    taskQueue,
    workflowId: 'intake/bad-c',
    args: [{ intake: spec('bad-c') }],
  });
  const err = await h.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(rootCauseMessage(err)).toContain('dropped column "n"');
  expect(slices.get('bad-c')).toBeUndefined();
  expect(await holders()).toEqual([]);
});
