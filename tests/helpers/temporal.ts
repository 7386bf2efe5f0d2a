import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkerOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { ActivityDeps } from '../../activities/deps';
import { SEARCH_ATTRIBUTES } from '../../lib/search-attributes';
import { installedLayout } from '../../stack/install';
import { bundleSluiceWorkflows } from '../../workers/bundle';

/**
 * A dev server for one suite, from the stack's own `temporal` binary: the test environment never
 * tries a download of its own (nothing but the package registries is reachable). `extraArgs` go
 * to `temporal server start-dev`, e.g. `['--dynamic-config-value', 'limit.x=1']`.
 */
export function createTestEnv(extraArgs: string[] = []): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: installedLayout().temporalBin },
      searchAttributes: [...SEARCH_ATTRIBUTES],
      extraArgs,
    },
  });
}

/** Bundle the workflow code once per suite (bundling per worker is slow). */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleSluiceWorkflows();
}

export interface SuiteWorker {
  /** Task queue served by this worker. */
  taskQueue: string;
  /** Extra Worker options (concurrency, heartbeat throttle...). */
  options?: Partial<Omit<WorkerOptions, 'connection' | 'taskQueue' | 'workflowBundle' | 'activities'>>;
}

export interface WorkflowSuite {
  env: TestWorkflowEnvironment;
  workers: Worker[];
  /**
   * Serves `taskQueue` with one more worker (the same bundle and activities) only until `done`
   * settles: while it is down, the signals sent to its workflows wait for one workflow task.
   */
  runWorkerUntil<T>(taskQueue: string, done: () => Promise<T>): Promise<T>;
  /** Shuts the workers down, waits for them, tears the dev server down. */
  stop(): Promise<void>;
}

/**
 * The set-up of a workflow suite, written once: a dev server, the workflow bundle, and one worker
 * per task queue running the given activities plus the pool's real ones (liveness check and
 * admission signals, against the suite's own server).
 */
export async function startWorkflowSuite(
  workers: SuiteWorker[],
  { activities = {}, serverArgs = [] }: { activities?: object; serverArgs?: string[] } = {},
): Promise<WorkflowSuite> {
  const [env, workflowBundle] = await Promise.all([createTestEnv(serverArgs), bundleWorkflows()]);
  const { findGoneHolders, signalPool } = createActivities({ temporal: () => env.client } as ActivityDeps);
  const createWorker = ({ taskQueue, options }: SuiteWorker) =>
    Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: { findGoneHolders, signalPool, ...activities },
      ...options,
    });
  const created = await Promise.all(workers.map(createWorker));
  const running = created.map((w) => w.run());
  return {
    env,
    workers: created,
    runWorkerUntil: async (taskQueue, done) => (await createWorker({ taskQueue })).runUntil(done),
    async stop() {
      for (const w of created) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.all(running);
      await env.teardown();
    },
  };
}
