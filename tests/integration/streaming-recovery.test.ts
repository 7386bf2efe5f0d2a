/**
 * A streaming pipeline survives what kills it: a worker SIGKILLed at each step of pause, resume and
 * rescale (a new worker finishes the saga: exactly one live Flink job afterwards, or none while
 * paused), a TaskManager killed (Flink's restart strategy recovers the job), and a JobManager
 * restart that forgets every job (the workflow resubmits from the newest restorable checkpoint).
 * Totals are checked at the end in both sinks against what the generator produced.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { poolTaskQueue } from '../../config/env';
import { ensureTopic } from '../../engines/kafka';
import { until } from '../../lib/poll';
import { stackUp } from '../../stack/stack';
import { stackPaths } from '../../stack/paths';
import { stopDaemon } from '../../stack/process';
import { poolSchedulerWorkflow, streamingPipelineWorkflow } from '../../workflows';
import { pause, rescale, resume, streamStatus, streamWorkflowId, type StreamState } from '../../workflows/messages';
import { EventGenerator, liveJobs, sinkTotals, sortedEntries, streamSpec, waitState } from '../helpers/streams';
import { killStackProcess } from '../helpers/stack';
import {
  armedHold,
  connectTestClient,
  spawnWorkerProcess,
  testDeps,
  testEnv,
  type WorkerProcess,
} from '../helpers/worker';

jest.setTimeout(900_000);
const id = Date.now().toString(36);
const env = testEnv('it-stream-crash');
const deps = testDeps(env);
const poolName = `it-crash-${id}`;
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-stream-crash-'));
let client: Client;

const failpoints = path.join(logDir, 'failpoints');
const startWorker = (n: number) => spawnWorkerProcess(env, logDir, n, [], { SLUICE_FAILPOINTS_DIR: failpoints });
let worker: WorkerProcess | undefined;
let workers = 0;

beforeAll(async () => {
  client = await connectTestClient(env);
  await client.workflow.start(poolSchedulerWorkflow, {
    taskQueue: poolTaskQueue(env),
    workflowId: `pool/${poolName}`,
    args: [{ name: poolName, capacity: { cpu: 8, memoryMb: 16384 }, policy: { kind: 'fifo' } }],
  });
  worker = startWorker(++workers);
});

afterAll(async () => {
  await client?.workflow
    .getHandle(`pool/${poolName}`)
    .terminate('test over')
    .catch(() => undefined);
  await worker?.kill();
  await client?.connection.close();
});

/**
 * Runs `act` with `activity` held once its work is done (tests/helpers/worker.ts armedHold), then
 * SIGKILLs the worker holding it and starts another, which retries it.
 */
async function killDuring(activity: string, act: () => Promise<void>) {
  await armedHold(failpoints, activity, act);
  await worker!.kill();
  worker = startWorker(++workers);
}

