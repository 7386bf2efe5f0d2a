/**
 * Activities that start something are safe to retry after a worker was killed at any instant:
 * the retry finds what the killed attempt started instead of starting it again. Each test kills
 * a real process with SIGKILL and counts through the engine's own API (Kafka's offsets and a
 * read_committed read; Flink's /jobs/overview).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { endOffsets, ensureTopic } from '../../engines/kafka';
import { listFlinkJobs } from '../../engines/flink';
import { until } from '../../lib/poll';
import { stackPaths } from '../../stack/paths';
import { helloPipelineWorkflow } from '../../workflows';
import { historyEvents } from '../helpers/history';
import { connectTestClient, testDeps, testEnv } from '../helpers/worker';

jest.setTimeout(300_000);
const ROOT = path.join(__dirname, '..', '..');
const id = Date.now().toString(36);
const env = testEnv('it-idem');
const deps = testDeps(env);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-idem-'));

/** A child node process whose output goes to a log file; resolves `exited` on exit. */
function child(name: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const log = fs.openSync(path.join(logDir, `${name}.log`), 'a');
  const proc: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, SLUICE_TASK_QUEUE: env.SLUICE_TASK_QUEUE, ...extraEnv },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return { proc, exited, kill: async () => (proc.kill('SIGKILL'), await exited) };
}

describe('produceDemoEvents', () => {
  const topic = `it-produce-${id}`;
  const count = 60_000;
  const info = { workflowExecution: { workflowId: `it/produce/${id}`, runId: 'run-1' }, activityId: '1' };
  const input = { topic, count, seed: 3, startTs: 1_700_000_000_000 };

  test('writes once per run and step, also after an attempt killed in the middle of its transaction', async () => {
    // Two partitions, so that the range and the marker cover more than one.
    await ensureTopic(deps.kafka, topic, 2);
    // The first attempt: the activity itself, in a process of its own, killed while it writes.
    const attempt = child('produce-attempt-1', [
      '-e',
      `const { MockActivityEnvironment } = require('@temporalio/testing');
       const { createActivities } = require('./dist/activities');
       const { depsFromEnv } = require('./dist/workers/deps');
       const { parseEnv } = require('./dist/config/env');
       const { localSparkDefaults } = require('./dist/stack/install');
       const env = parseEnv();
       const acts = createActivities(depsFromEnv(env, localSparkDefaults(env)));
       new MockActivityEnvironment(${JSON.stringify(info)}).run(acts.produceDemoEvents, ${JSON.stringify(input)})
         .then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`,
    ]);
    // The broker's own log: the attempt's (uncommitted) records have reached a partition's segment.
    const segments = [0, 1].map((p) => path.join(stackPaths().data, 'kafka', 'logs', `${topic}-${p}`));
    await until(
      'the first attempt to have written records',
      () => (segments.some((dir) => logBytes(dir) > 0) ? true : undefined),
      { intervalMs: 20 },
    );
    await attempt.kill();

    // The retry: same workflow run and activity id.
    const activities = createActivities(deps);
    type Range = Awaited<ReturnType<typeof activities.produceDemoEvents>>;
    const range = (await new MockActivityEnvironment(info).run(activities.produceDemoEvents, input)) as Range;
    const written = Object.keys(range.to).reduce((n, p) => n + range.to[p]! - range.from[p]!, 0);
    expect(written).toBe(count);
    // The killed attempt's records lie before the range (aborted when the retry fenced it): the
    // kill really came in the middle of a write.
    expect(Object.values(range.from).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    // A read_committed consumer sees each event exactly once.
    const seen = await readCommitted(topic, range.to);
    expect(seen.length).toBe(count);
    expect(new Set(seen).size).toBe(count);

    // Once more, after success: nothing is written, the same range comes back.
    const before = await endOffsets(deps.kafka, topic);
    expect(await new MockActivityEnvironment(info).run(activities.produceDemoEvents, input)).toEqual(range);
    expect(await endOffsets(deps.kafka, topic)).toEqual(before);
    // Another step (another activity id) is another produce.
    const other = (await new MockActivityEnvironment({ ...info, activityId: '2' }).run(activities.produceDemoEvents, {
      ...input,
      count: 10,
    })) as Range;
    expect(Object.keys(other.to).reduce((n, p) => n + other.to[p]! - other.from[p]!, 0)).toBe(10);
  });
});

/** Bytes in a partition's log segments (0 while the folder does not exist yet). */
function logBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
}

/** The `ts` of every committed record of `topic` below `to` (kafkajs reads read_committed by default). */
async function readCommitted(topic: string, to: Record<string, number>): Promise<number[]> {
  const consumer = deps.kafka.kafka.consumer({ groupId: `it-read-${topic}-${Date.now()}` });
  const seen: number[] = [];
  const last = new Map(Object.keys(to).map((p) => [p, -1]));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = () => [...last].every(([p, o]) => to[p] === 0 || o >= to[p]! - 1);
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const offset = Number(message.offset);
            if (offset < to[String(partition)]!)
              seen.push((JSON.parse(message.value!.toString()) as { ts: number }).ts);
            last.set(String(partition), Math.max(last.get(String(partition))!, offset));
            if (done()) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

describe('flinkSqlJob', () => {
  let client: Client;
  beforeAll(async () => (client = await connectTestClient(env)));
  afterAll(async () => client?.connection.close());

  test('a worker killed during the Flink step: the retry follows the job it had submitted, Flink runs it once', async () => {
    const runId = `idem-${id}`;
    const jobName = `sluice-hello-${runId}`;
    let worker = child('worker-1', [path.join(ROOT, 'bin', 'sluice.js'), 'worker']);
    try {
      const handle = await client.workflow.start(helloPipelineWorkflow, {
        taskQueue: env.SLUICE_TASK_QUEUE,
        workflowId: `hello/${runId}`,
        args: [{ runId, events: 50, seed: 11 }],
      });
      await until(
        "the hello pipeline's Flink job",
        async () => ((await listFlinkJobs(deps.flink.restUrl)).some((j) => j.name === jobName) ? true : undefined),
        { timeoutMs: 240_000, intervalMs: 100 },
      );
      await worker.kill();
      worker = child('worker-2', [path.join(ROOT, 'bin', 'sluice.js'), 'worker']);
      const result = await handle.result();
      expect(result.agree).toBe(true);
      // Flink's own record: one job of that name, the one the workflow reports.
      const jobs = (await listFlinkJobs(deps.flink.restUrl)).filter((j) => j.name === jobName);
      expect(jobs.map((j) => j.jid)).toEqual([result.stream.jobId]);
      // And the step really was retried after the kill (a second attempt of flinkSqlJob ran).
      const events = await historyEvents(handle);
      const flinkStep = events.find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'flinkSqlJob',
      );
      const started = events.filter(
        (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(flinkStep?.eventId),
      );
      expect(started.map((e) => e.activityTaskStartedEventAttributes!.attempt)).toEqual([2]);
    } finally {
      await worker.kill();
    }
  });
});
