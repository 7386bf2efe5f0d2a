/**
 * The one way integration tests get a Sluice worker and its engine clients: the same worker as
 * `sluice worker` (both task queues, one bundle), in this process, on a task queue of its own.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { ActivityDeps } from '../../activities/deps';
import { parseEnv, type Env } from '../../config/env';
import { installedLayout, localSparkDefaults } from '../../stack/install';
import { until } from '../../lib/poll';
import { depsFromEnv } from '../../workers/deps';
import { heldFile, holdFile } from '../../lib/failpoints';
import { createSluiceWorker, type SluiceWorker } from '../../workers/worker';

const ROOT = path.join(__dirname, '..', '..');

/** The configuration of a test: the environment's, with a task queue `<prefix>-<unique>`. */
export function testEnv(prefix: string): Env {
  return parseEnv({ ...process.env, SLUICE_TASK_QUEUE: `${prefix}-${Date.now().toString(36)}` });
}

/** The engine clients a worker of `env` gets (Spark's client side from the local stack). */
export function testDeps(env: Env): ActivityDeps {
  return depsFromEnv(env, localSparkDefaults(env));
}

export interface RunningWorker {
  worker: SluiceWorker;
  /** Shuts the worker down gracefully, waits for it, closes its connection. Idempotent. */
  stop(): Promise<void>;
}

/** Starts a Sluice worker for `env` in this process; `stop()` it in `afterAll`. */
export async function startTestWorker(env: Env): Promise<RunningWorker> {
  const { worker, connection } = await createSluiceWorker({ env, sparkDefaults: localSparkDefaults(env) });
  const running = worker.run();
  let stopped: Promise<void> | undefined;
  return {
    worker,
    stop: () =>
      (stopped ??= (async () => {
        worker.shutdown();
        await running;
        await connection.close();
      })()),
  };
}

/** A Temporal client for `env` (the stack's server); close it with `client.connection.close()`. */
export async function connectTestClient(env: Env): Promise<Client> {
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
}

export interface WorkerProcess {
  /** SIGKILLs the process, as a crash would, and waits until it has exited. */
  kill(): Promise<void>;
}

/**
 * `sluice worker` for `env` in a process of its own (its output in `<logDir>/worker-<n>.log`), for
 * the tests that SIGKILL a worker mid-step and let another take over. `args` are more of `sluice worker`'s;
 * `extraEnv` is added to its environment (e.g. `SLUICE_FAILPOINTS_DIR`, see {@link armedHold}).
 */
export function spawnWorkerProcess(
  env: Env,
  logDir: string,
  n: number,
  args: string[] = [],
  extraEnv: Record<string, string> = {},
): WorkerProcess {
  const log = fs.openSync(path.join(logDir, `worker-${n}.log`), 'a');
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'sluice.js'), 'worker', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...extraEnv, SLUICE_TASK_QUEUE: env.SLUICE_TASK_QUEUE },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return { kill: async () => (proc.kill('SIGKILL'), await exited) };
}

/**
 * Arms the failpoint of `activityType` in `dir` (workers/failpoints.ts), runs `act` (which makes a
 * workflow run that activity), and returns once a worker started with `SLUICE_FAILPOINTS_DIR=dir`
 * holds it, its work done and its result not reported: a SIGKILL then lands inside the activity,
 * however short it is. Disarmed before returning, so the next worker runs it through.
 */
export async function armedHold(dir: string, activityType: string, act: () => Promise<void>): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(holdFile(dir, activityType), '');
  try {
    await act();
    await until(
      `a worker to hold ${activityType}`,
      () => (fs.existsSync(heldFile(dir, activityType)) ? true : undefined),
      { timeoutMs: 300_000, intervalMs: 100 },
    );
  } finally {
    fs.rmSync(holdFile(dir, activityType), { force: true });
    fs.rmSync(heldFile(dir, activityType), { force: true });
  }
}

/** The `sluice` CLI as an operator runs it, on the test's task queue; waits for it to exit. */
export function runSluice(env: Env, args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [path.join(ROOT, 'bin', 'sluice.js'), ...args], {
    encoding: 'utf8',
    cwd: ROOT,
    env: { ...process.env, SLUICE_TASK_QUEUE: env.SLUICE_TASK_QUEUE },
  });
}

/**
 * Temporal's own `temporal` CLI (the stack's binary) against the test's server and namespace, as an
 * operator who never installed `sluice` would run it. Rejects when it exits non-zero (the error
 * carries `stdout` and `stderr`).
 */
export function runTemporalCli(env: Env, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(
    installedLayout().temporalBin,
    [...args, '--address', env.TEMPORAL_ADDRESS, '--namespace', env.TEMPORAL_NAMESPACE],
    { timeout: 300_000 },
  );
}
