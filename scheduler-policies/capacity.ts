import type { CapacityConfig, CapacityQueueConfig } from './config';
import { DecisionBuilder } from './decision-builder';
import { IdHeap } from './heap';
import { priorityOrder } from './ordering';
import { formatAmount, formatShare, PoolView } from './resources';
import type { Decision, PoolSnapshot, SchedulingPolicy } from './types';

const EPSILON = 1e-9;
/** Queue a request without `queue` belongs to. */
export const DEFAULT_QUEUE = 'default';

/**
 * Capacity queues in the manner of YARN's capacity scheduler. Shares are fractions of the pool
 * in every dimension; a queue's use is its dominant share (`max over dimensions of
 * used / capacity`) counting running grants and this decision's admissions.
 *
 * One decision:
 * 1. Queues below their guarantee go first, most under-served (`use / guaranteed`) first. A queue
 *    admits its next request (priority desc, then submission time) when it fits in free capacity
 *    and keeps the queue within `max`. When it does not fit and preemption is on, preemptible
 *    running grants of queues above their guarantee are chosen, most recently granted first,
 *    skipping any that would take their queue below its guarantee or would not help; they are
 *    preempted only if together they make the request fit (then the smallest useful set is
 *    kept), and the request is admitted in the same decision. Otherwise the request reserves its
 *    demand so that elastic use cannot take it.
 * 2. Then every queue (at or above its guarantee) may use what is left, elastically, up to its
 *    `max`, lowest `use / guaranteed` first, one request at a time.
 *
 * Against preempt/admit ping-pong: victims are only running grants (never this decision's
 * admissions); a queue that lost grants to preemption admits nothing more in that decision; the
 * reservations of step 1 keep elastic use out of what an under-guarantee queue is waiting for;
 * and a victim queue never drops below its guarantee, so it can never in turn preempt back.
 *
 * A request naming an unknown queue, or without a queue when no `default` queue exists, waits
 * with that reason. A request larger than its queue's `max` share can never run and waits with
 * that reason without blocking its queue, like a request larger than the pool.
 */
export class CapacityPolicy implements SchedulingPolicy {
  readonly name = 'capacity';
  readonly queues: readonly CapacityQueueConfig[];
  /** @default true */
  readonly preemption: boolean;
  readonly #index: ReadonlyMap<string, number>;

  constructor(config: CapacityConfig) {
    this.queues = config.queues.map((q) => ({ ...q }));
    this.preemption = config.preemption ?? true;
    this.#index = new Map(this.queues.map((q, i) => [q.name, i]));
  }

  decide(snapshot: PoolSnapshot): Decision {
    return new CapacityDecision(this, new PoolView(snapshot), this.#index).run();
  }
}

/** The working state of one `CapacityPolicy.decide` call. */
class CapacityDecision {
  readonly out = new DecisionBuilder();
  readonly count: number;
  readonly guaranteed: Float64Array;
  readonly max: Float64Array;
  /** Row q: queue q's max share of each dimension (plus rounding slack). */
  readonly limit: Float64Array;
  /** Queue index per pending request, -1 when unknown. */
  readonly queueOf: Int32Array;
  /** Queue index per running grant, -1 when unknown. */
  readonly runningQueue: Int32Array;
  /** Per queue use vector (row q), and its dominant share; kept in step with admissions/preemptions. */
  readonly used: Float64Array;
  readonly share: Float64Array;
  /** Pending indices grouped by queue (`start[q] .. start[q + 1]`), each group in priority order. */
  readonly start: Int32Array;
  readonly members: Int32Array;
  /** Heap keys, fixed while a queue is in the heap. */
  readonly keyPhase: Uint8Array;
  readonly keyRatio: Float64Array;
  readonly keyShare: Float64Array;
  /** 1 for queues that lost grants to preemption in this decision. */
  readonly victimQueue: Uint8Array;
  readonly preempted: Uint8Array;
  /** Invariant: avail = free - admitted + preempted - reserved. */
  readonly avail: Float64Array;
  #victims: Int32Array | undefined;
  #scanFrom = 0;

