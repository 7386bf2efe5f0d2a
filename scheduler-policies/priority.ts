import type { PriorityConfig } from './config';
import { DecisionBuilder } from './decision-builder';
import { agedPriorityOrder, priorityOrder } from './ordering';
import { formatAmount, PoolView } from './resources';
import type { Decision, PoolSnapshot, SchedulingPolicy } from './types';

const MS_PER_MINUTE = 60_000;

/**
 * Higher effective priority first, ties by submission time, where
 * `effective = priority + agingPerMinute * minutesWaited` (waiting time counted from
 * `submittedAt` to the snapshot's `now`, never negative).
 *
 * Requests that do not fit are not skipped for free: walking in effective-priority order, a
 * request that does not fit *reserves* its demand (the remaining capacity goes down by it, possibly
 * below zero), and later requests are admitted only if they fit in what is left after every
 * higher-priority request's reservation. So a lower-priority request never takes a resource a
 * higher-priority waiting request needs, which keeps a large high-priority request from being
 * starved by a stream of small lower ones; yet lower-priority work still uses capacity that no
 * higher request can use (e.g. memory while the head waits for cpu). Combined with aging, every
 * request eventually becomes the highest and is admitted once running grants release enough
 * (no starvation).
 *
 * Unfit requests (demand beyond the pool) reserve nothing and wait with their own reason.
 */
export class PriorityPolicy implements SchedulingPolicy {
  readonly name = 'priority';
  /** @default 0 */
  readonly agingPerMinute: number;

  constructor(config: PriorityConfig) {
    this.agingPerMinute = config.agingPerMinute ?? 0;
  }

  decide(snapshot: PoolSnapshot): Decision {
    const pool = new PoolView(snapshot);
    const out = new DecisionBuilder();
    const pending = snapshot.pending;
    const effective = this.agingPerMinute > 0 ? this.#effective(pending, snapshot.now) : undefined;
    const order = effective ? agedPriorityOrder(pending, effective) : priorityOrder(pending);
    // Invariant: avail = free - admitted demand - reserved demand of every blocked request so far.
    const avail = pool.free.slice();
    let behind: string | undefined;
    for (let k = 0; k < order.length; k++) {
      const i = order[k];
      const id = pending[i].id;
      if (pool.unfit[i] === 1) {
        out.wait(id, pool.unfitReasons.get(i) as string);
        continue;
      }
      const fits = pool.fits(i, avail);
      if (fits) {
        out.admit.push(id);
      } else if (behind === undefined) {
        const prio = effective ? effective[i] : (pending[i].priority ?? 0);
        const shortfall = pool.shortfall(i, avail);
        out.wait(id, `highest-priority waiting request (priority ${formatAmount(prio)}): ${shortfall}`);
        behind = `behind higher-priority ${id} (priority ${formatAmount(prio)}: ${shortfall})`;
      } else {
        out.wait(id, behind);
      }
      pool.take(i, avail); // admitted, or reserved when it did not fit
    }
    return out.build();
  }

  #effective(pending: PoolSnapshot['pending'], now: number): Float64Array {
    const effective = new Float64Array(pending.length);
    const rate = this.agingPerMinute / MS_PER_MINUTE;
    for (let i = 0; i < pending.length; i++) {
      const r = pending[i];
      const base = r.priority ?? 0;
      effective[i] = (base === base ? base : 0) + rate * Math.max(0, now - r.submittedAt);
    }
    return effective;
  }
}
