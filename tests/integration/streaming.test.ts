/**
 * Streaming pipelines on the real stack (Temporal, Kafka, Flink with Iceberg): a generator produces
 * throughout; pause, resume and rescale are sagas whose results are checked through Flink's REST
 * API (jobs, vertices' parallelism), the pool's state, and the sink's totals read back from the
 * Iceberg table's current snapshot and from the Kafka topic with read_committed.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { poolTaskQueue } from '../../config/env';
import { ensureTopic } from '../../engines/kafka';
import { flinkJobDetail, flinkOverview } from '../../engines/flink';
import { rootCauseMessage } from '../../lib/errors';
import { until } from '../../lib/poll';
import { poolSchedulerWorkflow, streamingPipelineWorkflow } from '../../workflows';
import {
  pause,
  poolState,
  rescale,
  resume,
  savepoint,
  savepoints,
  streamStatus,
  streamWorkflowId,
} from '../../workflows/messages';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { promisify } from 'node:util';
import * as path from 'node:path';
import { temporal } from '@temporalio/proto';
import { recordHistory } from '../helpers/histories';

const EventType = temporal.api.enums.v1.EventType;
const execFileAsync = promisify(execFile);
import { EventGenerator, liveJobs, sinkTotals, sortedEntries, streamSpec, waitState } from '../helpers/streams';
import {
  connectTestClient,
  runTemporalCli,
  startTestWorker,
  testDeps,
  testEnv,
  type RunningWorker,
} from '../helpers/worker';

jest.setTimeout(900_000);
const id = Date.now().toString(36);
const env = testEnv('it-stream');
const deps = testDeps(env);
const poolName = `it-stream-${id}`;
let client: Client;
let worker: RunningWorker;

beforeAll(async () => {
  client = await connectTestClient(env);
  await client.workflow.start(poolSchedulerWorkflow, {
    taskQueue: poolTaskQueue(env),
    workflowId: `pool/${poolName}`,
    args: [{ name: poolName, capacity: { cpu: 24, memoryMb: 16384 }, policy: { kind: 'fifo' } }],
  });
  worker = await startTestWorker(env);
});

afterAll(async () => {
  await client?.workflow
    .getHandle(`pool/${poolName}`)
    .terminate('test over')
    .catch(() => undefined);
  await worker?.stop();
  await client?.connection.close();
});

/** Stops the generator, lets every window fire, and checks both sinks against what was produced. */
async function expectExactTotals(pipeline: string, topic: string, gen: EventGenerator) {
  const { expected, lake, kafka } = await sinkTotals(env, deps.lake, deps.brokers, pipeline, topic, gen);
  expect(lake.duplicates).toBe(0);
  expect(sortedEntries(lake.totals)).toEqual(expected);
  expect(kafka.duplicates).toBe(0);
  expect(sortedEntries(kafka.totals)).toEqual(expected);
}

