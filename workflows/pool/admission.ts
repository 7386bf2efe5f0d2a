/**
 * The holder's side of admission control, for pipeline workflows: `withAdmission(pool, ask, body)`.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { ErrorType } from '../../lib/errors';
import { SluicePool, SluiceState, SluiceTenant } from '../../lib/search-attributes';
import {
  admissionGranted,
  admissionRejected,
  admissionRevoked,
  poolWorkflowId,
  releaseAdmission,
  requestAdmission,
  type RequestAdmission,
  type RevocationReason,
} from '../messages';

/**
 * The patch that moved a holder's request and release from workflow-to-workflow signals to signals
 * sent by a local activity: a local activity leaves one marker in the holder's history instead of a
 * signal-initiated event, a signalled event and a workflow task to acknowledge it.
 */
export const ADMISSION_BY_ACTIVITY = 'sluice-admission-by-local-activity';

/**
 * Error types `withAdmission` throws; callers list them in retry policies and match on them. The
 * names are Sluice's error-type list (`lib/errors.ts`).
 */
export const AdmissionErrors = {
  rejected: ErrorType.admissionRejected,
  revoked: ErrorType.admissionRevoked,
  unknownPool: ErrorType.unknownPool,
} as const;

const { signalPool } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  // Unlimited, with backoff: a release must get through. `UnknownPool` is final.
  retry: {
    initialInterval: '200 ms',
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [AdmissionErrors.unknownPool],
  },
});

/**
 * What a pipeline asks its pool for: the `requestAdmission` message without what `withAdmission`
 * fills in (the holder's ids and the pool). `requestId` is optional here.
 * @default requestId `${workflowId}/${runId}/${n}`: the n-th admission of this run
 */
export type AdmissionAsk = Omit<RequestAdmission, 'requestId' | 'holderWorkflowId' | 'holderRunId' | 'pool'> &
  Partial<Pick<RequestAdmission, 'requestId'>> & {
    /**
     * The grant outlives this run: it is held by the workflow id, not the run, so a long-running
     * holder (a stream) keeps it across continue-as-new and adopts it with {@link adoptAdmission}.
     */
    acrossRuns?: boolean;
  };

export interface AdmissionGrant {
  pool: string;
  requestId: string;
  grantedAt: number;
}

export { poolWorkflowId };

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
 * A grant held outside one lexical scope (a streaming pipeline holds its grant across operations
 * and, during a rescale, holds the old and the new one at once). `release` is idempotent and
 * never cancelled; `onRevoke` is called once if the pool revokes the grant.
 */
export interface AdmissionLease extends AdmissionGrant {
  readonly revoked: RevocationReason | undefined;
  onRevoke(callback: (reason: RevocationReason) => void): void;
  release(): Promise<void>;
}

/**
 * Asks `pool` for `ask.demand` and waits for the grant. The caller must `release()` it (on
 * success, failure and cancellation alike: a grant is never leaked). A cancellation while waiting
 * withdraws the request.
 *
 * @throws ApplicationFailure `AdmissionRejected` (bad request, with the scheduler's reason),
 *   `UnknownPool` (no scheduler runs for `pool`).
 */
