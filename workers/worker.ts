import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { Env } from '../config/env';
import { connectionOptions } from './connection';
import { depsFromEnv, type ActivityDeps } from './deps';

export interface SluiceWorkerOptions {
  env: Env;
  /** Reuse a connection (tests); otherwise one is opened from the configuration. */
  connection?: NativeConnection;
  /** Replace the engine clients (tests); otherwise built from the configuration. */
  deps?: ActivityDeps;
}

/**
 * Creates the Sluice worker: every workflow of workflows/ and every activity of activities/ on the
 * configured task queue. The caller runs it (`worker.run()`) and owns the returned connection.
 */
export async function createSluiceWorker(
  opts: SluiceWorkerOptions,
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const { env } = opts;
  const connection = opts.connection ?? (await NativeConnection.connect(connectionOptions(env)));
  let client: Client | undefined;
  const deps: ActivityDeps = {
    ...(opts.deps ?? depsFromEnv(env)),
    // One client for the activities that read other workflows, opened on first use.
    temporal:
      opts.deps?.temporal ??
      (() => (client ??= new Client({ connection: lazyConnection(env), namespace: env.TEMPORAL_NAMESPACE }))),
  };
  const worker = await Worker.create({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.SLUICE_TASK_QUEUE,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities(deps),
    maxConcurrentActivityTaskExecutions: env.SLUICE_WORKER_MAX_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: env.SLUICE_WORKER_MAX_WORKFLOW_TASKS,
    maxCachedWorkflows: env.SLUICE_WORKER_MAX_CACHED_WORKFLOWS,
    shutdownGraceTime: '10 seconds',
  });
  return { worker, connection };
}

/** A client connection that connects on its first call (Connection.lazy). */
function lazyConnection(env: Env): Connection {
  return Connection.lazy(connectionOptions(env));
}
