/**
 * The holder's side of admission control, for pipeline workflows: `withAdmission(pool, ask, body)`.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ResourceVector } from '../../scheduler-policies';
import { SluicePool, SluiceState, SluiceTenant } from '../../lib/search-attributes';
import {
  admissionGranted,
  admissionRejected,
  admissionRevoked,
  releaseAdmission,
  requestAdmission,
  type RevocationReason,
} from '../messages';

export interface AdmissionAsk {
  tenant: string;
  queue?: string;
  /** Higher runs first. @default 0 */
  priority?: number;
  demand: ResourceVector;
  kind: 'batch' | 'streaming';
  /** May be revoked to make room for others (capacity policy). @default false */
  preemptible?: boolean;
  estimatedRuntimeMs?: number;
  /** @default `${workflowId}/${runId}/${n}`: the n-th admission of this run */
  requestId?: string;
}

export interface AdmissionGrant {
  pool: string;
  requestId: string;
  grantedAt: number;
}

/** The workflow id of a pool's scheduler. */
export const poolWorkflowId = (pool: string) => `pool/${pool}`;

/** Error types `withAdmission` throws; callers list them in retry policies and match on them. */
export const AdmissionErrors = {
  rejected: 'AdmissionRejected',
  revoked: 'AdmissionRevoked',
  unknownPool: 'UnknownPool',
} as const;

interface Holding {
  status: 'waiting' | 'granted' | 'rejected' | 'revoked';
  grantedAt?: number;
  reason?: string;
  revokedReason?: RevocationReason;
  onRevoke?: () => void;
}

/** Counts this run's admissions (per-run state on `globalThis`, like the registry). */
function nextAdmission(): number {
  const g = globalThis as { __sluiceAdmissionCount?: number };
  g.__sluiceAdmissionCount = (g.__sluiceAdmissionCount ?? 0) + 1;
  return g.__sluiceAdmissionCount;
}

/**
 * One registry per workflow run. Temporal gives every run its own `globalThis` (even with a reused
 * V8 context), so the signal handlers can dispatch by request id to every concurrent admission.
 */
function registry(): Map<string, Holding> {
  const g = globalThis as { __sluiceAdmissions?: Map<string, Holding> };
  if (!g.__sluiceAdmissions) {
    const map = new Map<string, Holding>();
    g.__sluiceAdmissions = map;
    setHandler(admissionGranted, ({ requestId, grantedAt }) => {
      const h = map.get(requestId);
      if (h?.status === 'waiting') Object.assign(h, { status: 'granted', grantedAt });
    });
    setHandler(admissionRejected, ({ requestId, reason }) => {
      const h = map.get(requestId);
      if (h?.status === 'waiting') Object.assign(h, { status: 'rejected', reason });
    });
    setHandler(admissionRevoked, ({ requestId, reason }) => {
      const h = map.get(requestId);
      if (h?.status === 'granted') {
        Object.assign(h, { status: 'revoked', revokedReason: reason });
        h.onRevoke?.();
      }
    });
  }
  return g.__sluiceAdmissions;
}

/**
 * Asks `pool` for `ask.demand`, waits for the grant, runs `body`, and always releases: on success,
 * failure and cancellation. A revocation (preemption, resize) cancels `body`'s scope: the body
 * sees a `CancelledFailure` it can handle (pause with a savepoint, kill its step), and then
 * `withAdmission` throws an `AdmissionRevoked` failure so the caller can re-queue.
 *
 * @throws ApplicationFailure `AdmissionRejected` (bad request, with the scheduler's reason),
 *   `UnknownPool` (no scheduler runs for `pool`), `AdmissionRevoked` (details: [reason]).
 */
export async function withAdmission<T>(
  pool: string,
  ask: AdmissionAsk,
  body: (grant: AdmissionGrant) => Promise<T>,
): Promise<T> {
  const info = workflowInfo();
  const holdings = registry();
  // Derived from history alone (not from the seeded PRNG): the same on every replay.
  const requestId = ask.requestId ?? `${info.workflowId}/${info.runId}/${nextAdmission()}`;
  if (holdings.has(requestId)) {
    throw ApplicationFailure.nonRetryable(
      `requestId ${requestId} is already in use by this workflow`,
      'AdmissionRejected',
    );
  }
  const holding: Holding = { status: 'waiting' };
  holdings.set(requestId, holding);
  const scheduler = getExternalWorkflowHandle(poolWorkflowId(pool));
  upsertSearchAttributes([
    { key: SluicePool, value: pool },
    { key: SluiceTenant, value: ask.tenant },
    { key: SluiceState, value: 'waiting-admission' },
  ]);
  let asked = false;
  try {
    try {
      await scheduler.signal(requestAdmission, {
        requestId,
        holderWorkflowId: info.workflowId,
        holderRunId: info.runId,
        pool,
        tenant: ask.tenant,
        queue: ask.queue,
        priority: ask.priority,
        demand: ask.demand,
        kind: ask.kind,
        preemptible: ask.preemptible,
        estimatedRuntimeMs: ask.estimatedRuntimeMs,
      });
      asked = true;
    } catch (err) {
      if (isCancellation(err)) throw err;
      throw ApplicationFailure.nonRetryable(
        `unknown pool ${pool}: no scheduler workflow ${poolWorkflowId(pool)} is running (start it with \`sluice pool ${pool} --capacity ...\`)`,
        AdmissionErrors.unknownPool,
      );
    }
    await condition(() => holding.status !== 'waiting');
    if (holding.status === 'rejected') {
      throw ApplicationFailure.nonRetryable(
        `pool ${pool} rejected request ${requestId}: ${holding.reason}`,
        AdmissionErrors.rejected,
      );
    }
    upsertSearchAttributes([{ key: SluiceState, value: 'admitted' }]);
    const scope = new CancellationScope();
    holding.onRevoke = () => scope.cancel();
    try {
      return await scope.run(() => body({ pool, requestId, grantedAt: holding.grantedAt! }));
    } catch (err) {
      if (holding.status === 'revoked' && isCancellation(err)) {
        throw ApplicationFailure.retryable(
          `pool ${pool} revoked request ${requestId}: ${holding.revokedReason}`,
          AdmissionErrors.revoked,
          holding.revokedReason,
        );
      }
      throw err;
    }
  } finally {
    holdings.delete(requestId);
    if (asked) {
      // Even when this workflow is being cancelled: a grant is never leaked.
      await CancellationScope.nonCancellable(() => scheduler.signal(releaseAdmission, { requestId })).catch(() => {
        // The scheduler is gone (terminated pool): nothing left to release.
      });
    }
  }
}

/** True when `err` is the failure `withAdmission` throws after a revocation. */
export function isRevocation(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && err.type === AdmissionErrors.revoked;
}
