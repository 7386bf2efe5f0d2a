import { createPolicy, type AdmissionRequest, type PolicyConfig } from '../../../scheduler-policies';
import { apply, deepFreeze, grant, MINUTE, req, snapshot, T0 } from './helpers';

const QUEUES: PolicyConfig = {
  kind: 'capacity',
  queues: [
    { name: 'prod', guaranteed: 0.6, max: 1 },
    { name: 'dev', guaranteed: 0.4, max: 0.8 },
  ],
};

/** `count` 1-cpu requests of a queue, submitted one minute apart from `from`. */
function jobs(queue: string, count: number, extra: Partial<AdmissionRequest> = {}, from = T0): AdmissionRequest[] {
  return Array.from({ length: count }, (_, k) =>
    req(
      `${queue}${k + 1}`,
      { cpu: 1 },
      { tenant: queue, queue, submittedAt: from + k * MINUTE, preemptible: true, ...extra },
    ),
  );
}

describe('capacity policy', () => {
  const capacity = createPolicy(QUEUES);

  it('lets a queue use idle capacity up to its max share, then preempts back to the guarantees', () => {
    // 1. Only dev has work: it grows past its 0.4 guarantee into idle capacity, up to max 0.8.
    let snap = snapshot({ cpu: 10 }, jobs('dev', 10));
    const elastic = capacity.decide(snap);
    expect(elastic.admit).toEqual(['dev1', 'dev2', 'dev3', 'dev4', 'dev5', 'dev6', 'dev7', 'dev8']);
    expect(elastic.waiting).toEqual({
      dev9: 'queue dev at max share 0.80',
      dev10: 'behind dev9 in queue dev (queue dev at max share 0.80)',
    });
    snap = apply(snap, elastic);
    // Grants are stamped with distinct times so "most recently granted" is well defined.
    snap = {
      ...snap,
      running: snap.running.map((g, k) => ({ ...g, grantedAt: T0 + k * MINUTE })),
      now: T0 + 20 * MINUTE,
    };

    // 2. prod (guarantee 0.6) submits 6 jobs: 2 fit in free capacity, 4 take dev's most recent grants.
    snap = { ...snap, pending: [...snap.pending, ...jobs('prod', 6, {}, T0 + 15 * MINUTE)] };
    const reclaim = capacity.decide(deepFreeze(snap));
    expect(reclaim.admit).toEqual(['prod1', 'prod2', 'prod3', 'prod4', 'prod5', 'prod6']);
    expect(reclaim.preempt).toEqual(['dev8', 'dev7', 'dev6', 'dev5']);
    expect(reclaim.waiting.dev9).toBe('queue dev gave capacity back by preemption in this decision');

    // 3. Back at the guarantees (prod 6 = 0.6, dev 4 = 0.4), with dev's preempted jobs queued
    //    again: nothing moves any more.
    snap = apply(snap, reclaim, true);
    const settled = capacity.decide(snap);
    expect(settled.admit).toEqual([]);
    expect(settled.preempt).toEqual([]);
    expect(settled.waiting.dev5).toBe('queue dev at or above guarantee 0.40 (uses 0.40), elastic: needs 1 cpu, 0 free');
  });

  it('gives free capacity to the most under-served queue first', () => {
    const config: PolicyConfig = {
      kind: 'capacity',
      queues: [
        { name: 'a', guaranteed: 0.5, max: 1 },
        { name: 'b', guaranteed: 0.5, max: 1 },
      ],
    };
    // a uses 1 of its 5 (ratio 0.2), b uses 3 of 5 (0.6): a gets the first 2 free cpus, then b...
    const running = [
      grant(req('a0', { cpu: 1 }, { queue: 'a' })),
      ...[0, 1, 2].map((k) => grant(req(`b0${k}`, { cpu: 1 }, { queue: 'b' }))),
    ];
    const pending = [...jobs('b', 3), ...jobs('a', 5)];
    const decision = createPolicy(config).decide(snapshot({ cpu: 10 }, pending, running));
    expect(decision.admit).toEqual(['a1', 'a2', 'a3', 'b1', 'a4', 'b2']);
  });

  it('never takes a victim queue below its guarantee, and never preempts uselessly', () => {
    // dev holds 5 cpu in one 2-cpu and one 3-cpu grant (0.5 > guarantee 0.4); prod needs 2 more.
    // Preempting either would leave dev at 0.3 or 0.2 < 0.4, so nothing is preempted.
    const running = [
      grant(req('d-a', { cpu: 2 }, { queue: 'dev', preemptible: true }), T0),
      grant(req('d-b', { cpu: 3 }, { queue: 'dev', preemptible: true }), T0 + 1),
      grant(req('p-run', { cpu: 5 }, { queue: 'prod' })),
    ];
    const decision = capacity.decide(snapshot({ cpu: 10 }, [req('p1', { cpu: 1 }, { queue: 'prod' })], running));
    expect(decision.preempt).toEqual([]);
    expect(decision.waiting.p1).toBe(
      'queue prod below guarantee 0.60 (uses 0.50): needs 1 cpu, 0 free; preempting over-guarantee grants would not free enough; capacity is reserved for it',
    );

    // Non-preemptible grants are never victims; a victim that frees only memory is not taken either.
    const stuck = [
      grant(req('d-np', { cpu: 4 }, { queue: 'dev', preemptible: false }), T0 + 2),
      grant(req('d-mem', { cpu: 0, mem: 50 }, { queue: 'dev', preemptible: true }), T0 + 3),
      grant(req('p-run', { cpu: 6 }, { queue: 'prod' })),
    ];
    const none = capacity.decide(snapshot({ cpu: 10, mem: 100 }, [req('p2', { cpu: 1 }, { queue: 'prod' })], stuck));
    expect(none.preempt).toEqual([]);
    expect(none.admit).toEqual([]);
  });

  it('preempts only the grants needed, most recent first, across dimensions', () => {
    const running = [
      grant(req('d-old', { cpu: 2, mem: 2 }, { queue: 'dev', preemptible: true }), T0),
      grant(req('d-mid', { cpu: 2, mem: 2 }, { queue: 'dev', preemptible: true }), T0 + 1),
      grant(req('d-new', { cpu: 1, mem: 0 }, { queue: 'dev', preemptible: true }), T0 + 2),
      grant(req('d-keep', { cpu: 3, mem: 3 }, { queue: 'dev' }), T0),
    ];
    // Free: 2 cpu, 3 mem. p1 needs 4 cpu, 2 mem: d-new (1 cpu) alone is not enough, d-new + d-mid
    // is (5 cpu); pruning then finds d-mid alone suffices (4 cpu), so only d-mid goes.
    const decision = capacity.decide(
      snapshot({ cpu: 10, mem: 10 }, [req('p1', { cpu: 4, mem: 2 }, { queue: 'prod' })], running),
    );
    expect(decision.admit).toEqual(['p1']);
    expect(decision.preempt).toEqual(['d-mid']);
  });

  it('waits without preempting when preemption is off, reserving what it waits for', () => {
    const noPreempt = createPolicy({ ...QUEUES, preemption: false } as PolicyConfig);
    const running = [...Array(9)].map((_, k) => grant(req(`d${k}`, { cpu: 1 }, { queue: 'dev', preemptible: true })));
    running.splice(0, 4, grant(req('p-run', { cpu: 4 }, { queue: 'prod' })));
    // 1 free; prod (0.4 < 0.6) needs 2: it waits and reserves, so dev cannot take the free cpu.
    const pending = [
      req('p1', { cpu: 2 }, { queue: 'prod', submittedAt: T0 + 1 }),
      req('dx', { cpu: 1 }, { queue: 'dev' }),
    ];
    const decision = noPreempt.decide(snapshot({ cpu: 10 }, pending, running));
    expect(decision).toEqual({
      admit: [],
      preempt: [],
      waiting: {
        p1: 'queue prod below guarantee 0.60 (uses 0.40): needs 2 cpu, 1 free; preemption is off; capacity is reserved for it',
        dx: 'queue dev at or above guarantee 0.40 (uses 0.50), elastic: needs 1 cpu, 0 free',
      },
    });
  });

  it('explains unknown queues, a missing default queue, and requests larger than their queue max', () => {
    const pending = [
      req('lost', { cpu: 1 }, { queue: 'nope' }),
      req('anon', { cpu: 1 }),
      req('too-big', { cpu: 9 }, { queue: 'dev', submittedAt: T0 }),
      req('fine', { cpu: 2 }, { queue: 'dev', submittedAt: T0 + 1 }),
    ];
    const decision = capacity.decide(snapshot({ cpu: 10 }, pending));
    expect(decision.admit).toEqual(['fine']);
    expect(decision.waiting).toEqual({
      lost: "unknown queue 'nope'",
      anon: "no queue given and no 'default' queue configured",
      'too-big': 'demand cpu 9 exceeds queue dev max share 0.80 (8 cpu)',
    });
    const withDefault = createPolicy({ kind: 'capacity', queues: [{ name: 'default', guaranteed: 1, max: 1 }] });
    expect(withDefault.decide(snapshot({ cpu: 10 }, [req('anon', { cpu: 1 })])).admit).toEqual(['anon']);
  });

  it('stops a queue at its max share even with free capacity', () => {
    const running = [grant(req('d', { cpu: 7 }, { queue: 'dev' }))];
    const decision = capacity.decide(snapshot({ cpu: 10 }, [req('d2', { cpu: 2 }, { queue: 'dev' })], running));
    expect(decision.waiting).toEqual({ d2: 'queue dev would exceed max share 0.80 (uses 0.70)' });
  });
});
