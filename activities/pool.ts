import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../lib/errors';
import {
  poolWorkflowId,
  releaseAdmission,
  requestAdmission,
  type ReleaseAdmission,
  type RequestAdmission,
} from '../workflows/messages';

export interface HolderRef {
  workflowId: string;
  runId?: string;
}

/**
 * Which holders are gone: their workflow is closed (completed, failed, terminated, timed out), no
 * longer exists, or its current run is another one (reset, or a new run) than the one that asked.
 * Conservative: a holder whose state cannot be read (an RPC error) counts as alive, so a live
 * holder is never reclaimed on a transient failure.
 */
export async function findGoneHolders(client: Client, holders: HolderRef[], concurrency = 16): Promise<HolderRef[]> {
  const gone: HolderRef[] = [];
  let next = 0;
  const worker = async () => {
    while (next < holders.length) {
      const h = holders[next++]!;
      try {
        const d = await client.workflow.getHandle(h.workflowId).describe();
        if (d.status.name !== 'RUNNING' || (h.runId !== undefined && d.runId !== h.runId)) gone.push(h);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) gone.push(h);
      }
      if (next % 64 === 0) heartbeat(next);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, holders.length) }, worker));
  return gone;
}

/** A message from a holder to its pool's scheduler (`withAdmission` sends them by local activity). */
export type PoolMessage =
  | { pool: string; signal: 'requestAdmission'; body: RequestAdmission }
  | { pool: string; signal: 'releaseAdmission'; body: ReleaseAdmission };

/**
 * Signals a pool's scheduler from the client side. A request to a pool with no running scheduler
 * fails with the non-retryable `UnknownPool`; a release to a pool that is gone has nothing left to
 * release and succeeds. Both messages are idempotent at the scheduler, so a retry is harmless.
 */
export async function signalPool(client: Client, message: PoolMessage): Promise<void> {
  const handle = client.workflow.getHandle(poolWorkflowId(message.pool));
  try {
    if (message.signal === 'requestAdmission') await handle.signal(requestAdmission, message.body);
    else await handle.signal(releaseAdmission, message.body);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    if (message.signal === 'releaseAdmission') return;
    throw ApplicationFailure.nonRetryable(
      `unknown pool ${message.pool}: no scheduler workflow ${poolWorkflowId(message.pool)} is running ` +
        `(start it with \`sluice pool ${message.pool} --capacity ...\`)`,
      ErrorType.unknownPool,
    );
  }
}
