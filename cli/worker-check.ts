import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { poolTaskQueue, type Env } from '../config/env';
import { until } from '../lib/poll';

/** The two task queues of a Sluice worker: pipeline runs, and pool schedulers. */
export type WorkerQueue = 'pipelines' | 'pools';

export const queueName = (env: Env, queue: WorkerQueue) =>
  queue === 'pools' ? poolTaskQueue(env) : env.SLUICE_TASK_QUEUE;

/** No worker polls a queue a command needs, and the command was told not to wait for one. */
export class NoWorker extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoWorker';
  }
}

/** Whether any worker has polled `taskQueue` for workflow tasks lately (the server's poller list). */
export async function hasPollers(client: Client, namespace: string, taskQueue: string): Promise<boolean> {
  const res = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (res.pollers?.length ?? 0) > 0;
}

/**
 * Makes sure a worker serves the queues a command needs before it sends work there: without one,
 * an update or a query waits forever and a run sits queued without a word. When none polls, says
 * at once which queue lacks a worker and how to start one; then, with `wait`, waits for one with
 * that note on stderr, and without it fails with {@link NoWorker}.
 */
export async function requireWorker(
  client: Client,
  env: Env,
  queues: WorkerQueue[],
  { wait, say = (m) => process.stderr.write(`sluice: ${m}\n`) }: { wait: boolean; say?: (message: string) => void },
): Promise<void> {
  const missing: string[] = [];
  for (const q of queues) {
    const name = queueName(env, q);
    if (!(await hasPollers(client, env.TEMPORAL_NAMESPACE, name))) missing.push(name);
  }
  if (missing.length === 0) return;
  const problem =
    `no worker polls task queue ${missing.join(' and ')} on ${env.TEMPORAL_ADDRESS}: start one with ` +
    `\`sluice worker\` (with the same SLUICE_TASK_QUEUE${env.SLUICE_TASK_QUEUE === 'sluice' ? '' : `=${env.SLUICE_TASK_QUEUE}`})`;
  if (!wait) throw new NoWorker(problem);
  say(`${problem}; waiting for one (Ctrl-C to give up)`);
  await until(
    `a worker on ${missing.join(' and ')}`,
    async () => {
      for (const name of missing) if (!(await hasPollers(client, env.TEMPORAL_NAMESPACE, name))) return undefined;
      return true;
    },
    { timeoutMs: 24 * 3_600_000, intervalMs: 1000 },
  );
  say(`a worker polls ${missing.join(' and ')} now: going on`);
}
