import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { poolTaskQueue, type Env } from '../config/env';
import { connectionOptions } from './connection';
import type { ActivityDeps } from '../activities/deps';
import { depsFromEnv, type SparkDefaults } from './deps';
import { bundleSluiceWorkflows } from './bundle';
import { failpointInterceptors } from './failpoints';

export interface SluiceWorkerOptions {
  env: Env;
  /** Reuse a connection (tests); otherwise one is opened from the configuration. */
  connection?: NativeConnection;
  /** Replace the engine clients (tests); otherwise built from the configuration. */
  deps?: ActivityDeps;
  /** Spark's client side where the configuration leaves it unset (the CLI: the local stack's). */
  sparkDefaults?: SparkDefaults;
  /** Users' workflow files or folders, bundled with Sluice's workflows (`sluice worker --workflows`). */
  userWorkflows?: readonly string[];
}

/**
 * Creates the Sluice worker: two Temporal workers over one connection and one workflow bundle,
 * with every workflow of workflows/ and every activity of activities/.
 * - `pipelines` polls the configured task queue (`SLUICE_TASK_QUEUE`): pipelines and other holders;
 * - `pools` polls `<SLUICE_TASK_QUEUE>-pools` ({@link poolTaskQueue}), where pool schedulers run.
 *
 * The admission controller gets a task queue and a workflow thread of its own so that the load it
 * admits never delays it: a scheduler's workflow task that waits behind a hundred pipeline tasks
 * lets signals pile up, and beyond 100 buffered events the server fails the task (cause
 * FORCE_CLOSE_COMMAND), which costs a full replay of the scheduler. The caller runs the worker
 * (`worker.run()`) and owns the returned connection.
 */
export async function createSluiceWorker(
  opts: SluiceWorkerOptions,
): Promise<{ worker: SluiceWorker; connection: NativeConnection }> {
  const { env } = opts;
  const connection = opts.connection ?? (await NativeConnection.connect(connectionOptions(env)));
  let client: Client | undefined;
  const deps: ActivityDeps = {
    ...(opts.deps ?? depsFromEnv(env, opts.sparkDefaults)),
    // One client for the activities that read other workflows, opened on first use.
    temporal:
      opts.deps?.temporal ??
      (() => (client ??= new Client({ connection: lazyConnection(env), namespace: env.TEMPORAL_NAMESPACE }))),
  };
  const workflowBundle = await bundleSluiceWorkflows(opts.userWorkflows);
  const activities = createActivities(deps);
  const common = {
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    workflowBundle,
    activities,
    shutdownGraceTime: '10 seconds' as const,
    // A cancellation (operator cancel, preemption, resize) reaches an activity only in the answer
    // to a heartbeat, and heartbeats are sent at most every 80% of the heartbeat timeout by
    // default: 16 s for a Spark step, all of it time the preempting job waits for a kill. The
    // engine activities heartbeat every 2 s; this lets each heartbeat through.
    maxHeartbeatThrottleInterval: '2 seconds' as const,
    interceptors: { activity: failpointInterceptors(env.SLUICE_FAILPOINTS_DIR) },
  };
  const [pipelines, pools] = await Promise.all([
    Worker.create({
      ...common,
      taskQueue: env.SLUICE_TASK_QUEUE,
      maxConcurrentActivityTaskExecutions: env.SLUICE_WORKER_MAX_ACTIVITIES,
      maxConcurrentWorkflowTaskExecutions: env.SLUICE_WORKER_MAX_WORKFLOW_TASKS,
      maxCachedWorkflows: env.SLUICE_WORKER_MAX_CACHED_WORKFLOWS,
    }),
    // A few long-lived schedulers: a small cache, a few task slots, the liveness checks' activities.
    Worker.create({
      ...common,
      taskQueue: poolTaskQueue(env),
      maxConcurrentActivityTaskExecutions: 4,
      maxConcurrentWorkflowTaskExecutions: 4,
      maxCachedWorkflows: 100,
    }),
  ]);
  return { worker: new SluiceWorker(pipelines, pools), connection };
}

/** The two Temporal workers of a Sluice worker process, run and stopped together. */
export class SluiceWorker {
  constructor(
    readonly pipelines: Worker,
    readonly pools: Worker,
  ) {}

  /** Runs both until both have stopped; when one fails, the other is shut down, and `run` throws. */
  async run(): Promise<void> {
    const results = await Promise.allSettled(
      [this.pipelines, this.pools].map((w) =>
        w.run().catch((err: unknown) => {
          this.shutdown();
          throw err;
        }),
      ),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Starts a graceful shutdown of both (a worker already stopping or stopped is left alone). */
  shutdown(): void {
    for (const w of [this.pipelines, this.pools]) if (w.getState() === 'RUNNING') w.shutdown();
  }

  /** Runs both until `until` settles, then shuts them down; returns (or throws) what `until` did. */
  async runUntil<R>(until: Promise<R> | (() => Promise<R>)): Promise<R> {
    const running = this.run();
    const stoppedEarly = running.then(() => {
      throw new Error('the Sluice worker stopped before its work was done');
    });
    try {
      return await Promise.race([typeof until === 'function' ? until() : until, stoppedEarly]);
    } finally {
      this.shutdown();
      await running.catch(() => undefined);
      stoppedEarly.catch(() => undefined);
    }
  }
}

/** A client connection that connects on its first call (Connection.lazy). */
function lazyConnection(env: Env): Connection {
  return Connection.lazy(connectionOptions(env));
}