  constructor(
    readonly policy: CapacityPolicy,
    readonly pool: PoolView,
    index: ReadonlyMap<string, number>,
  ) {
    const queues = policy.queues;
    const count = queues.length;
    const size = pool.size;
    this.count = count;
    this.guaranteed = Float64Array.from(queues, (q) => q.guaranteed);
    this.max = Float64Array.from(queues, (q) => q.max);
    this.limit = new Float64Array(count * size);
    for (let q = 0; q < count; q++)
      for (let d = 0; d < size; d++) this.limit[q * size + d] = this.max[q] * pool.capacity[d] + pool.slack[d];
    const pending = pool.pending;
    this.queueOf = new Int32Array(pending.length);
    let lastName: string | undefined;
    let lastIndex = -1;
    for (let i = 0; i < pending.length; i++) {
      const name = pending[i].queue ?? DEFAULT_QUEUE;
      if (name !== lastName) {
        lastName = name;
        lastIndex = index.get(name) ?? -1;
      }
      this.queueOf[i] = lastIndex;
    }
    this.runningQueue = new Int32Array(pool.running.length);
    this.used = new Float64Array(count * size);
    for (let j = 0; j < pool.running.length; j++) {
      const q = index.get(pool.running[j].request.queue ?? DEFAULT_QUEUE) ?? -1;
      this.runningQueue[j] = q;
      if (q >= 0) for (let d = 0; d < size; d++) this.used[q * size + d] += pool.runningDemand[j * size + d];
    }
    this.share = new Float64Array(count);
    for (let q = 0; q < count; q++) this.share[q] = pool.dominantShare(this.used, q * size);

    const order = priorityOrder(pending);
    this.start = new Int32Array(count + 1);
    for (let i = 0; i < pending.length; i++) if (this.queueOf[i] >= 0) this.start[this.queueOf[i] + 1]++;
    for (let q = 0; q < count; q++) this.start[q + 1] += this.start[q];
    this.members = new Int32Array(this.start[count]);
    const fill = this.start.slice(0, count);
    for (let k = 0; k < order.length; k++) {
      const q = this.queueOf[order[k]];
      if (q >= 0) this.members[fill[q]++] = order[k];
    }
    this.keyPhase = new Uint8Array(count);
    this.keyRatio = new Float64Array(count);
    this.keyShare = new Float64Array(count);
    this.victimQueue = new Uint8Array(count);
    this.preempted = new Uint8Array(pool.running.length);
    this.avail = pool.free.slice();
  }

