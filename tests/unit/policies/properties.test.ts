import fc from 'fast-check';
import { createPolicy, type PoolSnapshot } from '../../../scheduler-policies';
import {
  ALL_POLICIES,
  apply,
  capacitySnapshotArb,
  deepFreeze,
  overCapacity,
  snapshotArb,
  usage,
  withinCapacity,
} from './helpers';

const RUNS = 300;

describe.each(ALL_POLICIES.map((config) => [JSON.stringify(config), config] as const))(
  'properties of %s',
  (_name, config) => {
    const policy = createPolicy(config);

    it('applying a decision never exceeds capacity in any dimension', () => {
      fc.assert(
        fc.property(snapshotArb.map(withinCapacity), (snap) => {
          const after = apply(snap, policy.decide(snap));
          expect(overCapacity(snap.capacity, usage(after.running))).toEqual([]);
        }),
        { numRuns: RUNS },
      );
    });

    it('on an over-committed pool, admits nothing into a dimension that stays over capacity', () => {
      fc.assert(
        fc.property(snapshotArb, (snap) => {
          const decision = policy.decide(snap);
          const after = apply(snap, decision);
          const admitted = usage(after.running.filter((g) => decision.admit.includes(g.request.id)));
          const over = overCapacity(snap.capacity, usage(after.running));
          expect(over.filter((dim) => (admitted[dim] ?? 0) > 0)).toEqual([]);
        }),
        { numRuns: RUNS },
      );
    });

    it('accounts for every pending id exactly once and refers only to ids in the snapshot', () => {
      fc.assert(
        fc.property(snapshotArb, (snap) => {
          const { admit, preempt, waiting } = policy.decide(snap);
          const pendingIds = snap.pending.map((r) => r.id);
          const runningIds = new Set(snap.running.map((g) => g.request.id));
          expect(new Set(admit).size).toBe(admit.length);
          expect(new Set(preempt).size).toBe(preempt.length);
          expect(admit.every((id) => pendingIds.includes(id))).toBe(true);
          expect(preempt.every((id) => runningIds.has(id))).toBe(true);
          expect([...admit, ...Object.keys(waiting)].sort()).toEqual([...pendingIds].sort());
          expect(Object.values(waiting).every((reason) => typeof reason === 'string' && reason.length > 0)).toBe(true);
          if (config.kind !== 'capacity') expect(preempt).toEqual([]);
        }),
        { numRuns: RUNS },
      );
    });

    it('never admits a request that exceeds the pool, and says so', () => {
      fc.assert(
        fc.property(snapshotArb, (snap) => {
          const { admit, waiting } = policy.decide(snap);
          for (const r of snap.pending) {
            const over = Object.entries(r.demand).find(([dim, v]) => v > (snap.capacity[dim] ?? 0));
            if (!over) continue;
            expect(admit).not.toContain(r.id);
            expect(waiting[r.id]).toMatch(/exceeds (pool capacity|queue)/);
          }
        }),
        { numRuns: RUNS },
      );
    });

    it('is deterministic and leaves its input untouched', () => {
      fc.assert(
        fc.property(snapshotArb, (snap) => {
          const before = JSON.stringify(snap);
          const copy = structuredClone(snap) as PoolSnapshot;
          const first = policy.decide(deepFreeze(snap)); // a frozen input throws on any write
          expect(JSON.stringify(snap)).toBe(before);
          expect(policy.decide(copy)).toEqual(first);
          expect(createPolicy(config).decide(copy)).toEqual(first);
        }),
        { numRuns: RUNS },
      );
    });
  },
);

describe('capacity policy over repeated decisions', () => {
  const configs = ALL_POLICIES.filter((c) => c.kind === 'capacity');

  it.each(configs.map((c) => [JSON.stringify(c), c] as const))(
    'settles without preempt/admit ping-pong: %s',
    (_name, config) => {
      const policy = createPolicy(config);
      const names = config.kind === 'capacity' ? config.queues.map((q) => q.name) : [];
      let preempting = 0;
      fc.assert(
        fc.property(
          fc.oneof(
            { arbitrary: capacitySnapshotArb(names), weight: 4 },
            { arbitrary: snapshotArb.map(withinCapacity), weight: 1 },
          ),
          (initial) => {
            // No arrivals and no completions; preempted requests go back to pending, the harshest case.
            let snap = initial;
            const preemptedOnce = new Set<string>();
            const limit = snap.pending.length + snap.running.length + 2;
            for (let round = 0; ; round++) {
              expect(round).toBeLessThanOrEqual(limit);
              const decision = policy.decide(snap);
              for (const id of decision.preempt) {
                expect(preemptedOnce.has(id)).toBe(false); // no request is preempted twice
                preemptedOnce.add(id);
              }
              if (decision.admit.length === 0 && decision.preempt.length === 0) break;
              snap = { ...apply(snap, decision, true), now: snap.now + 1 };
              expect(overCapacity(snap.capacity, usage(snap.running))).toEqual([]);
            }
            if (preemptedOnce.size > 0) preempting++;
          },
        ),
        { numRuns: RUNS },
      );
      // The generator must actually exercise preemption when it is on.
      if (config.kind === 'capacity' && config.preemption !== false) expect(preempting).toBeGreaterThan(RUNS / 20);
    },
  );
});
