import type { FairConfig } from './config';
import { DecisionBuilder } from './decision-builder';
import { IdHeap } from './heap';
import { priorityOrder } from './ordering';
import { formatShare, PoolView } from './resources';
import type { Decision, PoolSnapshot, SchedulingPolicy } from './types';

/**
 * Weighted Dominant Resource Fairness (Ghodsi et al., NSDI 2011) across the tenants that have
 * pending requests. A tenant's weighted dominant share is
 * `max over dimensions of (its running + admitted demand / capacity) / weight`.
 *
 * Progressive filling: repeatedly take the tenant with the lowest weighted dominant share (ties
 * to the tenant whose next request has waited longest, then by tenant name) and admit its next request (by priority desc, then submission time). When that
 * request does not fit, the tenant stops for this decision and its request *reserves* its demand,
 * so tenants with a higher share only get what is left after it: a big request of an
 * under-served tenant is not starved by a stream of small requests from richer tenants. (Pure
 * "skip to the next tenant whose request fits" is work-conserving but starves large requests.)
 * Shares in reasons are weighted.
 *
 * Unfit requests (demand beyond the pool) wait with their own reason and are skipped.
 */
export class FairPolicy implements SchedulingPolicy {
  readonly name = 'fair';
  /** @default {} (every tenant weighs 1) */
  readonly weights: Readonly<Record<string, number>>;

  constructor(config: FairConfig) {
    this.weights = { ...(config.weights ?? {}) };
  }

  decide(snapshot: PoolSnapshot): Decision {
    const pool = new PoolView(snapshot);
    const out = new DecisionBuilder();
    const pending = snapshot.pending;
    const size = pool.size;

    // Group pending requests by tenant, each group in (priority desc, submittedAt asc) order.
    const tenantIndex = new Map<string, number>();
    const names: string[] = [];
    const tenantOf = new Int32Array(pending.length);
    for (let i = 0; i < pending.length; i++) {
      const name = pending[i].tenant;
      let t = tenantIndex.get(name);
      if (t === undefined) {
        t = names.length;
        tenantIndex.set(name, t);
        names.push(name);
      }
      tenantOf[i] = t;
    }
    const tenants = names.length;
    const order = priorityOrder(pending);
    const start = new Int32Array(tenants + 1);
    for (let i = 0; i < pending.length; i++) start[tenantOf[i] + 1]++;
    for (let t = 0; t < tenants; t++) start[t + 1] += start[t];
    const queue = new Int32Array(pending.length);
    const fill = start.slice(0, tenants);
    for (let k = 0; k < order.length; k++) queue[fill[tenantOf[order[k]]]++] = order[k];

    // Usage and weighted dominant share per tenant.
    const used = new Float64Array(tenants * size);
    for (let j = 0; j < pool.running.length; j++) {
      const t = tenantIndex.get(pool.running[j].request.tenant);
      if (t === undefined) continue;
      for (let d = 0; d < size; d++) used[t * size + d] += pool.runningDemand[j * size + d];
    }
    const weight = new Float64Array(tenants);
    const share = new Float64Array(tenants);
    for (let t = 0; t < tenants; t++) {
      weight[t] = Object.prototype.hasOwnProperty.call(this.weights, names[t]) ? this.weights[names[t]] : 1;
      share[t] = pool.dominantShare(used, t * size) / weight[t];
    }
    // Ties in share go to the tenant whose next request has waited longest, then by name: a
    // fixed name order alone would let one tenant win every tie at share 0 and starve another.
    const rank = nameRanks(names);
    const headAt = new Float64Array(tenants);
    for (let t = 0; t < tenants; t++) headAt[t] = pending[queue[start[t]]].submittedAt;
    const heap = new IdHeap(
      (a, b) =>
        share[a] < share[b] ||
        (share[a] === share[b] && (headAt[a] < headAt[b] || (headAt[a] === headAt[b] && rank[a] < rank[b]))),
    );
    for (let t = 0; t < tenants; t++) heap.push(t);

    // Invariant: avail = free - admitted - reserved; settled = free - admitted.
    const avail = pool.free.slice();
    const settled = pool.free.slice();
    const next = start.slice(0, tenants); // position of each tenant's next request in `queue`
    const reasons: string[] = new Array<string>(tenants);
    let firstBlocked = -1;
    while (heap.size > 0) {
      const t = heap.pop();
      let pos = next[t];
      const end = start[t + 1];
      while (pos < end && pool.unfit[queue[pos]] === 1) pos++;
      next[t] = pos;
      if (pos === end) continue;
      const i = queue[pos];
      if (pool.fits(i, avail)) {
        pool.take(i, avail);
        pool.take(i, settled);
        out.admit.push(pending[i].id);
        for (let d = 0; d < size; d++) used[t * size + d] += pool.demand[i * size + d];
        share[t] = pool.dominantShare(used, t * size) / weight[t];
        next[t] = pos + 1;
        if (pos + 1 < end) {
          headAt[t] = pending[queue[pos + 1]].submittedAt;
          heap.push(t);
        }
        continue;
      }
      if (firstBlocked >= 0 && pool.fits(i, settled)) {
        // It would fit but for the reservation of a tenant with a lower share.
        const other = firstBlocked;
        const cmp = share[t] > share[other] ? '>' : '>=';
        reasons[t] =
          `tenant ${names[t]} dominant share ${formatShare(share[t])} ${cmp} tenant ${names[other]} ${formatShare(share[other])}, whose next request ${pending[queue[next[other]]].id} holds a reservation`;
      } else {
        reasons[t] =
          `tenant ${names[t]} (dominant share ${formatShare(share[t])}) next in line: ${pool.shortfall(i, settled)}`;
      }
      if (firstBlocked < 0) firstBlocked = t;
      pool.take(i, avail); // reserve
    }

    // Everything not admitted waits: the tenant's next request with its reason, the rest behind it.
    for (let t = 0; t < tenants; t++) {
      const head = next[t];
      const end = start[t + 1];
      const behind =
        head < end ? `behind ${pending[queue[head]].id}, tenant ${names[t]}'s next request (${reasons[t]})` : '';
      for (let pos = start[t]; pos < end; pos++) {
        const i = queue[pos];
        if (pool.unfit[i] === 1) out.wait(pending[i].id, pool.unfitReasons.get(i) as string);
        else if (pos === head) out.wait(pending[i].id, reasons[t]);
        else if (pos > head) out.wait(pending[i].id, behind);
      }
    }
    return out.build();
  }
}

/** Rank of each name in code-unit order (locale-independent, so deterministic everywhere). */
function nameRanks(names: readonly string[]): Int32Array {
  const sorted = names.map((_, t) => t).sort((a, b) => (names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0));
  const rank = new Int32Array(names.length);
  sorted.forEach((t, r) => (rank[t] = r));
  return rank;
}
