import { WorkflowExecutionAlreadyStartedError, type Client, type Workflow } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { Env } from '../config/env';
import { poolWorkflowId } from '../workflows/messages';
import { requireWorker } from './worker-check';

export interface StartRunOptions {
  wait: boolean;
  json?: boolean;
  searchAttributes: Parameters<Client['workflow']['start']>[1]['typedSearchAttributes'];
}

/**
 * Starts a pipeline's long-running workflow (a lambda or Kappa pipeline: its layers start under
 * it) once a worker polls, and prints its id; a second start while it runs is refused, naming it.
 */
export async function startPipelineRun<W extends Workflow>(
  client: Client,
  env: Env,
  run: { workflow: W; workflowId: string; args: Parameters<W>; summary: string },
  opts: StartRunOptions,
): Promise<void> {
  await requireWorker(client, env, ['pipelines', 'pools'], { wait: opts.wait && !opts.json });
  try {
    await client.workflow.start(run.workflow, {
      taskQueue: env.SLUICE_TASK_QUEUE,
      workflowId: run.workflowId,
      args: run.args,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      typedSearchAttributes: opts.searchAttributes,
      staticSummary: run.summary,
    } as Parameters<Client['workflow']['start']>[1]);
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new Error(`${run.workflowId} is already running (sluice status ${run.workflowId})`, { cause: err });
    }
    throw err;
  }
  process.stderr.write(`sluice: started ${run.workflowId}\n`);
  process.stdout.write(opts.json ? `${JSON.stringify({ workflowId: run.workflowId })}\n` : `${run.workflowId}\n`);
}

/** A run waits forever on a pool nobody runs: refuse to start it, saying how to create the pool. */
export async function requirePoolRunning(client: Client, pool: string, owner: string): Promise<void> {
  const running = await client.workflow
    .getHandle(poolWorkflowId(pool))
    .describe()
    .then((d) => d.status.name === 'RUNNING')
    .catch(() => false);
  if (!running) {
    throw new Error(
      `pool ${pool} (of ${owner}) is not running: create it with sluice pool ${pool} --capacity cpu=4,memoryMb=8192`,
    );
  }
}
