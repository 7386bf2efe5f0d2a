import type { AdmissionRequest, Grant, PoolSnapshot, ResourceVector } from './types';

/**
 * The resource model of a pool, one for the policies and the pool scheduler alike: which demands
 * can ever be admitted (and the reason when one cannot), whether a demand fits what is free, and
 * the wording of both.
 *
 * Dimensions are the capacity's keys. A demand dimension missing from capacity is capacity 0: a
 * request asking for a positive amount of it can never be admitted. A capacity that is negative or
 * not a number reads as 0. Fits are checked with a relative tolerance of {@link RELATIVE_TOLERANCE}
 * of each dimension's capacity so that fractional amounts (0.1 + 0.2 cpu) do not fail by rounding.
 *
 * Two forms: {@link PoolView}, dense rows for a policy's `decide` over thousands of requests, and
 * record-level helpers ({@link demandProblem}, {@link fitsIn}, ...) for the pool scheduler's checks
 * of one request at a time. Both apply the same rules with the same words.
 */
export const RELATIVE_TOLERANCE = 1e-9;

/** The rounding slack of a dimension of capacity `cap`: {@link RELATIVE_TOLERANCE} of it, and of 1 at least. */
export function slackOf(cap: number): number {
  return RELATIVE_TOLERANCE * Math.max(1, cap === Infinity ? 1 : cap);
}

/** Capacity `capacity[dim]` as the model reads it: a number >= 0, or undefined when the pool lacks it. */
function capacityOf(capacity: ResourceVector, dim: string): number | undefined {
  if (!Object.prototype.hasOwnProperty.call(capacity, dim)) return undefined;
  const c: unknown = capacity[dim];
  if (typeof c !== 'number') return undefined;
  return c >= 0 ? c : 0; // NaN and negative capacities read as 0
}

/**
 * Why `demand` can never be admitted by a pool of `capacity`, or undefined when it can: an amount
 * that is negative or not a number (`invalid demand cpu -1`), larger than the capacity
 * (`demand cpu 12 exceeds pool capacity 8`), or positive in a dimension the pool lacks
 * (`demand gpu 1 exceeds pool capacity 0 (the pool has no gpu)`). The capacity's dimensions are
 * checked first, in their order; the first problem is told.
 */
export function demandProblem(demand: ResourceVector, capacity: ResourceVector): string | undefined {
  for (const dim of Object.keys(capacity)) {
    const cap = capacityOf(capacity, dim);
    if (cap === undefined) continue;
    const v: unknown = demand[dim];
    if (typeof v !== 'number') continue; // absent: 0
    if (!(v >= 0)) return `invalid demand ${dim} ${v}`;
    if (v > cap + slackOf(cap)) return `demand ${dim} ${formatAmount(v)} exceeds pool capacity ${formatAmount(cap)}`;
  }
  for (const dim in demand) {
    if (capacityOf(capacity, dim) !== undefined) continue;
    const v: unknown = demand[dim];
    if (typeof v !== 'number' || !(v >= 0)) return `invalid demand ${dim} ${String(v)}`;
    if (v > 0) return `demand ${dim} ${formatAmount(v)} exceeds pool capacity 0 (the pool has no ${dim})`;
  }
  return undefined;
}

/** What is left of `capacity` after `used`, in the capacity's dimensions (negative where over-committed). */
export function freeCapacity(capacity: ResourceVector, used: ResourceVector): ResourceVector {
  const free: ResourceVector = {};
  for (const dim of Object.keys(capacity)) {
    const cap = capacityOf(capacity, dim);
    if (cap !== undefined) free[dim] = cap - (used[dim] ?? 0);
  }
  return free;
}

/** Whether `demand` fits in `free` in every dimension, with the rounding slack of `capacity`. */
export function fitsIn(demand: ResourceVector, free: ResourceVector, capacity: ResourceVector): boolean {
  for (const dim in demand) if (!fitsDim(demand[dim], free[dim] ?? 0, capacity, dim)) return false;
  return true;
}

/** `free -= demand`; `free` may go negative. */
export function takeFrom(free: ResourceVector, demand: ResourceVector): void {
  for (const dim in demand) free[dim] = (free[dim] ?? 0) - demand[dim];
}

/** Whether `used` is over `capacity` in some dimension, beyond the rounding slack. */
export function exceedsCapacity(used: ResourceVector, capacity: ResourceVector): boolean {
  for (const dim in used) {
    const cap = capacityOf(capacity, dim) ?? 0;
    if (used[dim] > cap + slackOf(cap)) return true;
  }
  return false;
}

/** E.g. `needs 10 cpu, 4 free` — one clause per dimension where `demand` does not fit in `free`. */
export function shortfallOf(demand: ResourceVector, free: ResourceVector, capacity: ResourceVector): string {
  const parts: string[] = [];
  for (const dim in demand) {
    const avail = free[dim] ?? 0;
    if (!fitsDim(demand[dim], avail, capacity, dim)) parts.push(shortfallClause(dim, demand[dim], avail));
  }
  return shortfallText(parts);
}

function fitsDim(need: number, avail: number, capacity: ResourceVector, dim: string): boolean {
  return !(need > avail + slackOf(capacityOf(capacity, dim) ?? 0) && need > 0);
}

function shortfallClause(dim: string, need: number, avail: number): string {
  return `${formatAmount(need)} ${dim}, ${formatAmount(Math.max(0, avail))} free`;
}

function shortfallText(parts: string[]): string {
  return parts.length === 0 ? 'fits now' : `needs ${parts.join('; ')}`;
}

