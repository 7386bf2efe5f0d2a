import fc from 'fast-check';
import type {
  AdmissionRequest,
  Decision,
  Grant,
  PolicyConfig,
  PoolSnapshot,
  ResourceVector,
} from '../../../scheduler-policies';

export const T0 = 1_700_000_000_000;
export const MINUTE = 60_000;

/** A pending request with sensible defaults. */
export function req(id: string, demand: ResourceVector, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return { id, tenant: 'a', demand, submittedAt: T0, ...extra };
}

export function grant(request: AdmissionRequest, grantedAt = T0): Grant {
  return { request, grantedAt };
}

export function snapshot(
  capacity: ResourceVector,
  pending: AdmissionRequest[],
  running: Grant[] = [],
  now = T0 + MINUTE,
): PoolSnapshot {
  return { capacity, pending, running, now };
}

/** Recursively freezes a value so that any mutation by `decide` throws (tests run in strict mode). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

/** Total demand of `grants` per dimension of `capacity` (and any other dimension they use). */
export function usage(grants: readonly Grant[]): ResourceVector {
  const used: ResourceVector = {};
  for (const g of grants) for (const [dim, v] of Object.entries(g.request.demand)) used[dim] = (used[dim] ?? 0) + v;
  return used;
}

/** The snapshot after `decision`: admitted move to running (granted now), preempted leave. */
export function apply(snap: PoolSnapshot, decision: Decision, requeuePreempted = false): PoolSnapshot {
  const admitted = new Set(decision.admit);
  const preempted = new Set(decision.preempt);
  const running = snap.running.filter((g) => !preempted.has(g.request.id));
  for (const r of snap.pending) if (admitted.has(r.id)) running.push({ request: r, grantedAt: snap.now });
  const pending = snap.pending.filter((r) => !admitted.has(r.id));
  if (requeuePreempted) for (const g of snap.running) if (preempted.has(g.request.id)) pending.push(g.request);
  return { ...snap, running, pending };
}

/** Dimensions where `used` exceeds `capacity` (a missing capacity is 0), with a 1e-9 relative slack. */
export function overCapacity(capacity: ResourceVector, used: ResourceVector): string[] {
  return Object.entries(used)
    .filter(([dim, v]) => v > (capacity[dim] ?? 0) + 1e-9 * Math.max(1, capacity[dim] ?? 0))
    .map(([dim]) => dim);
}

export const ALL_POLICIES: readonly PolicyConfig[] = [
  { kind: 'fifo' },
  { kind: 'priority' },
  { kind: 'priority', agingPerMinute: 1 },
  { kind: 'fair' },
  { kind: 'fair', weights: { a: 2, c: 0.5 } },
  {
    kind: 'capacity',
    queues: [
      { name: 'prod', guaranteed: 0.5, max: 1 },
      { name: 'dev', guaranteed: 0.3, max: 0.6 },
      { name: 'default', guaranteed: 0.2, max: 0.4 },
    ],
  },
  {
    kind: 'capacity',
    preemption: false,
    queues: [
      { name: 'q1', guaranteed: 0.5, max: 0.7 },
      { name: 'q2', guaranteed: 0.5, max: 1 },
    ],
  },
  { kind: 'backfill' },
];

const demandArb = fc.record(
  { cpu: fc.integer({ min: 0, max: 12 }), mem: fc.integer({ min: 0, max: 40 }), gpu: fc.integer({ min: 0, max: 3 }) },
  { requiredKeys: ['cpu'] },
);

type RequestArbValue = typeof requestArb extends fc.Arbitrary<infer V> ? V : never;

const requestArb = fc.record({
  tenant: fc.constantFrom('a', 'b', 'c', 'd'),
  queue: fc.option(fc.constantFrom('prod', 'dev', 'default', 'q1', 'q2', 'nope'), { nil: undefined }),
  priority: fc.option(fc.integer({ min: -2, max: 5 }), { nil: undefined }),
  demand: demandArb,
  age: fc.integer({ min: 0, max: 30 * MINUTE }),
  preemptible: fc.boolean(),
  estimatedRuntimeMs: fc.option(fc.integer({ min: 0, max: 60 * MINUTE }), { nil: undefined }),
});

/**
 * Random snapshots: 2–3 dimensions (sometimes a demand names one the pool lacks), running grants
 * that may already over-commit the pool (a pool that was resized down), unique ids.
 */
