import type { AdmissionRequest, Grant, ResourceVector, SchedulingPolicy } from '../../scheduler-policies';
import { jain, waitStats, type WaitStats } from './metrics';
import type { TraceJob } from './trace';

/**
 * Discrete-event replay of a trace through one policy. Events are arrivals and completions
 * (at the job's real runtime, which the policy never sees; it sees only estimates). Events are
 * batched into decision ticks, as the pool scheduler batches signals: at the first tick at or
 * after an event, all events up to the tick are applied and `decide` runs once. Admitted jobs
 * start at the tick; preempted jobs lose their progress and go back to pending (keeping their
 * submission time).
 */

export interface SimOptions {
  /** Decision tick, ms. @default 10_000 */
  tickMs: number;
  /** Start and end of the measurement window (the arrival window), epoch ms. */
  windowStart: number;
  windowEnd: number;
  /** Stop this long after the window if work is still pending, ms. */
  drainLimitMs: number;
}

export interface SimResult {
  policy: string;
  decisions: number;
  /** Wall-clock seconds spent in `decide`, and in the whole replay. */
  decideSeconds: number;
  wallSeconds: number;
  /** Time-weighted mean use of each dimension over the window, fraction of capacity. */
  utilisation: Record<string, number>;
  /** Wait = total time pending (including after preemptions), seconds. */
  waitByTenant: Record<string, WaitStats>;
  waitByQueue: Record<string, WaitStats>;
  waitByKind: Record<string, WaitStats>;
  /** Mean bounded slowdown per tenant (batch jobs): max(1, (wait + runtime) / max(runtime, 60 s)). */
  slowdownByTenant: Record<string, number>;
  /** Jain's index over tenants of 1 / mean bounded slowdown (equal treatment in waiting). */
  jainSlowdown: number;
  /**
   * Jain's index over the dominant shares of the tenants that have work pending, averaged over
   * the time (in the window) when at least two tenants have work pending: what DRF equalises.
   */
  jainShare: number;
  preemptions: number;
  /** cpu-hours of work lost to preemption. */
  preemptedCpuHours: number;
  /** Jobs not finished by the drain limit (their wait counts up to the stop). */
  unfinished: number;
  maxPending: number;
}

interface Live {
  job: TraceJob;
  endAt: number;
}

