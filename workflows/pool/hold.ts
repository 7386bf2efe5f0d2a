import { ApplicationFailure, patched, sleep, workflowInfo } from '@temporalio/workflow';
import { ADMISSION_BY_ACTIVITY, AdmissionErrors, isRevocation, withAdmission, type AdmissionAsk } from './admission';

export interface HoldInput extends AdmissionAsk {
  pool: string;
  /** How long to hold the grant once admitted. */
  holdMs: number;
}

export interface HoldResult {
  requestId: string;
  outcome: 'released' | 'revoked' | 'rejected';
  /** Workflow time of the holder's first step, before it asked the pool. */
  requestedAt?: number;
  /** The scheduler's time of the grant. */
  grantedAt?: number;
  /** Workflow time at which the holder saw its grant (its body started). */
  admittedAt?: number;
  releasedAt?: number;
  reason?: string;
}

/**
 * Holds `demand` of a pool for `holdMs` and releases it: the smallest holder. Operators use it to
 * reserve capacity (maintenance, a manual job); tests and the admission benchmark use it as a load.
 */
export async function holdResourcesWorkflow(input: HoldInput): Promise<HoldResult> {
  const requestId = input.requestId ?? `${workflowInfo().workflowId}/${workflowInfo().runId}/hold`;
  const requestedAt = Date.now(); // workflow time: deterministic
  try {
    return await withAdmission(input.pool, { ...input, requestId }, async (grant) => {
      const admittedAt = Date.now();
      // Runs from before the patch slept even for 0 ms (a 1 ms timer); newer runs release at once.
      if (input.holdMs > 0 || !patched(ADMISSION_BY_ACTIVITY)) await sleep(input.holdMs);
      return {
        requestId,
        outcome: 'released' as const,
        requestedAt,
        grantedAt: grant.grantedAt,
        admittedAt,
        releasedAt: Date.now(),
      };
    });
  } catch (err) {
    if (isRevocation(err)) {
      return { requestId, outcome: 'revoked', reason: String((err.details as unknown[] | undefined)?.[0]) };
    }
    if (err instanceof ApplicationFailure && err.type === AdmissionErrors.rejected) {
      return { requestId, outcome: 'rejected', reason: err.message };
    }
    throw err;
  }
}
