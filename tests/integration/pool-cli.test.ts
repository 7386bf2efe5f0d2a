/**
 * `sluice pool` and `sluice explain` through the real CLI, against the stack's Temporal server and
 * a Sluice worker (in-process here; `sluice worker` in real use).
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { poolTaskQueue } from '../../config/env';
import { holdResourcesWorkflow } from '../../workflows';
import type { PoolStateView } from '../../workflows/messages';
import { until } from '../../lib/poll';
import { connectTestClient, startTestWorker, testEnv, type RunningWorker } from '../helpers/worker';

jest.setTimeout(180_000);
const CLI = path.join(__dirname, '..', '..', 'bin', 'sluice.js');
const env = testEnv('it-pool');
const taskQueue = env.SLUICE_TASK_QUEUE;
const pool = `cli-${Date.now().toString(36)}`;
const cliEnv = { ...process.env, SLUICE_TASK_QUEUE: taskQueue };

interface CliRun {
  /** Output so far. */
  readonly stderr: string;
  readonly stdout: string;
  done: Promise<{ status: number | null; stdout: string; stderr: string }>;
}

/** Starts the CLI asynchronously (the in-process worker must keep running meanwhile). */
function startSluice(args: string[], env: NodeJS.ProcessEnv = cliEnv): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { env });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  return {
    get stderr() {
      return out.stderr;
    },
    get stdout() {
      return out.stdout;
    },
    done: new Promise((resolve) => child.on('close', (status) => resolve({ status, ...out }))),
  };
}

const sluice = (args: string[], env: NodeJS.ProcessEnv = cliEnv) => startSluice(args, env).done;

let client: Client;
let worker: RunningWorker | undefined;

beforeAll(async () => {
  client = await connectTestClient(env);
  worker = await startTestWorker(env);
});
afterAll(async () => {
  await client?.workflow
    .getHandle(`pool/${pool}`)
    .terminate('test done')
    .catch(() => undefined);
  await worker?.stop();
  await client?.connection.close();
});

