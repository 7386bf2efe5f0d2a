/**
 * The hello pipeline end to end: the Sluice worker on the stack's Temporal dev server, driving
 * real Kafka, Spark and Flink. Set RECORD_HISTORIES=1 to refresh tests/histories/.
 */
import { demoEvents } from '../../activities';
import { SluicePipeline, SluiceState } from '../../lib/search-attributes';
import { recordHistory } from '../helpers/histories';
import { connectTestClient, startTestWorker, testEnv } from '../helpers/worker';
import { helloPipelineWorkflow } from '../../workflows';

jest.setTimeout(300_000);

test('the hello pipeline runs on every engine through the worker, and batch agrees with stream', async () => {
  const env = testEnv('it-hello');
  const taskQueue = env.SLUICE_TASK_QUEUE;
  const client = await connectTestClient(env);
  const worker = await startTestWorker(env);
  const runId = `it-${Date.now().toString(36)}`;
  const workflowId = `hello/${runId}`;
  try {
    const result = await (async () => {
      const handle = await client.workflow.start(helloPipelineWorkflow, {
        taskQueue,
        workflowId,
        args: [{ runId, events: 50, seed: 7 }],
        typedSearchAttributes: [{ key: SluicePipeline, value: 'hello' }],
        staticSummary: 'hello pipeline (integration test)',
      });
      const r = await handle.result();
      await recordHistory('hello-pipeline.json', handle);
      return r;
    })();

    // What the generator put into Kafka, totalled by hand, is what both engines must report.
    const expected = new Map<string, { events: number; total: number }>();
    for (const e of demoEvents(50, 7, 0)) {
      const t = expected.get(e.user) ?? { events: 0, total: 0 };
      expected.set(e.user, { events: t.events + 1, total: t.total + e.amount });
    }
    const want = [...expected].map(([user, t]) => ({ user, ...t })).sort((a, b) => a.user.localeCompare(b.user));
    expect(result.batch.rows).toEqual(want);
    expect(result.stream.rows).toEqual(want);
    expect(result.agree).toBe(true);
    expect(result.batch.applicationId).toMatch(/^app-/);
    expect(result.stream.jobId).toMatch(/^[0-9a-f]{32}$/);
    expect(result.batch.table).toBe('lake.`hello`.batch');
    expect(result.batch.snapshotId).toMatch(/^\d+$/);

    // Findable in the UI: typed search attributes and a static summary.
    const description = await client.workflow.getHandle(workflowId).describe();
    expect(description.typedSearchAttributes.get(SluiceState)).toBe('succeeded');
    expect(description.typedSearchAttributes.get(SluicePipeline)).toBe('hello');
    expect(await description.staticSummary()).toBe('hello pipeline (integration test)');
  } finally {
    await worker.stop();
    await client.connection.close();
  }
});
