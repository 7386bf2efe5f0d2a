import { ApplicationFailure, patched, sleep, workflowInfo } from '@temporalio/workflow';
import { ADMISSION_BY_ACTIVITY, isRevocation, withAdmission, type AdmissionAsk } from './admission';

export interface HoldInput extends AdmissionAsk {
  pool: string;
  /** How long to hold the grant once admitted. */
  holdMs: number;
}

export interface HoldResult {
  requestId: string;
  outcome: 'released' | 'revoked' | 'rejected';
  grantedAt?: number;
  releasedAt?: number;
  reason?: string;
}

/**
 * Holds `demand` of a pool for `holdMs` and releases it: the smallest holder. Operators use it to
 * reserve capacity (maintenance, a manual job); tests and the admission benchmark use it as a load.
 */
export async function holdResourcesWorkflow(input: HoldInput): Promise<HoldResult> {
  const requestId = input.requestId ?? `${workflowInfo().workflowId}/${workflowInfo().runId}/hold`;
  try {
    return await withAdmission(input.pool, { ...input, requestId }, async (grant) => {
      // Runs from before the patch slept even for 0 ms (a 1 ms timer); newer runs release at once.
      if (input.holdMs > 0 || !patched(ADMISSION_BY_ACTIVITY)) await sleep(input.holdMs);
      return { requestId, outcome: 'released' as const, grantedAt: grant.grantedAt, releasedAt: Date.now() };
    });
  } catch (err) {
    if (isRevocation(err)) {
      return { requestId, outcome: 'revoked', reason: String((err.details as unknown[] | undefined)?.[0]) };
    }
    if (err instanceof ApplicationFailure && err.type === 'AdmissionRejected') {
      return { requestId, outcome: 'rejected', reason: err.message };
    }
    throw err;
  }
}