test('pool create, show (table and JSON) and explain, through the CLI', async () => {
  const created = await sluice(['pool', pool, '--capacity', 'cpu=4,memoryMb=8192', '--policy', 'fifo']);
  expect(created.stderr).toContain(`started pool ${pool}`);
  expect(created.status).toBe(0);
  expect(created.stdout).toContain(`pool ${pool}`);
  expect(created.stdout).toContain('capacity cpu=4 memoryMb=8192');
  // The scheduler runs on the pools' own task queue, served by the same worker process.
  const described = await client.workflow.getHandle(`pool/${pool}`).describe();
  expect(described.taskQueue).toBe(poolTaskQueue(env));
  expect(described.taskQueue).toBe(`${taskQueue}-pools`);

  const start = (id: string, cpu: number) =>
    client.workflow.start(holdResourcesWorkflow, {
      taskQueue,
      workflowId: id,
      args: [{ pool, demand: { cpu }, holdMs: 600_000, tenant: 'ana', kind: 'batch', requestId: `${id}#r` }],
    });
  const big = await start(`${pool}-big`, 3);
  const view = await until('the big holder to be granted', async () => {
    const r = await sluice(['pool', pool, '--json']);
    const v = JSON.parse(r.stdout) as PoolStateView;
    return v.running.length === 1 ? v : undefined;
  });
  expect(view.used).toEqual({ cpu: 3, memoryMb: 0 });
  const small = await start(`${pool}-small`, 2);
  const waiting = await until('the small holder to wait', async () => {
    const v = JSON.parse((await sluice(['pool', pool, '--json'])).stdout) as PoolStateView;
    return v.pending.length === 1 && v.pending[0]!.reason.startsWith('head') ? v : undefined;
  });
  expect(waiting.pending[0]).toMatchObject({ requestId: `${pool}-small#r`, tenant: 'ana', demand: { cpu: 2 } });
  expect(waiting.pending[0]!.reason).toBe('head of the queue: needs 2 cpu, 1 free');

  const table = await sluice(['pool', pool]);
  expect(table.status).toBe(0);
  expect(table.stdout).toContain(`${pool}-big#r`);
  expect(table.stdout).toContain('head of the queue: needs 2 cpu, 1 free');

  const why = await sluice(['explain', `${pool}-small#r`]);
  expect(why.status).toBe(0);
  expect(why.stdout).toMatch(new RegExp(`${pool}-small#r in pool ${pool}: pending, waiting for \\d`));
  expect(why.stdout).toContain('under the fifo policy: head of the queue: needs 2 cpu, 1 free');
  // The wait is measured up to now, not up to the scheduler's last workflow task (a query's clock).
  const whyJson = JSON.parse((await sluice(['explain', `${pool}-small#r`, '--pool', pool, '--json'])).stdout);
  expect(whyJson.submittedAt).toBe(waiting.pending[0]!.submittedAt);
  // The table's wait grows while the scheduler does nothing: it reaches 1.5 s (and more) at
  // some point, which a wait frozen at the scheduler's last task would never do.
  await until('the shown wait to pass 1.5 s', async () => {
    const s = Number(/-small#r .*?│ ([\d.]+) s /.exec((await sluice(['pool', pool])).stdout)?.[1]);
    return s >= 1.5 ? s : undefined;
  });
  const granted = JSON.parse((await sluice(['explain', `${pool}-big#r`, '--pool', pool, '--json'])).stdout);
  expect(granted).toMatchObject({ pool, status: 'running' });
  expect(granted.explanation).toMatch(/^granted by the fifo policy after waiting \d+ ms: 3 cpu fitted/);
  const unknown = await sluice(['explain', 'no-such-request', '--pool', pool]);
  expect(unknown.status).toBe(1);
  expect(unknown.stdout).toContain(`pool ${pool} has no record of request no-such-request`);

  // Growing the pool through the configurePool update admits the waiting request.
  const grown = await sluice(['pool', pool, '--capacity', 'cpu=6,memoryMb=8192']);
  expect(grown.stderr).toContain(`reconfigured pool ${pool}`);
  await until('the waiting holder to be granted', async () => {
    const v = JSON.parse((await sluice(['pool', pool, '--json'])).stdout) as PoolStateView;
    return v.running.length === 2 ? true : undefined;
  });
  await big.cancel();
  await small.cancel();
});

test('bad pool arguments are rejected with the field named, and start nothing', async () => {
  const badCapacity = await sluice(['pool', 'x1', '--capacity', 'cpu=lots']);
  expect(badCapacity.status).toBe(2);
  expect(badCapacity.stderr).toContain('cpu: expected an amount >= 0 such as cpu=8, got "lots"');
  for (const [arg, message] of [
    ['cpu=-1', 'cpu: expected an amount >= 0 such as cpu=8, got "-1"'],
    ['cpu=2,cpu=3', 'cpu is given twice'],
    ['memoryMb', '"memoryMb" is not one'],
  ]) {
    const bad = await sluice(['pool', 'x1', '--capacity', arg!]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(message);
  }
  const badPolicy = await sluice([
    'pool',
    'x1',
    '--capacity',
    'cpu=1',
    '--policy',
    '{"kind":"capacity","queues":[{"name":"a","guaranteed":0.6,"max":0.5}]}',
  ]);
  expect(badPolicy.status).toBe(2);
  expect(badPolicy.stderr).toMatch(/queues\[0\]\.guaranteed/);
  const badName = await sluice(['pool', 'Bad Name']);
  expect(badName.status).toBe(2);
  expect(badName.stderr).toContain('pool name "Bad Name": expected lowercase letters, digits and dashes');
  const missing = await sluice(['pool', 'never-created']);
  expect(missing.status).toBe(1);
  expect(missing.stderr).toContain('pool never-created is not running');
  await expect(client.workflow.getHandle('pool/x1').describe()).rejects.toThrow();
});

test('a command that needs a worker says which queue has none, then waits for one (or fails under --json)', async () => {
  const lonely = testEnv('it-noworker');
  const lonelyEnv = { ...process.env, SLUICE_TASK_QUEUE: lonely.SLUICE_TASK_QUEUE };
  const name = `lonely-${Date.now().toString(36)}`;
  const queue = poolTaskQueue(lonely);
  const failed = await sluice(['pool', name, '--capacity', 'cpu=1', '--json'], lonelyEnv);
  expect(failed.status).toBe(1);
  expect(failed.stderr).toContain(`no worker polls task queue ${queue}`);
  expect(failed.stderr).toContain('sluice worker');
  await expect(client.workflow.getHandle(`pool/${name}`).describe()).rejects.toThrow(/not found/i);

  const waiting = startSluice(['pool', name, '--capacity', 'cpu=1'], lonelyEnv);
  await until('the CLI to say it waits for a worker', async () =>
    waiting.stderr.includes(`no worker polls task queue ${queue}`) && waiting.stderr.includes('waiting for one')
      ? true
      : undefined,
  );
  // Nothing was sent before a worker came: no pool scheduler exists yet.
  await expect(client.workflow.getHandle(`pool/${name}`).describe()).rejects.toThrow(/not found/i);
  const late = await startTestWorker(lonely);
  try {
    const done = await waiting.done;
    expect(done.stderr).toContain(`started pool ${name}`);
    expect(done.status).toBe(0);
    expect(done.stdout).toContain('capacity cpu=1');
  } finally {
    await client.workflow
      .getHandle(`pool/${name}`)
      .terminate('test done')
      .catch(() => undefined);
    await late.stop();
  }
});