describe('a streaming pipeline', () => {
  const name = `st-ops-${id}`;
  const topic = `it-st-ops-${id}`;
  let handle: WorkflowHandle<typeof streamingPipelineWorkflow>;
  const gen = new EventGenerator(deps.brokers, topic);

  beforeAll(async () => {
    await ensureTopic(deps.kafka, topic, 2);
    await ensureTopic(deps.kafka, `${topic}-out`, 1);
    await gen.start();
    handle = await client.workflow.start(streamingPipelineWorkflow, {
      taskQueue: env.SLUICE_TASK_QUEUE,
      workflowId: streamWorkflowId(name),
      args: [
        {
          pipeline: streamSpec(name, topic, poolName, { savepoints: { retain: { count: 2 } } }),
          continueAsNewAfterRounds: 3,
        },
      ],
    });
  });
  afterAll(async () => {
    await handle?.terminate('test over').catch(() => undefined);
    for (const job of await liveJobs(deps.flink.restUrl, name)) {
      await fetch(`${deps.flink.restUrl}/jobs/${job.jid}?mode=cancel`, { method: 'PATCH' }).catch(() => undefined);
    }
  });

  test('runs under a grant of the pool, as one Flink job named after the pipeline and generation', async () => {
    const st = await waitState(handle, 'RUNNING');
    const jobs = await liveJobs(deps.flink.restUrl, name);
    expect(jobs.map((j) => j.name)).toEqual([`sluice:${name}#1`]);
    expect(jobs[0]!.jid).toBe(st.jobId);
    const pool = await client.workflow.getHandle(`pool/${poolName}`).query(poolState);
    expect(pool.running.filter((g) => g.holderWorkflowId === handle.workflowId).map((g) => g.kind)).toEqual([
      'streaming',
    ]);
  });

  test('pause stops with a savepoint and releases the grant; resume restores from it', async () => {
    await handle.signal(pause);
    const paused = await waitState(handle, 'PAUSED');
    expect(paused.lastSavepoint?.reason).toBe('pause');
    expect(await liveJobs(deps.flink.restUrl, name)).toEqual([]);
    const pool = await client.workflow.getHandle(`pool/${poolName}`).query(poolState);
    expect(pool.running.filter((g) => g.holderWorkflowId === handle.workflowId)).toEqual([]);
    // Produced while paused: the resumed job reads it from the savepoint's offsets.
    await gen.batch(50);
    await handle.signal(resume);
    const resumed = await waitState(handle, 'RUNNING');
    expect(resumed.generation).toBe(2);
    const checkpoints = await fetch(`${deps.flink.restUrl}/jobs/${resumed.jobId}/checkpoints`).then(
      (r) => r.json() as Promise<{ latest: { restored?: { external_path: string; is_savepoint: boolean } } }>,
    );
    expect(checkpoints.latest.restored).toMatchObject({
      is_savepoint: true,
      external_path: paused.lastSavepoint!.path,
    });
  });

  test('rescale 1 → 2 → 1 is confirmed by Flink each time', async () => {
    for (const to of [2, 1]) {
      const result = await handle.executeUpdate(rescale, { args: [{ parallelism: to }] });
      expect(result.to).toBe(to);
      const detail = await flinkJobDetail(deps.flink.restUrl, result.jobId);
      expect(detail.state).toBe('RUNNING');
      // Every vertex runs at the new parallelism, but the sinks' writers, pinned to 1.
      expect(Math.max(...detail.vertices.map((v) => v.parallelism))).toBe(to);
      expect(await liveJobs(deps.flink.restUrl, name)).toHaveLength(1);
    }
  });

  test('a rescale past the cluster rolls back from the same savepoint, and its caller gets the failure', async () => {
    const before = await handle.query(streamStatus);
    // One slot more than the cluster has: the pool has room for it, Flink does not, so the new
    // generation never runs.
    const slots = (await flinkOverview(deps.flink.restUrl))['slots-total'] ?? 0;
    expect(slots).toBeLessThan(16); // the spec's maxParallelism: the rescale must pass the validator
    const failed = await handle.executeUpdate(rescale, { args: [{ parallelism: slots + 1, timeoutMs: 20_000 }] }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failed).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(rootCauseMessage(failed)).toMatch(/rolled back to parallelism 1 from savepoint/);
    const after = await waitState(handle, 'RUNNING');
    expect(after.parallelism).toBe(before.parallelism);
    const jobs = await liveJobs(deps.flink.restUrl, name);
    expect(jobs).toHaveLength(1);
    const detail = await flinkJobDetail(deps.flink.restUrl, jobs[0]!.jid);
    expect(Math.max(...detail.vertices.map((v) => v.parallelism))).toBe(1);
  });

  test('bad operations are refused and change nothing', async () => {
    const before = await handle.query(streamStatus);
    for (const parallelism of [0, 17, 1.5]) {
      const err = await handle.executeUpdate(rescale, { args: [{ parallelism }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(rootCauseMessage(err)).toMatch(/parallelism: expected an integer from 1 to maxParallelism 16/);
    }
    await handle.signal(resume); // not paused: ignored, and noted
    const after = await handle.query(streamStatus);
    expect(after.generation).toBe(before.generation);
    expect(after.jobId).toBe(before.jobId);
    expect(after.events.at(-1)?.what).toMatch(/resume ignored: the stream is RUNNING/);
  });

  test('retention keeps exactly the configured count, disposes the rest through Flink, never the one a restore needs', async () => {
    const needed = (await handle.query(streamStatus)).lastSavepoint!.path; // the rollback restored from it
    const taken: string[] = [];
    for (let i = 0; i < 3; i++) taken.push((await handle.executeUpdate(savepoint)).path);
    // Retention runs once each update has answered: wait for the catalogue to settle.
    const catalogue = await until(
      'retention to have run after the last savepoint',
      async () => {
        const c = await handle.query(savepoints);
        return c.savepoints.filter((s) => s.kind === 'savepoint').length <= 2 ? c : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const kept = catalogue.savepoints.filter((s) => s.kind === 'savepoint');
    expect(kept).toHaveLength(2);
    expect(kept.map((s) => s.path)).toEqual([needed, taken[2]]);
    expect(kept.find((s) => s.path === needed)?.pinned).toBe(true);
    expect(catalogue.disposed).toBeGreaterThanOrEqual(2);
    // Disposed through Flink's REST API: their files are gone; the kept ones' are there.
    const local = (p: string) => path.join(p.replace(/^file:\/*/, '/'), '_metadata');
    for (const p of taken.slice(0, 2)) expect(fs.existsSync(local(p))).toBe(false);
    for (const s of kept) expect(fs.existsSync(local(s.path))).toBe(true);
  });

  test('the totals are exact across pause, resume, rescales and a rollback, in both sinks', async () => {
    await expectExactTotals(name, topic, gen);
    const runs = [];
    for await (const run of client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) runs.push(run);
    // Continue-as-new happened while the job ran: several runs, one live job, one generation chain.
    expect(runs.length).toBeGreaterThan(1);
    for (const run of runs) {
      const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      const types = new Set((history.events ?? []).map((e) => e.eventType));
      // A run with a rescale (an accepted update) that continued as new is the replay fixture.
      if (
        types.has(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) &&
        types.has(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW)
      ) {
        await recordHistory('stream-pipeline-rescaled.json', client.workflow.getHandle(run.workflowId, run.runId));
        break;
      }
    }
  });
});

describe("a streaming pipeline driven only through Temporal's own CLI", () => {
  const name = `st-cli-${id}`;
  const topic = `it-st-cli-${id}`;
  const gen = new EventGenerator(deps.brokers, topic);
  const temporalCli = (...args: string[]) => runTemporalCli(env, args);
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
    for (const job of await liveJobs(deps.flink.restUrl, name)) {
      await fetch(`${deps.flink.restUrl}/jobs/${job.jid}?mode=cancel`, { method: 'PATCH' }).catch(() => undefined);
    }
  });

  test('temporal workflow signal --name pause / resume, and update execute --name rescale', async () => {
    await temporalCli('workflow', 'signal', '--workflow-id', handle.workflowId, '--name', 'pause');
    await waitState(handle, 'PAUSED');
    expect(await liveJobs(deps.flink.restUrl, name)).toEqual([]);
    await temporalCli('workflow', 'signal', '--workflow-id', handle.workflowId, '--name', 'resume');
    await waitState(handle, 'RUNNING');
    const { stdout } = await temporalCli(
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      handle.workflowId,
      '--name',
      'rescale',
      '--input',
      '{"parallelism":2}',
      '--output',
      'json',
    );
    expect(stdout).toMatch(/"to":\s*2/);
    const jobs = await liveJobs(deps.flink.restUrl, name);
    expect(jobs).toHaveLength(1);
    const detail = await flinkJobDetail(deps.flink.restUrl, jobs[0]!.jid);
    expect(Math.max(...detail.vertices.map((v) => v.parallelism))).toBe(2);
    // A bad rescale through the same CLI: refused by the validator, with the field named.
    const refused = await temporalCli(
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      handle.workflowId,
      '--name',
      'rescale',
      '--input',
      '{"parallelism":0}',
    ).then(
      () => undefined,
      (err: { stderr?: string; stdout?: string }) => `${err.stderr ?? ''}${err.stdout ?? ''}`,
    );
    expect(refused).toMatch(/parallelism: expected an integer from 1 to maxParallelism 16/);
    await expectExactTotals(name, topic, gen);
  });
});

describe('the sluice CLI on streams', () => {
  const name = `st-sl-${id}`;
  const topic = `it-st-sl-${id}`;
  const specFile = path.join(os.tmpdir(), `${name}.json`);
  /** `sluice <args>` in a child process (async: this process runs the worker). */
  const sluice = (...args: string[]) =>
    execFileAsync(process.execPath, [path.join(__dirname, '..', '..', 'bin', 'sluice.js'), ...args], {
      env: { ...process.env, SLUICE_TASK_QUEUE: env.SLUICE_TASK_QUEUE },
      timeout: 300_000,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code ?? 1,
        stdout: err.stdout ?? '',
        stderr: err.stderr ?? '',
      }),
    );

  beforeAll(async () => {
    await ensureTopic(deps.kafka, topic, 2);
    await ensureTopic(deps.kafka, `${topic}-out`, 1);
    fs.writeFileSync(specFile, JSON.stringify(streamSpec(name, topic, poolName)));
  });
  afterAll(async () => {
    await client.workflow
      .getHandle(streamWorkflowId(name))
      .terminate('test over')
      .catch(() => undefined);
  });

  test('run starts the stream and waits for RUNNING; status, savepoint(s), pause, resume and cancel work; bad input changes nothing', async () => {
    const run = await sluice('run', specFile, '--json');
    expect(run.code).toBe(0);
    const started = JSON.parse(run.stdout) as { state: string; jobId: string; jobUrl: string };
    expect(started).toMatchObject({ state: 'RUNNING', jobUrl: expect.stringContaining(started.jobId) });
    expect((await liveJobs(deps.flink.restUrl, name)).map((j) => j.jid)).toEqual([started.jobId]);

    // Bad input: each refused with the field or the state named; nothing changes.
    const again = await sluice('run', specFile, '--json');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(new RegExp(`stream/${name} is already running`));
    const resumeRunning = await sluice('resume', `stream/${name}`);
    expect(resumeRunning.code).not.toBe(0);
    expect(resumeRunning.stderr).toMatch(/is RUNNING, not paused: nothing to resume/);
    const unknown = await sluice('pause', `stream/nope-${id}`);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(new RegExp(`no streaming pipeline stream/nope-${id}`));
    const zero = await sluice('rescale', `stream/${name}`, '--parallelism', '0');
    expect(zero.code).not.toBe(0);
    expect(zero.stderr).toMatch(/--parallelism/);
    const past = await sluice('rescale', `stream/${name}`, '--parallelism', '17');
    expect(past.code).toBe(1);
    expect(past.stderr).toMatch(/rescale failed: .*parallelism: expected an integer from 1 to maxParallelism 16/);
    const badSpec = path.join(os.tmpdir(), `${name}-bad.json`);
    fs.writeFileSync(badSpec, JSON.stringify({ ...streamSpec(name, topic, poolName), stream: { pool: poolName } }));
    const invalid = await sluice('run', badSpec);
    expect(invalid.code).not.toBe(0);
    expect(invalid.stderr).toMatch(/stream\.tenant: required/);
    expect((await liveJobs(deps.flink.restUrl, name)).map((j) => j.jid)).toEqual([started.jobId]);

    const sp = await sluice('savepoint', `stream/${name}`, '--json');
    expect(sp.code).toBe(0);
    const taken = JSON.parse(sp.stdout) as { path: string };
    const list = JSON.parse((await sluice('savepoints', `stream/${name}`, '--json')).stdout) as {
      savepoints: { path: string }[];
    };
    expect(list.savepoints.map((s) => s.path)).toContain(taken.path);

    expect((await sluice('pause', `stream/${name}`)).code).toBe(0);
    expect(await liveJobs(deps.flink.restUrl, name)).toEqual([]);
    const paused = JSON.parse((await sluice('status', `stream/${name}`, '--json')).stdout) as { state: string };
    expect(paused.state).toBe('PAUSED');
    expect((await sluice('resume', `stream/${name}`)).code).toBe(0);
    expect(await liveJobs(deps.flink.restUrl, name)).toHaveLength(1);
    const cancelled = await sluice('cancel', `stream/${name}`);
    expect(cancelled.code).toBe(0);
    expect(await liveJobs(deps.flink.restUrl, name)).toEqual([]);
    // Started again, it restores from the cancel's final savepoint.
    const rerun = await sluice('run', specFile, '--json');
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toMatch(/restores from file:/);
    const final = await client.workflow.getHandle(streamWorkflowId(name)).query(streamStatus);
    expect(final.events.map((e) => e.what).join('\n')).toMatch(/submitted as .* from file:/);
  });
});