export async function acquireAdmission(pool: string, ask: AdmissionAsk): Promise<AdmissionLease> {
  const info = workflowInfo();
  const holdings = registry();
  // Derived from history alone (not from the seeded PRNG): the same on every replay.
  const requestId = ask.requestId ?? `${info.workflowId}/${info.runId}/${nextAdmission()}`;
  if (holdings.has(requestId)) {
    throw ApplicationFailure.nonRetryable(
      `requestId ${requestId} is already in use by this workflow`,
      AdmissionErrors.rejected,
    );
  }
  const holding: Holding = { status: 'waiting' };
  holdings.set(requestId, holding);
  const scheduler = getExternalWorkflowHandle(poolWorkflowId(pool));
  // Runs that started before the local-activity protocol replay the workflow-signal one.
  const byActivity = patched(ADMISSION_BY_ACTIVITY);
  const message: RequestAdmission = {
    requestId,
    holderWorkflowId: info.workflowId,
    ...(ask.acrossRuns ? {} : { holderRunId: info.runId }),
    pool,
    tenant: ask.tenant,
    queue: ask.queue,
    priority: ask.priority,
    demand: ask.demand,
    kind: ask.kind,
    preemptible: ask.preemptible,
    estimatedRuntimeMs: ask.estimatedRuntimeMs,
  };
  const waiting = [
    { key: SluicePool, value: pool },
    { key: SluiceTenant, value: ask.tenant },
    { key: SluiceState, value: 'waiting-admission' },
  ];
  // Each upsert is a history event and a visibility write: skip what the starter already set.
  if (byActivity) upsertChanged(waiting);
  else upsertSearchAttributes(waiting);
  let asked = false;
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    holdings.delete(requestId);
    if (!asked) return;
    // Even when this workflow is being cancelled: a grant is never leaked.
    await CancellationScope.nonCancellable(() =>
      byActivity
        ? signalPool({ pool, signal: 'releaseAdmission', body: { requestId } })
        : scheduler.signal(releaseAdmission, { requestId }),
    ).catch(() => {
      // The scheduler is gone (terminated pool): nothing left to release.
    });
  };
  try {
    if (byActivity) {
      // Not cancellable: once the request may have reached the scheduler, the release below must
      // follow it, never overtake it. A cancellation takes effect right after.
      await CancellationScope.nonCancellable(() =>
        signalPool({ pool, signal: 'requestAdmission', body: message }).catch((err: unknown) => {
          if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
            if (err.cause.type === AdmissionErrors.unknownPool) {
              throw ApplicationFailure.nonRetryable(err.cause.message, AdmissionErrors.unknownPool);
            }
          }
          throw err;
        }),
      );
      asked = true;
    } else {
      try {
        await scheduler.signal(requestAdmission, message);
        asked = true;
      } catch (err) {
        if (isCancellation(err)) throw err;
        throw ApplicationFailure.nonRetryable(
          `unknown pool ${pool}: no scheduler workflow ${poolWorkflowId(pool)} is running (start it with \`sluice pool ${pool} --capacity ...\`)`,
          AdmissionErrors.unknownPool,
        );
      }
    }
    await condition(() => holding.status !== 'waiting');
    if (holding.status === 'rejected') {
      throw ApplicationFailure.nonRetryable(
        `pool ${pool} rejected request ${requestId}: ${holding.reason}`,
        AdmissionErrors.rejected,
      );
    }
  } catch (err) {
    await release();
    throw err;
  }
  upsertSearchAttributes([{ key: SluiceState, value: 'admitted' }]);
  return {
    pool,
    requestId,
    grantedAt: holding.grantedAt!,
    get revoked() {
      return holding.status === 'revoked' ? holding.revokedReason : undefined;
    },
    onRevoke(callback) {
      holding.onRevoke = () => callback(holding.revokedReason!);
    },
    release,
  };
}

/**
 * Takes over a grant an earlier run of this workflow held (asked with `acrossRuns`), after a
 * continue-as-new: the pool never saw the grant end, and this run releases it.
 */
export function adoptAdmission(pool: string, grant: Omit<AdmissionGrant, 'pool'>): AdmissionLease {
  const holdings = registry();
  const holding: Holding = { status: 'granted', grantedAt: grant.grantedAt };
  holdings.set(grant.requestId, holding);
  let released = false;
  return {
    pool,
    requestId: grant.requestId,
    grantedAt: grant.grantedAt,
    get revoked() {
      return holding.status === 'revoked' ? holding.revokedReason : undefined;
    },
    onRevoke(callback) {
      holding.onRevoke = () => callback(holding.revokedReason!);
    },
    async release() {
      if (released) return;
      released = true;
      holdings.delete(grant.requestId);
      await CancellationScope.nonCancellable(() =>
        signalPool({ pool, signal: 'releaseAdmission', body: { requestId: grant.requestId } }),
      ).catch(() => undefined);
    },
  };
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
  const lease = await acquireAdmission(pool, ask);
  try {
    const scope = new CancellationScope();
    lease.onRevoke(() => scope.cancel());
    try {
      return await scope.run(() => body({ pool, requestId: lease.requestId, grantedAt: lease.grantedAt }));
    } catch (err) {
      if (lease.revoked && isCancellation(err)) {
        throw ApplicationFailure.retryable(
          `pool ${pool} revoked request ${lease.requestId}: ${lease.revoked}`,
          AdmissionErrors.revoked,
          lease.revoked,
        );
      }
      throw err;
    }
  } finally {
    await lease.release();
  }
}

/** Upserts the keyword attributes whose value differs from the run's current one, if any. */
function upsertChanged(pairs: { key: typeof SluicePool; value: string }[]): void {
  const current = workflowInfo().typedSearchAttributes;
  const changed = pairs.filter(({ key, value }) => current.get(key) !== value);
  if (changed.length > 0) upsertSearchAttributes(changed);
}

/** True when `err` is the failure `withAdmission` throws after a revocation. */
export function isRevocation(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && err.type === AdmissionErrors.revoked;
}