  run(): Decision {
    const { pool, out, count, members, start } = this;
    const pending = pool.pending;
    const names = this.policy.queues.map((q) => q.name);
    const next = start.slice(0, count);
    const reasons: string[] = new Array<string>(count);
    const heap = new IdHeap((a, b) => this.#less(a, b));
    for (let q = 0; q < count; q++) if (start[q + 1] > start[q]) this.#push(heap, q);

    while (heap.size > 0) {
      const q = heap.pop();
      let pos = next[q];
      const end = start[q + 1];
      while (pos < end && this.#neverFits(members[pos], q)) pos++;
      next[q] = pos;
      if (pos === end) continue;
      if (this.victimQueue[q] === 1) {
        reasons[q] = `queue ${names[q]} gave capacity back by preemption in this decision`;
        continue;
      }
      const i = members[pos];
      const below = this.share[q] < this.guaranteed[q] - EPSILON;
      const uses = `uses ${formatShare(this.share[q])}`;
      if (this.#exceedsMax(q, i)) {
        reasons[q] =
          this.share[q] >= this.max[q] - EPSILON
            ? `queue ${names[q]} at max share ${formatShare(this.max[q])}`
            : `queue ${names[q]} would exceed max share ${formatShare(this.max[q])} (${uses})`;
        continue;
      }
      if (pool.fits(i, this.avail) || (below && this.policy.preemption && this.#preemptFor(q, i))) {
        this.#admit(q, i);
        next[q] = pos + 1;
        if (pos + 1 < end) this.#push(heap, q);
        continue;
      }
      const shortfall = pool.shortfall(i, this.avail);
      if (below) {
        const why = this.policy.preemption
          ? 'preempting over-guarantee grants would not free enough'
          : 'preemption is off';
        reasons[q] =
          `queue ${names[q]} below guarantee ${formatShare(this.guaranteed[q])} (${uses}): ${shortfall}; ${why}; capacity is reserved for it`;
        pool.take(i, this.avail); // reserve, so that elastic use cannot take it
      } else {
        reasons[q] =
          `queue ${names[q]} at or above guarantee ${formatShare(this.guaranteed[q])} (${uses}), elastic: ${shortfall}`;
      }
    }

    for (let q = 0; q < count; q++) {
      const head = next[q];
      const end = start[q + 1];
      const behind = head < end ? `behind ${pending[members[head]].id} in queue ${names[q]} (${reasons[q]})` : '';
      for (let pos = start[q]; pos < end; pos++) {
        const i = members[pos];
        const never = this.#neverReason(i, q);
        if (never !== undefined) out.wait(pending[i].id, never);
        else if (pos === head) out.wait(pending[i].id, reasons[q]);
        else if (pos > head) out.wait(pending[i].id, behind);
      }
    }
    const unknown = new Map<string | undefined, string>();
    for (let i = 0; i < pending.length; i++) {
      if (this.queueOf[i] >= 0) continue;
      if (pool.unfit[i] === 1) {
        out.wait(pending[i].id, pool.unfitReasons.get(i) as string);
        continue;
      }
      const name = pending[i].queue;
      let reason = unknown.get(name);
      if (reason === undefined) {
        reason =
          name === undefined ? `no queue given and no '${DEFAULT_QUEUE}' queue configured` : `unknown queue '${name}'`;
        unknown.set(name, reason);
      }
      out.wait(pending[i].id, reason);
    }
    return out.build();
  }

  #less(a: number, b: number): boolean {
    if (this.keyPhase[a] !== this.keyPhase[b]) return this.keyPhase[a] < this.keyPhase[b];
    if (this.keyRatio[a] !== this.keyRatio[b]) return this.keyRatio[a] < this.keyRatio[b];
    if (this.keyShare[a] !== this.keyShare[b]) return this.keyShare[a] < this.keyShare[b];
    return a < b;
  }

  #push(heap: IdHeap, q: number): void {
    const share = this.share[q];
    const g = this.guaranteed[q];
    this.keyPhase[q] = share < g - EPSILON ? 0 : 1;
    this.keyRatio[q] = g > 0 ? share / g : Infinity;
    this.keyShare[q] = share;
    heap.push(q);
  }

  #admit(q: number, i: number): void {
    const { pool, used } = this;
    const size = pool.size;
    pool.take(i, this.avail);
    for (let d = 0; d < size; d++) used[q * size + d] += pool.demand[i * size + d];
    this.share[q] = pool.dominantShare(used, q * size);
    this.out.admit.push(pool.pending[i].id);
  }

  #neverFits(i: number, q: number): boolean {
    return this.pool.unfit[i] === 1 || this.#aboveQueueMax(i, q) >= 0;
  }