export function simulate(
  policy: SchedulingPolicy,
  trace: readonly TraceJob[],
  capacity: ResourceVector,
  options: SimOptions,
): SimResult {
  const started = process.hrtime.bigint();
  let decideNs = 0n;
  const dims = Object.keys(capacity);
  const byId = new Map<string, TraceJob>(trace.map((j) => [j.request.id, j]));
  const waited = new Map<string, number>();
  const pendingSince = new Map<string, number>();
  const live = new Map<string, Live>();
  const heap = new EndHeap();
  let pending: AdmissionRequest[] = [];
  let running: Grant[] = [];
  const used = new Float64Array(dims.length);
  const area = new Float64Array(dims.length);
  let lastT = options.windowStart;
  let next = 0;
  let decisions = 0;
  let preemptions = 0;
  let preemptedCpuMs = 0;
  let maxPending = 0;
  let now = 0;

  // Per-tenant use and pending counts, for the share-fairness index.
  const tenantUse = new Map<string, Float64Array>();
  const tenantPending = new Map<string, number>();
  let shareJain = NaN; // over backlogged tenants at the last decision; NaN when fewer than two
  let shareArea = 0;
  let contendedMs = 0;

  const integrate = (t: number): void => {
    const from = Math.max(lastT, options.windowStart);
    const to = Math.min(t, options.windowEnd);
    if (to > from) {
      for (let d = 0; d < dims.length; d++) area[d] += used[d] * (to - from);
      if (!Number.isNaN(shareJain)) {
        shareArea += shareJain * (to - from);
        contendedMs += to - from;
      }
    }
    lastT = Math.max(lastT, t);
  };
  const addUse = (r: AdmissionRequest, sign: number): void => {
    let mine = tenantUse.get(r.tenant);
    if (!mine) tenantUse.set(r.tenant, (mine = new Float64Array(dims.length)));
    for (let d = 0; d < dims.length; d++) {
      const v = sign * (r.demand[dims[d]] ?? 0);
      used[d] += v;
      mine[d] += v;
    }
  };
  const addPending = (r: AdmissionRequest, delta: number): void => {
    tenantPending.set(r.tenant, (tenantPending.get(r.tenant) ?? 0) + delta);
  };
  const measureShares = (): void => {
    const shares: number[] = [];
    for (const [tenant, count] of tenantPending) {
      if (count <= 0) continue;
      const mine = tenantUse.get(tenant);
      let share = 0;
      if (mine) for (let d = 0; d < dims.length; d++) share = Math.max(share, mine[d] / capacity[dims[d]]);
      shares.push(share);
    }
    shareJain = shares.length >= 2 ? jain(shares) : NaN;
  };

  for (;;) {
    const nextArrival = next < trace.length ? trace[next].request.submittedAt : Infinity;
    const nextEnd = heap.peekEnd(live);
    const event = Math.min(nextArrival, nextEnd);
    if (event === Infinity) break;
    now = Math.ceil(event / options.tickMs) * options.tickMs;
    if (now > options.windowEnd + options.drainLimitMs) break;
    integrate(now);

    // Completions, then arrivals, up to this tick.
    let completed = false;
    for (let end = heap.peekEnd(live); end <= now; end = heap.peekEnd(live)) {
      const id = heap.pop();
      const l = live.get(id) as Live;
      live.delete(id);
      addUse(l.job.request, -1);
      completed = true;
    }
    if (completed) running = running.filter((g) => live.has(g.request.id));
    for (; next < trace.length && trace[next].request.submittedAt <= now; next++) {
      const r = trace[next].request;
      pending.push(r);
      addPending(r, 1);
      pendingSince.set(r.id, r.submittedAt);
    }
    if (pending.length === 0) {
      shareJain = NaN;
      continue;
    }
    maxPending = Math.max(maxPending, pending.length);

    const t0 = process.hrtime.bigint();
    const decision = policy.decide({ capacity, running, pending, now });
    decideNs += process.hrtime.bigint() - t0;
    decisions++;

    if (decision.preempt.length > 0) {
      const victims = new Set(decision.preempt);
      running = running.filter((g) => {
        if (!victims.has(g.request.id)) return true;
        live.delete(g.request.id); // its heap entry goes stale
        addUse(g.request, -1);
        preemptions++;
        preemptedCpuMs += (g.request.demand.cpu ?? 0) * (now - g.grantedAt);
        pending.push(g.request);
        addPending(g.request, 1);
        pendingSince.set(g.request.id, now);
        return false;
      });
    }
    if (decision.admit.length > 0) {
      const admitted = new Set(decision.admit);
      pending = pending.filter((r) => {
        if (!admitted.has(r.id)) return true;
        const job = byId.get(r.id) as TraceJob;
        waited.set(r.id, (waited.get(r.id) ?? 0) + now - (pendingSince.get(r.id) as number));
        pendingSince.delete(r.id);
        addPending(r, -1);
        running.push({ request: r, grantedAt: now });
        addUse(r, 1);
        const l: Live = { job, endAt: now + job.runtimeMs };
        live.set(r.id, l);
        heap.push(l.endAt, r.id);
        return false;
      });
    }
    measureShares();
  }
  integrate(options.windowEnd);

  // Jobs still pending at the stop: their wait so far (a lower bound).
  for (const r of pending)
    waited.set(r.id, (waited.get(r.id) ?? 0) + Math.max(0, now - (pendingSince.get(r.id) as number)));
  for (; next < trace.length; next++) waited.set(trace[next].request.id, 0);

  const group = (key: (j: TraceJob) => string): Map<string, number[]> => {
    const groups = new Map<string, number[]>();
    for (const j of trace) {
      const k = key(j);
      if (!groups.has(k)) groups.set(k, []);
      (groups.get(k) as number[]).push(waited.get(j.request.id) ?? 0);
    }
    return groups;
  };
  const stats = (groups: Map<string, number[]>): Record<string, WaitStats> =>
    Object.fromEntries([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, ws]) => [k, waitStats(ws)]));

  const slowdown = new Map<string, { sum: number; n: number }>();
  for (const j of trace) {
    if (j.request.kind !== 'batch') continue;
    const wait = waited.get(j.request.id) ?? 0;
    const s = Math.max(1, (wait + j.runtimeMs) / Math.max(j.runtimeMs, 60_000));
    const acc = slowdown.get(j.request.tenant) ?? { sum: 0, n: 0 };
    acc.sum += s;
    acc.n++;
    slowdown.set(j.request.tenant, acc);
  }
  const slowdownByTenant = Object.fromEntries(
    [...slowdown.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([t, a]) => [t, round(a.sum / a.n, 2)]),
  );
  const windowMs = options.windowEnd - options.windowStart;
  return {
    policy: policy.name,
    decisions,
    decideSeconds: round(Number(decideNs) / 1e9, 2),
    wallSeconds: round(Number(process.hrtime.bigint() - started) / 1e9, 2),
    utilisation: Object.fromEntries(dims.map((d, k) => [d, round(area[k] / windowMs / capacity[d], 3)])),
    waitByTenant: stats(group((j) => j.request.tenant)),
    waitByQueue: stats(group((j) => j.request.queue ?? 'default')),
    waitByKind: stats(group((j) => j.request.kind ?? 'batch')),
    slowdownByTenant,
    jainSlowdown: round(jain(Object.values(slowdownByTenant).map((s) => 1 / s)), 3),
    jainShare: round(contendedMs > 0 ? shareArea / contendedMs : 1, 3),
    preemptions,
    preemptedCpuHours: round(preemptedCpuMs / 3_600_000, 1),
    unfinished: pending.length + live.size + (trace.length - next),
    maxPending,
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Min-heap of (end time, id); entries whose job is no longer live (preempted) are skipped. */
class EndHeap {
  readonly #ends: number[] = [];
  readonly #ids: string[] = [];

  push(end: number, id: string): void {
    const ends = this.#ends;
    const ids = this.#ids;
    let i = ends.length;
    ends.push(end);
    ids.push(id);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (ends[p] <= end) break;
      ends[i] = ends[p];
      ids[i] = ids[p];
      i = p;
    }
    ends[i] = end;
    ids[i] = id;
  }

  /** Earliest end among live entries, dropping stale ones; Infinity when none. */
  peekEnd(live: Map<string, Live>): number {
    while (this.#ends.length > 0) {
      const l = live.get(this.#ids[0]);
      if (l && l.endAt === this.#ends[0]) return this.#ends[0];
      this.pop();
    }
    return Infinity;
  }

  pop(): string {
    const ends = this.#ends;
    const ids = this.#ids;
    const top = ids[0];
    const lastEnd = ends.pop() as number;
    const lastId = ids.pop() as string;
    const n = ends.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const c = l + 1 < n && ends[l + 1] < ends[l] ? l + 1 : l;
        if (ends[c] >= lastEnd) break;
        ends[i] = ends[c];
        ids[i] = ids[c];
        i = c;
      }
      ends[i] = lastEnd;
      ids[i] = lastId;
    }
    return top;
  }
}
