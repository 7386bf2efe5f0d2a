import { DecisionBuilder } from './decision-builder';
import { submissionOrder } from './ordering';
import { PoolView } from './resources';
import type { Decision, PoolSnapshot, SchedulingPolicy } from './types';

/**
 * Strict submission order (`submittedAt` ascending, then snapshot order): admits from the head
 * while the head fits; the first request that does not fit blocks everything behind it.
 *
 * A request that can never fit (its demand exceeds the pool's capacity in some dimension, or is
 * invalid) is not a head: it waits with its own reason and the queue moves past it, since
 * letting it block would stall the pool forever.
 */
export class FifoPolicy implements SchedulingPolicy {
  readonly name = 'fifo';

  decide(snapshot: PoolSnapshot): Decision {
    const pool = new PoolView(snapshot);
    const out = new DecisionBuilder();
    const pending = snapshot.pending;
    const avail = pool.free.slice();
    const order = submissionOrder(pending);
    // Invariant: undefined while every request so far was admitted or unfit; afterwards the one
    // reason shared by everything behind the blocked head.
    let behindHead: string | undefined;
    for (let k = 0; k < order.length; k++) {
      const i = order[k];
      const id = pending[i].id;
      if (pool.unfit[i] === 1) {
        out.wait(id, pool.unfitReasons.get(i) as string);
      } else if (behindHead !== undefined) {
        out.wait(id, behindHead);
      } else if (pool.fits(i, avail)) {
        pool.take(i, avail);
        out.admit.push(id);
      } else {
        const shortfall = pool.shortfall(i, avail);
        out.wait(id, `head of the queue: ${shortfall}`);
        behindHead = `behind head ${id}: ${shortfall}`;
      }
    }
    return out.build();
  }
}