export const snapshotArb: fc.Arbitrary<PoolSnapshot> = fc
  .record({
    capacity: fc.record({ cpu: fc.integer({ min: 0, max: 32 }), mem: fc.integer({ min: 0, max: 128 }) }),
    withGpu: fc.boolean(),
    gpus: fc.integer({ min: 0, max: 4 }),
    running: fc.array(fc.tuple(requestArb, fc.integer({ min: 0, max: 90 * MINUTE })), { maxLength: 12 }),
    pending: fc.array(requestArb, { maxLength: 25 }),
  })
  .map(({ capacity, withGpu, gpus, running, pending }) => {
    const now = T0 + 60 * MINUTE;
    const toRequest = (r: RequestArbValue, id: string): AdmissionRequest => {
      const { age, ...rest } = r;
      const request: AdmissionRequest = { id, ...rest, submittedAt: now - age };
      for (const key of Object.keys(request) as (keyof AdmissionRequest)[])
        if (request[key] === undefined) delete request[key];
      return request;
    };
    return {
      capacity: withGpu ? { ...capacity, gpu: gpus } : capacity,
      now,
      running: running.map(([r, age], j) => ({ request: toRequest(r, `run${j}`), grantedAt: now - age })),
      pending: pending.map((r, i) => toRequest(r, `req${i}`)),
    };
  });

/** Drops running grants (in order) that do not fit, so the snapshot starts within capacity. */
export function withinCapacity(snap: PoolSnapshot): PoolSnapshot {
  const kept: Grant[] = [];
  for (const g of snap.running) if (overCapacity(snap.capacity, usage([...kept, g])).length === 0) kept.push(g);
  return { ...snap, running: kept };
}

/**
 * Snapshots that exercise capacity queues: a busy pool whose running grants are mostly in one
 * "hot" queue (so it is above its guarantee and others are below), mixed preemptible, and
 * pending work for every queue.
 */
export function capacitySnapshotArb(queues: readonly string[]): fc.Arbitrary<PoolSnapshot> {
  const item = fc.record({
    queue: fc.constantFrom(...queues),
    tenant: fc.constantFrom('a', 'b', 'c'),
    priority: fc.integer({ min: 0, max: 3 }),
    cpu: fc.integer({ min: 1, max: 8 }),
    mem: fc.integer({ min: 0, max: 24 }),
    age: fc.integer({ min: 0, max: 60 * MINUTE }),
    preemptible: fc.boolean(),
    hot: fc.boolean(),
  });
  return fc
    .record({
      hot: fc.constantFrom(...queues), // most running grants are in this queue, elastically
      cpu: fc.integer({ min: 8, max: 32 }),
      mem: fc.integer({ min: 16, max: 128 }),
      running: fc.array(item, { minLength: 8, maxLength: 40 }),
      pending: fc.array(item, { maxLength: 30 }),
    })
    .map(({ hot, cpu, mem, running, pending }) => {
      const now = T0 + 60 * MINUTE;
      const request = (x: (typeof running)[number], id: string, biased = false): AdmissionRequest => ({
        id,
        tenant: x.tenant,
        queue: biased && x.hot ? hot : x.queue,
        priority: x.priority,
        demand: { cpu: x.cpu, mem: x.mem },
        submittedAt: now - x.age,
        preemptible: x.preemptible || x.cpu % 2 === 0,
      });
      return withinCapacity({
        capacity: { cpu, mem },
        now,
        running: running.map((x, j) => ({ request: request(x, `run${j}`, true), grantedAt: now - x.age })),
        pending: pending.map((x, i) => request(x, `req${i}`)),
      });
    });
}

/** A job of the step simulation: arrives at `step`, runs `duration` steps once admitted. */
export interface SimJob {
  request: AdmissionRequest;
  step: number;
  duration: number;
}

export interface SimResult {
  /** Step at which each job was admitted. */
  admittedAt: Map<string, number>;
  /** Ids still pending when the simulation stopped. */
  waiting: string[];
  steps: number;
}

/**
 * Replays `jobs` through `policy`, one decision per step (a step is one minute of `now`): finished
 * grants leave, arrivals join, the decision is applied (preempted requests go back to pending).
 * Stops after `maxSteps`, or once every job has arrived and none is pending.
 */
export function simulate(
  policy: { decide: (s: PoolSnapshot) => Decision },
  capacity: ResourceVector,
  jobs: readonly SimJob[],
  maxSteps: number,
): SimResult {
  const byStep = [...jobs].sort((x, y) => x.step - y.step);
  const duration = new Map(jobs.map((j) => [j.request.id, j.duration]));
  const endsAt = new Map<string, number>();
  const admittedAt = new Map<string, number>();
  let running: Grant[] = [];
  let pending: AdmissionRequest[] = [];
  let next = 0;
  let step = 0;
  for (; step < maxSteps; step++) {
    const now = T0 + step * MINUTE;
    running = running.filter((g) => (endsAt.get(g.request.id) as number) > step);
    while (next < byStep.length && byStep[next].step <= step) {
      pending.push({ ...byStep[next].request, submittedAt: T0 + byStep[next].step * MINUTE });
      next++;
    }
    if (next === byStep.length && pending.length === 0) break;
    const decision = policy.decide({ capacity, running, pending, now });
    const after = apply({ capacity, running, pending, now }, decision, true);
    for (const id of decision.admit) {
      if (!admittedAt.has(id)) admittedAt.set(id, step);
      endsAt.set(id, step + (duration.get(id) as number));
    }
    running = after.running;
    pending = after.pending;
  }
  return { admittedAt, waiting: pending.map((r) => r.id), steps: step };
}