describe('a streaming pipeline whose worker is SIGKILLed mid-saga', () => {
  const name = `st-crash-${id}`;
  const topic = `it-st-crash-${id}`;
  const gen = new EventGenerator(deps.brokers, topic);
  let handle: WorkflowHandle<typeof streamingPipelineWorkflow>;

  beforeAll(async () => {
    await ensureTopic(deps.kafka, topic, 2);
    await ensureTopic(deps.kafka, `${topic}-out`, 1);
    await gen.start();
    handle = await client.workflow.start(streamingPipelineWorkflow, {
      taskQueue: env.SLUICE_TASK_QUEUE,
      workflowId: streamWorkflowId(name),
      args: [{ pipeline: streamSpec(name, topic, poolName) }],
    });
    await waitState(handle, 'RUNNING');
  });
  afterAll(async () => {
    await handle?.terminate('test over').catch(() => undefined);
    for (const job of await liveJobs(deps.flink.restUrl, name).catch(() => [])) {
      await fetch(`${deps.flink.restUrl}/jobs/${job.jid}?mode=cancel`, { method: 'PATCH' }).catch(() => undefined);
    }
    await gen.stopAndFlush().catch(() => undefined);
  });

  // Each step of each saga, in an order that walks through all three operations.
  const steps: { op: 'pause' | 'resume' | 'rescale 2' | 'rescale 1'; killIn: string; then: StreamState }[] = [
    { op: 'pause', killIn: 'stopStreamJob', then: 'PAUSED' },
    { op: 'resume', killIn: 'submitStreamGeneration', then: 'RUNNING' },
    { op: 'pause', killIn: 'stopStreamJob', then: 'PAUSED' },
    { op: 'resume', killIn: 'awaitStreamRunning', then: 'RUNNING' },
    { op: 'rescale 2', killIn: 'stopStreamJob', then: 'RUNNING' },
    { op: 'rescale 1', killIn: 'submitStreamGeneration', then: 'RUNNING' },
    { op: 'rescale 2', killIn: 'awaitStreamRunning', then: 'RUNNING' },
  ];
  test.each(steps)('$op, killed in $killIn: one job (none when paused) afterwards', async ({ op, killIn, then }) => {
    let update: Promise<unknown> | undefined;
    await killDuring(killIn, async () => {
      if (op === 'pause') await handle.signal(pause);
      else if (op === 'resume') await handle.signal(resume);
      else update = handle.executeUpdate(rescale, { args: [{ parallelism: Number(op.split(' ')[1]) }] });
    });
    if (update) await update; // the new worker finishes the update the killed one started
    const st = await waitState(handle, then);
    const jobs = await liveJobs(deps.flink.restUrl, name);
    if (then === 'PAUSED') expect(jobs).toEqual([]);
    else {
      expect(jobs.map((j) => j.jid)).toEqual([st.jobId]);
      if (op.startsWith('rescale')) expect(st.parallelism).toBe(Number(op.split(' ')[1]));
    }
  });

  test('a killed TaskManager: Flink restarts the job, the workflow sees it, one job runs', async () => {
    const before = await handle.query(streamStatus);
    await killStackProcess('flink-taskmanager');
    await stackUp({ timeoutMs: 180_000 }); // starts the dead TaskManager again
    const st = await until(
      'the workflow to see Flink restart the job',
      async () => {
        const now = await handle.query(streamStatus);
        return now.state === 'RUNNING' && now.flinkRestarts > before.flinkRestarts ? now : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    );
    expect(st.jobId).toBe(before.jobId);
    expect((await liveJobs(deps.flink.restUrl, name)).map((j) => j.jid)).toEqual([st.jobId]);
  });

  test('a restarted JobManager forgets the job: the workflow resubmits it from its newest checkpoint, once', async () => {
    const before = await handle.query(streamStatus);
    await stopDaemon(stackPaths().run, 'flink-jobmanager');
    await stackUp({ timeoutMs: 180_000 });
    const st = await until(
      'the workflow to resubmit the lost job',
      async () => {
        const now = await handle.query(streamStatus);
        return now.state === 'RUNNING' && now.generation > before.generation ? now : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    );
    expect(st.events.map((e) => e.what).join('\n')).toMatch(/no longer knows the job/);
    const jobs = await liveJobs(deps.flink.restUrl, name);
    expect(jobs.map((j) => j.jid)).toEqual([st.jobId]);
    const checkpoints = (await fetch(`${deps.flink.restUrl}/jobs/${st.jobId}/checkpoints`).then((r) => r.json())) as {
      latest: { restored?: { external_path: string } };
    };
    expect(checkpoints.latest.restored?.external_path).toMatch(/chk-\d+|savepoint-/);
  });

  test('the totals are exact in both sinks after every crash', async () => {
    const { expected, lake, kafka } = await sinkTotals(env, deps.lake, deps.brokers, name, topic, gen);
    expect(lake.duplicates).toBe(0);
    expect(sortedEntries(lake.totals)).toEqual(expected);
    expect(kafka.duplicates).toBe(0);
    expect(sortedEntries(kafka.totals)).toEqual(expected);
  });
});
