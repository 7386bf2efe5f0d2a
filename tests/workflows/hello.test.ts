import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, type Activities } from '../../activities';
import { helloPipelineWorkflow, helloWorkflow } from '../../workflows';
import type { ActivityDeps } from '../../activities/deps';
import { bundleWorkflows, createTestEnv } from '../helpers/temporal';

jest.setTimeout(120_000);

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  [env, workflowBundle] = await Promise.all([createTestEnv(), bundleWorkflows()]);
});
afterAll(async () => {
  await env?.teardown();
});

async function runWith<T>(activities: Partial<Activities>, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `test-${Math.random().toString(36).slice(2)}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities });
  return worker.runUntil(fn(taskQueue));
}

test('a trivial workflow runs its activity through a worker on the dev server', async () => {
  // The real activity: greet touches no engine, so no client is needed.
  const { greet } = createActivities({} as ActivityDeps);
  const result = await runWith({ greet }, (taskQueue) =>
    env.client.workflow.execute(helloWorkflow, { taskQueue, workflowId: 'hello-1', args: ['Sluice'] }),
  );
  expect(result).toBe('Hello, Sluice!');
});

// The engines are not the subject here (tests/integration runs them for real): the activities are
// fakes, and the test checks the workflow's orchestration and its batch/stream comparison.
function fakeEngines(streamTotals: { user: string; events: number; total: number }[]): Partial<Activities> {
  return {
    produceDemoEvents: async () => ({ from: { '0': 0 }, to: { '0': 3 } }),
    sparkSql: async (job) => ({
      engine: 'connect',
      rows: 2,
      output: `lake.${job.output.pipeline}.${job.output.layer}`,
      partition: job.output.partition,
      applicationId: 'app-1',
      sparkUi: 'http://ui',
    }),
    readLakePartition: async () => ({
      numRows: 2,
      rows: [
        { user: 'bo', events: 1, total: 5 },
        { user: 'ana', events: 2, total: 17 },
      ],
    }),
    ensureTopic: async () => {},
    flinkSqlJob: async () => ({ jobId: 'f'.repeat(32), state: 'FINISHED' }),
    readTopic: async () => streamTotals,
  };
}

test('the hello pipeline compares the batch and stream results', async () => {
  const agreeing = await runWith(
    fakeEngines([
      { user: 'ana', events: 2, total: 17 },
      { user: 'bo', events: 1, total: 5 },
    ]),
    (taskQueue) =>
      env.client.workflow.execute(helloPipelineWorkflow, { taskQueue, workflowId: 'hp-1', args: [{ runId: 'r1' }] }),
  );
  expect(agreeing.agree).toBe(true);
  expect(agreeing.batch.rows).toEqual([
    { user: 'ana', events: 2, total: 17 },
    { user: 'bo', events: 1, total: 5 },
  ]);

  const differing = await runWith(fakeEngines([{ user: 'ana', events: 2, total: 17 }]), (taskQueue) =>
    env.client.workflow.execute(helloPipelineWorkflow, { taskQueue, workflowId: 'hp-2', args: [{ runId: 'r2' }] }),
  );
  expect(differing.agree).toBe(false);
});

test('an invalid run id fails the workflow at once with a message naming the field', async () => {
  let produced = 0;
  const engines = { ...fakeEngines([]), produceDemoEvents: async () => ((produced += 1), { from: {}, to: {} }) };
  const err = await runWith(engines, (taskQueue) =>
    env.client.workflow
      .execute(helloPipelineWorkflow, { taskQueue, workflowId: 'hp-bad', args: [{ runId: 'Bad Id!' }] })
      .catch((e: unknown) => e),
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe('InvalidInput');
  expect((cause as ApplicationFailure).message).toMatch(/^runId: /);
  expect(produced).toBe(0);
});
