import { DecisionBuilder } from './decision-builder';
import { submissionOrder } from './ordering';
import { formatAmount, PoolView } from './resources';
import type { AdmissionRequest, Decision, PoolSnapshot, SchedulingPolicy } from './types';

/**
 * FIFO with EASY backfilling (Lifka 1995; Slurm's `sched/backfill` in its simplest form).
 *
 * Requests are taken in submission order while they fit. The first that does not fit is the
 * head; it gets a reservation: its *shadow time* is the earliest end (`grantedAt +
 * estimatedRuntimeMs`, or `now + estimate` for this decision's admissions, overdue grants
 * counting as ending now) at which enough has been released for it, and the *extra* resources are
 * what will be free at that time beyond the head's demand. A later request is then started now
 * when it fits now and either ends (by its estimate) no later than the shadow time, or fits in the
 * extra resources (which it then uses up). So backfilling never delays the head's reserved start,
 * as long as estimates hold.
 *
 * A running grant without an estimate never ends for this calculation. When the head cannot get a
 * reservation at all (what it needs is held by such grants), nothing is backfilled past it:
 * without a reserved time there is no safe way to tell what would delay it. Requests without an
 * estimate are never backfilled. Unfit requests (demand beyond the pool) wait with their own
 * reason and are not heads.
 */
export class BackfillPolicy implements SchedulingPolicy {
  readonly name = 'backfill';

  decide(snapshot: PoolSnapshot): Decision {
    const pool = new PoolView(snapshot);
    const out = new DecisionBuilder();
    const pending = snapshot.pending;
    const now = snapshot.now;
    const avail = pool.free.slice();
    const order = submissionOrder(pending);
    const admitted: number[] = [];
    let k = 0;
    let head = -1;
    for (; k < order.length; k++) {
      const i = order[k];
      if (pool.unfit[i] === 1) {
        out.wait(pending[i].id, pool.unfitReasons.get(i) as string);
      } else if (pool.fits(i, avail)) {
        pool.take(i, avail);
        out.admit.push(pending[i].id);
        admitted.push(i);
      } else {
        head = i;
        break;
      }
    }
    if (head < 0) return out.build();

    const headId = pending[head].id;
    const shortfall = pool.shortfall(head, avail);
    const reservation = this.#reserve(pool, head, avail, admitted, now);
    if (reservation === undefined) {
      out.wait(
        headId,
        `head of the queue: ${shortfall}; no reserved start: running grants without a runtime estimate hold what it needs`,
      );
      const behind = `behind head ${headId}, which has no reserved start (${shortfall}); nothing is backfilled past it`;
      for (k++; k < order.length; k++) {
        const i = order[k];
        out.wait(pending[i].id, pool.unfit[i] === 1 ? (pool.unfitReasons.get(i) as string) : behind);
      }
      return out.build();
    }

    const { shadow, extra } = reservation;
    const at = `reserved to start in ${formatAmount((shadow - now) / 1000)} s`;
    out.wait(headId, `head of the queue: ${shortfall}; ${at}`);
    const noEstimate = `behind head ${headId} (${shortfall}; ${at}): no runtime estimate, so never backfilled`;
    const tooBig = `behind head ${headId} (${shortfall}; ${at}): does not fit in what is free now`;
    const wouldDelay = `behind head ${headId} (${shortfall}; ${at}): would delay the head's reserved start`;
    for (k++; k < order.length; k++) {
      const i = order[k];
      const id = pending[i].id;
      if (pool.unfit[i] === 1) {
        out.wait(id, pool.unfitReasons.get(i) as string);
        continue;
      }
      const estimate = estimateOf(pending[i]);
      if (estimate === undefined) {
        out.wait(id, noEstimate);
      } else if (!pool.fits(i, avail)) {
        out.wait(id, tooBig);
      } else if (now + estimate <= shadow) {
        pool.take(i, avail);
        out.admit.push(id);
      } else if (pool.fits(i, extra)) {
        pool.take(i, avail);
        pool.take(i, extra);
        out.admit.push(id);
      } else {
        out.wait(id, wouldDelay);
      }
    }
    return out.build();
  }

  /** The head's shadow time and the extra resources at that time, or undefined if it has none. */
  #reserve(
    pool: PoolView,
    head: number,
    avail: Float64Array,
    admitted: readonly number[],
    now: number,
  ): { shadow: number; extra: Float64Array } | undefined {
    const size = pool.size;
    // Ending grants as rows of (end, demand row in `rows`), finite ends only.
    const ends: number[] = [];
    const rows: Float64Array[] = [];
    const offsets: number[] = [];
    const running = pool.running;
    for (let j = 0; j < running.length; j++) {
      const estimate = estimateOf(running[j].request);
      if (estimate === undefined) continue;
      ends.push(Math.max(now, running[j].grantedAt + estimate));
      rows.push(pool.runningDemand);
      offsets.push(j * size);
    }
    for (const i of admitted) {
      const estimate = estimateOf(pool.pending[i]);
      if (estimate === undefined) continue;
      ends.push(now + estimate);
      rows.push(pool.demand);
      offsets.push(i * size);
    }
    const byEnd = ends.map((_, e) => e).sort((a, b) => ends[a] - ends[b] || a - b);
    const released = avail.slice();
    for (const e of byEnd) {
      const row = rows[e];
      for (let d = 0; d < size; d++) released[d] += row[offsets[e] + d];
      if (pool.fits(head, released)) {
        pool.take(head, released);
        return { shadow: ends[e], extra: released };
      }
    }
    return undefined;
  }
}

/** A usable runtime estimate (finite, >= 0), or undefined. */
function estimateOf(request: AdmissionRequest): number | undefined {
  const estimate = request.estimatedRuntimeMs;
  return typeof estimate === 'number' && estimate >= 0 && estimate < Infinity ? estimate : undefined;
}
