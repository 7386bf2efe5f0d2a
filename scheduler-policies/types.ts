/**
 * The shapes every scheduling policy speaks (docs/architecture.md#scheduling-policies). They are plain JSON so the pool
 * scheduler workflow can keep them in its state and carry them across continue-as-new.
 */

/**
 * Amounts per named resource, e.g. `{ cpu: 4, memoryMb: 8192 }`. A dimension missing from a
 * demand counts as 0; a dimension missing from a pool's capacity counts as capacity 0.
 */
export type ResourceVector = Record<string, number>;

/** One request for an all-or-nothing (gang) grant of `demand` from the pool. */
export interface AdmissionRequest {
  /** Unique among pending and running requests of one pool. */
  id: string;
  /** Who pays for it; the unit of fairness for the `fair` policy. */
  tenant: string;
  /**
   * Capacity queue name, used by the `capacity` policy.
   * @default 'default'
   */
  queue?: string;
  /**
   * Higher runs first.
   * @default 0
   */
  priority?: number;
  /** What the grant holds while it runs. */
  demand: ResourceVector;
  /** When the request was submitted, epoch milliseconds. */
  submittedAt: number;
  /**
   * Whether the `capacity` policy may revoke the grant to restore another queue's guarantee.
   * @default false
   */
  preemptible?: boolean;
  /**
   * Expected runtime once granted, used by the `backfill` policy. Requests without one are never
   * backfilled, and running grants without one never end as far as reservations are concerned.
   * @default undefined (unknown)
   */
  estimatedRuntimeMs?: number;
  /**
   * Informational; streaming jobs usually have no runtime estimate.
   * @default 'batch'
   */
  kind?: 'batch' | 'streaming';
}

/** A request that holds its demand since `grantedAt` (epoch ms). */
export interface Grant {
  request: AdmissionRequest;
  grantedAt: number;
}

/** Everything a policy may look at. `decide` never mutates it. */
export interface PoolSnapshot {
  capacity: ResourceVector;
  running: Grant[];
  pending: AdmissionRequest[];
  /** The decision time, epoch ms (the workflow's deterministic clock). */
  now: number;
}

/**
 * What to do now. Applying it — adding every `admit` request's demand and removing every
 * `preempt` grant's demand — leaves the pool within capacity in every dimension (up to a relative
 * tolerance of 1e-9 for fractional amounts). Every pending id is either admitted or has a reason
 * in `waiting`; many ids may share one reason string.
 */
export interface Decision {
  /** Pending request ids to grant now, in the order the policy chose them. */
  admit: string[];
  /** Running grant ids (request ids) to revoke now. */
  preempt: string[];
  /** Human-readable reason per pending id that is not admitted. */
  waiting: Record<string, string>;
}

/** A pure, deterministic admission policy. */
export interface SchedulingPolicy {
  readonly name: string;
  decide(snapshot: PoolSnapshot): Decision;
}