  #neverReason(i: number, q: number): string | undefined {
    const pool = this.pool;
    if (pool.unfit[i] === 1) return pool.unfitReasons.get(i);
    const d = this.#aboveQueueMax(i, q);
    if (d < 0) return undefined;
    const limit = this.max[q] * pool.capacity[d];
    return `demand ${pool.dims[d]} ${formatAmount(pool.demand[i * pool.size + d])} exceeds queue ${this.policy.queues[q].name} max share ${formatShare(this.max[q])} (${formatAmount(limit)} ${pool.dims[d]})`;
  }

  /** First dimension where request `i` alone is larger than queue `q`'s max share, or -1. */
  #aboveQueueMax(i: number, q: number): number {
    const size = this.pool.size;
    const demand = this.pool.demand;
    const limit = this.limit;
    for (let d = 0; d < size; d++) if (demand[i * size + d] > limit[q * size + d]) return d;
    return -1;
  }

  #exceedsMax(q: number, i: number): boolean {
    const size = this.pool.size;
    const demand = this.pool.demand;
    for (let d = 0; d < size; d++) {
      const need = demand[i * size + d];
      if (need > 0 && this.used[q * size + d] + need > this.limit[q * size + d]) return true;
    }
    return false;
  }

  /** Running grants that may be preempted, most recently granted first (lazily, once). */
  #candidates(): Int32Array {
    if (this.#victims) return this.#victims;
    const running = this.pool.running;
    const list: number[] = [];
    for (let j = 0; j < running.length; j++)
      if (running[j].request.preemptible === true && this.runningQueue[j] >= 0) list.push(j);
    list.sort((a, b) => running[b].grantedAt - running[a].grantedAt || b - a);
    this.#victims = Int32Array.from(list);
    return this.#victims;
  }

  /**
   * Tries to make request `i` of under-guarantee queue `q` fit by preempting; on success the
   * victims are committed (preempted, their queues' use lowered, `avail` raised) and true is
   * returned; otherwise nothing changes.
   */
  #preemptFor(q: number, i: number): boolean {
    const { pool, used, share, guaranteed } = this;
    const size = pool.size;
    const freed = this.avail.slice();
    const chosen: number[] = [];
    const undo = (j: number): void => {
      const vq = this.runningQueue[j];
      for (let d = 0; d < size; d++) used[vq * size + d] += pool.runningDemand[j * size + d];
      share[vq] = pool.dominantShare(used, vq * size);
    };
    const candidates = this.#candidates();
    // Candidates before #scanFrom are all preempted already: skip them without looking.
    while (this.#scanFrom < candidates.length && this.preempted[candidates[this.#scanFrom]] === 1) this.#scanFrom++;
    for (let c = this.#scanFrom; c < candidates.length; c++) {
      const j = candidates[c];
      if (pool.fits(i, freed)) break;
      const vq = this.runningQueue[j];
      if (vq === q || this.preempted[j] === 1 || share[vq] <= guaranteed[vq] + EPSILON) continue;
      if (!this.#helps(i, j, freed)) continue;
      for (let d = 0; d < size; d++) used[vq * size + d] -= pool.runningDemand[j * size + d];
      const after = pool.dominantShare(used, vq * size);
      if (after < guaranteed[vq] - EPSILON) {
        for (let d = 0; d < size; d++) used[vq * size + d] += pool.runningDemand[j * size + d];
        continue;
      }
      share[vq] = after;
      chosen.push(j);
      for (let d = 0; d < size; d++) freed[d] += pool.runningDemand[j * size + d];
    }
    if (!pool.fits(i, freed)) {
      chosen.forEach(undo);
      return false;
    }
    // Keep the smallest useful set: drop, oldest first, any victim the request fits without.
    for (let k = chosen.length - 1; k >= 0; k--) {
      const j = chosen[k];
      for (let d = 0; d < size; d++) freed[d] -= pool.runningDemand[j * size + d];
      if (pool.fits(i, freed)) {
        undo(j);
        chosen.splice(k, 1);
      } else {
        for (let d = 0; d < size; d++) freed[d] += pool.runningDemand[j * size + d];
      }
    }
    for (const j of chosen) {
      this.preempted[j] = 1;
      this.victimQueue[this.runningQueue[j]] = 1;
      this.out.preempt.push(pool.running[j].request.id);
    }
    this.avail.set(freed);
    return true;
  }

  /** Whether running grant `j` frees some of a dimension where request `i` is still short. */
  #helps(i: number, j: number, avail: Float64Array): boolean {
    const pool = this.pool;
    const size = pool.size;
    for (let d = 0; d < size; d++) {
      if (
        pool.runningDemand[j * size + d] > 0 &&
        pool.demand[i * size + d] > 0 &&
        pool.demand[i * size + d] > avail[d] + pool.slack[d]
      )
        return true;
    }
    return false;
  }
}
