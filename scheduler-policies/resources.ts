import type { AdmissionRequest, Grant, PoolSnapshot, ResourceVector } from './types';

/**
 * Vector math over a snapshot, done once per `decide`: resource records become dense numeric
 * rows (one `Float64Array` for all pending demands, one for all running demands) indexed by the
 * pool's dimensions, so policies compare and subtract numbers instead of walking records.
 *
 * Dimensions are the capacity's keys. A demand dimension missing from capacity is capacity 0: a
 * request asking for a positive amount of it can never be admitted and is marked unfit here with
 * its reason. Fits are checked with a relative tolerance of {@link RELATIVE_TOLERANCE} of each
 * dimension's capacity so that fractional amounts (0.1 + 0.2 cpu) do not fail by rounding.
 */
export const RELATIVE_TOLERANCE = 1e-9;

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
      this.slack[d] = RELATIVE_TOLERANCE * Math.max(1, cap === Infinity ? 1 : cap);
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
      let reason: string | undefined;
      for (let d = 0; d < size; d++) {
        const v = vec[dims[d]];
        if (typeof v !== 'number') continue;
        found++;
        if (!(v >= 0)) reason ??= `invalid demand ${dims[d]} ${v}`;
        else if (v > this.capacity[d] + this.slack[d])
          reason ??= `demand ${dims[d]} ${formatAmount(v)} exceeds pool capacity ${formatAmount(this.capacity[d])}`;
        else this.demand[row + d] = v;
      }
      let keys = 0;
      for (const _key in vec) keys++;
      if (keys !== found) reason ??= extraDimensionReason(vec, capacity);
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
      if (need > avail[d] + this.slack[d] && need > 0)
        parts.push(`${formatAmount(need)} ${this.dims[d]}, ${formatAmount(Math.max(0, avail[d]))} free`);
    }
    return parts.length === 0 ? 'fits now' : `needs ${parts.join('; ')}`;
  }
}

function extraDimensionReason(vec: ResourceVector, capacity: ResourceVector): string | undefined {
  for (const key in vec) {
    if (Object.prototype.hasOwnProperty.call(capacity, key) && typeof capacity[key] === 'number') continue;
    const v: unknown = vec[key];
    if (typeof v !== 'number' || !(v >= 0)) return `invalid demand ${key} ${String(v)}`;
    if (v > 0) return `demand ${key} ${formatAmount(v)} exceeds pool capacity 0`;
  }
  return undefined;
}

/** Integers as is, others to two decimals: `4`, `0.5`, `1.33`. */
export function formatAmount(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Math.round(x * 100) / 100);
}

/** A share (fraction of the pool) to two decimals: `0.50`. */
export function formatShare(x: number): string {
  return x === Infinity ? 'inf' : x.toFixed(2);
}