/**
 * Vector math over a snapshot, done once per `decide`: resource records become dense numeric
 * rows (one `Float64Array` for all pending demands, one for all running demands) indexed by the
 * pool's dimensions, so policies compare and subtract numbers instead of walking records. A
 * pending request that can never be admitted is marked unfit with its {@link demandProblem}.
 */
export class PoolView {
  /** Dimension names, in the capacity record's key order. */
  readonly dims: readonly string[];
  /** Number of dimensions, `D`. */
  readonly size: number;
  readonly capacity: Float64Array;
  /** Per-dimension rounding slack used by {@link PoolView.fits}. */
  readonly slack: Float64Array;
  /** Capacity minus every running grant's demand; negative where the pool is over-committed. */
  readonly free: Float64Array;
  readonly pending: readonly AdmissionRequest[];
  readonly running: readonly Grant[];
  /** Row `i * D .. i * D + D - 1` is `pending[i].demand`. */
  readonly demand: Float64Array;
  /** Row `j * D ..` is `running[j].request.demand` (invalid amounts read as 0). */
  readonly runningDemand: Float64Array;
  /** `unfit[i] === 1` when pending request `i` can never be admitted; reason in `unfitReasons`. */
  readonly unfit: Uint8Array;
  readonly unfitReasons: Map<number, string>;
  readonly now: number;

  constructor(snapshot: PoolSnapshot) {
    const { capacity, pending, running } = snapshot;
    const dims: string[] = [];
    for (const key of Object.keys(capacity)) if (typeof capacity[key] === 'number') dims.push(key);
    const size = dims.length;
    this.dims = dims;
    this.size = size;
    this.now = snapshot.now;
    this.pending = pending;
    this.running = running;
    this.capacity = new Float64Array(size);
    this.slack = new Float64Array(size);
    for (let d = 0; d < size; d++) {
      const c = capacity[dims[d]];
      const cap = c >= 0 ? c : 0; // NaN and negative capacities read as 0
      this.capacity[d] = cap;
      this.slack[d] = slackOf(cap);
    }

    this.runningDemand = new Float64Array(running.length * size);
    this.free = this.capacity.slice();
    for (let j = 0; j < running.length; j++) {
      const vec = running[j].request.demand;
      const row = j * size;
      for (let d = 0; d < size; d++) {
        const v = vec[dims[d]];
        const amount = typeof v === 'number' && v > 0 ? v : 0;
        this.runningDemand[row + d] = amount;
        this.free[d] -= amount;
      }
    }

    this.demand = new Float64Array(pending.length * size);
    this.unfit = new Uint8Array(pending.length);
    this.unfitReasons = new Map();
    for (let i = 0; i < pending.length; i++) {
      const vec = pending[i].demand;
      const row = i * size;
      let found = 0;
      let bad = false;
      for (let d = 0; d < size; d++) {
        const v = vec[dims[d]];
        if (typeof v !== 'number') continue;
        found++;
        if (v >= 0 && v <= this.capacity[d] + this.slack[d]) this.demand[row + d] = v;
        else bad = true;
      }
      let keys = 0;
      for (const _key in vec) keys++;
      // The fast test above finds every unfit request; the reason (rare) comes from the one rule.
      const reason = bad || keys !== found ? demandProblem(vec, capacity) : undefined;
      if (reason !== undefined) {
        this.unfit[i] = 1;
        this.unfitReasons.set(i, reason);
      }
    }
  }

  /** Whether pending request `i` fits in `avail` in every dimension. */
  fits(i: number, avail: Float64Array): boolean {
    const size = this.size;
    const demand = this.demand;
    const slack = this.slack;
    const row = i * size;
    for (let d = 0; d < size; d++) {
      const need = demand[row + d];
      if (need > avail[d] + slack[d] && need > 0) return false; // nothing needed fits even an over-committed dimension
    }
    return true;
  }

  /** `avail -= demand(i)`; `avail` may go negative (a reservation). */
  take(i: number, avail: Float64Array): void {
    const size = this.size;
    const row = i * size;
    for (let d = 0; d < size; d++) avail[d] -= this.demand[row + d];
  }

  /** `avail += demand(i)`. */
  give(i: number, avail: Float64Array): void {
    const size = this.size;
    const row = i * size;
    for (let d = 0; d < size; d++) avail[d] += this.demand[row + d];
  }

  /** Largest `used[d] / capacity[d]` over dimensions with positive capacity. */
  dominantShare(used: Float64Array, offset = 0): number {
    let share = 0;
    for (let d = 0; d < this.size; d++) {
      const cap = this.capacity[d];
      if (cap > 0) {
        const s = used[offset + d] / cap;
        if (s > share) share = s;
      }
    }
    return share;
  }

  /** E.g. `needs 10 cpu, 4 free` — one clause per dimension where request `i` does not fit. */
  shortfall(i: number, avail: Float64Array): string {
    const size = this.size;
    const row = i * size;
    const parts: string[] = [];
    for (let d = 0; d < size; d++) {
      const need = this.demand[row + d];
      if (need > avail[d] + this.slack[d] && need > 0) parts.push(shortfallClause(this.dims[d], need, avail[d]));
    }
    return shortfallText(parts);
  }
}

/** Integers as is, others to two decimals: `4`, `0.5`, `1.33`. */
export function formatAmount(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Math.round(x * 100) / 100);
}

/** A share (fraction of the pool) to two decimals: `0.50`. */
export function formatShare(x: number): string {
  return x === Infinity ? 'inf' : x.toFixed(2);
}
