/**
 * The pipeline commands through the real CLI: bad input is refused with a clear error, exit code
 * 2, and nothing reaches the server; a run whose source does not exist fails at once, naming it.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { poolTaskQueue } from '../../config/env';
import { poolSchedulerWorkflow } from '../../workflows';
import { status } from '../../workflows/messages';
import { pageViewsFor } from '../helpers/pipelines';
import { connectTestClient, startTestWorker, testEnv, type RunningWorker } from '../helpers/worker';

jest.setTimeout(180_000);
const ROOT = path.join(__dirname, '..', '..');
const env = testEnv('it-pipeline-cli');
const cliEnv = { ...process.env, SLUICE_TASK_QUEUE: env.SLUICE_TASK_QUEUE };
const sluice = (args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, 'bin', 'sluice.js'), ...args], {
    encoding: 'utf8',
    cwd: ROOT,
    env: cliEnv,
  });

/** The CLI without blocking this process (whose in-process worker must keep running meanwhile). */
const sluiceAsync = (args: string[]) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'sluice.js'), ...args], { cwd: ROOT, env: cliEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ status: code, stdout, stderr }));
  });

let client: Client;
beforeAll(async () => {
  client = await connectTestClient(env);
});
afterAll(async () => client?.connection.close());

/** Every workflow the server has seen start since `since`, whatever its type or task queue. */
async function startedSince(since: Date): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query: `StartTime >= '${since.toISOString()}'` })) {
    ids.push(wf.workflowId);
  }
  return ids;
}

test.each([
  [
    ['run', 'pageviews'],
    'unknown pipeline "pageviews" (known: daily-revenue, page-views, page-views-kappa, page-views-lambda, page-views-live)',
  ],
  [['run', 'tests/fixtures/bad-pipeline.json'], 'batch.resources.cpu: expected a positive number'],
  [['run', 'tests/fixtures/bad-pipeline.json'], 'transform.aggregates[0].column: unknown column "amout"'],
  [['run', 'tests/fixtures/no-such-file.json'], 'tests/fixtures/no-such-file.json: ENOENT'],
  [
    ['run', 'page-views', '--partition', '2026-13-01T00'],
    'partition: partition "2026-13-01T00": not a valid hour partition (YYYY-MM-DDTHH)',
  ],
  [['run', 'page-views', '--partition', '2026-11-20'], 'partition "2026-11-20": not a valid hour partition'],
  [
    ['run', 'page-views', '--partition', '2025-06-01T00'],
    'partition 2025-06-01T00 is before the start of pipeline page-views (2026-01-01T00)',
  ],
  [
    ['backfill', 'page-views', '--from', '2026-11-20T05', '--to', '2026-11-20T01'],
    'from 2026-11-20T05 is after to 2026-11-20T01',
  ],
  [
    ['backfill', 'page-views', '--from', '2025-12-31T22', '--to', '2026-01-01T01'],
    '--from: partition 2025-12-31T22 is before the start',
  ],
  [
    ['backfill', 'page-views', '--from', '2026-11-20T00', '--to', '2026-11-20T01', '--concurrency', '0'],
    'expected a positive integer, got "0"',
  ],
  [['pause', 'no/such/workflow'], 'no workflow no/such/workflow'],
  [['reprocess', 'page-views-lambda'], 'page-views-lambda is a lambda pipeline: only kappa pipelines are reprocessed'],
  [['reprocess', 'page-views-kappa', '--transform', '{oops'], '--transform: not JSON'],
  [['reprocess', 'page-views-kappa', '--transform', '@no/such.json'], '--transform: cannot read no/such.json'],
  [['reprocess', 'page-views-kappa', '--rollback', '--force'], '--rollback: takes neither --transform nor --force'],
  [
    ['run', 'page-views-kappa', '--partition', '2026-12-01T00'],
    'page-views-kappa is a kappa pipeline: sluice reprocess replays it',
  ],
])('sluice %j is refused: %s', async (args, message) => {
  const since = new Date();
  const r = sluice(args);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(message);
  expect(await startedSince(since)).toEqual([]);
});

test('a dry run lists the partitions and starts nothing', async () => {
  const since = new Date();
  const r = sluice(['backfill', 'page-views', '--from', '2026-11-20T22', '--to', '2026-11-21T01', '--dry-run']);
  expect(r.status).toBe(0);
  expect(r.stdout).toBe(
    'backfill/page-views/2026-11-20T22..2026-11-21T01: 4 partitions, 3 at a time, pool default\n' +
      '2026-11-20T22\n2026-11-20T23\n2026-11-21T00\n2026-11-21T01\n',
  );
  expect(await startedSince(since)).toEqual([]);
});

describe('with a worker and a pool', () => {
  const id = Date.now().toString(36);
  const pool = `src-${id}`;
  let worker: RunningWorker;
  beforeAll(async () => {
    worker = await startTestWorker(env);
    await client.workflow.start(poolSchedulerWorkflow, {
      taskQueue: poolTaskQueue(env),
      workflowId: `pool/${pool}`,
      args: [{ name: pool, capacity: { cpu: 4, memoryMb: 8192 }, policy: { kind: 'fifo' } }],
    });
  });
  afterAll(async () => {
    await client.workflow
      .getHandle(`pool/${pool}`)
      .terminate('test done')
      .catch(() => undefined);
    await worker?.stop();
  });

  test('a run whose Kafka topic does not exist fails at once, naming the topic, and says so in its status', async () => {
    // page-views as a new user runs it on a fresh stack: its topic was never created.
    const topic = `never-created-${id}`;
    const spec = pageViewsFor({ name: `missing-src-${id}`, topic, pool });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-spec-')), 'spec.json');
    fs.writeFileSync(file, JSON.stringify(spec));
    const since = new Date();
    const r = await sluiceAsync(['run', file, '--partition', '2026-11-20T05']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Kafka topic "${topic}" does not exist on ${env.SLUICE_KAFKA_BROKERS.join(',')}`);
    // The check above sees what the CLI starts (so its empty lists mean something).
    const workflowId = `batch/${spec.name}/2026-11-20T05`;
    expect(await startedSince(since)).toEqual([workflowId]);
    const s = await client.workflow.getHandle(workflowId).query(status);
    expect(s.state).toBe('failed');
    expect(s.error).toContain(`Kafka topic "${topic}" does not exist`);
    const description = await client.workflow.getHandle(workflowId).describe();
    expect(description.status.name).toBe('FAILED');
    // Failed before asking for admission: the pool never saw a request.
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const activities = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter(Boolean);
    expect(activities).toEqual(['kafkaEndOffsets']);
  });
});
