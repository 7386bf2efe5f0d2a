import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { heartbeat } from '@temporalio/activity';

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
