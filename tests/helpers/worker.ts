/**
 * The one way integration tests get a Sluice worker and its engine clients: the same worker as
 * `sluice worker` (both task queues, one bundle), in this process, on a task queue of its own.
 */
import { Client, Connection } from '@temporalio/client';
import type { ActivityDeps } from '../../activities/deps';
import { parseEnv, type Env } from '../../config/env';
import { localSparkDefaults } from '../../stack/install';
import { depsFromEnv } from '../../workers/deps';
import { createSluiceWorker, type SluiceWorker } from '../../workers/worker';

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
