import { createPolicy } from '../../../scheduler-policies';
import { deepFreeze, grant, MINUTE, req, snapshot, T0 } from './helpers';

describe('priority policy', () => {
  const strict = createPolicy({ kind: 'priority' });

  it('admits higher priority first and breaks ties by submission time', () => {
    const low = req('low', { cpu: 4 }, { priority: 0, submittedAt: T0 });
    const highLate = req('high-late', { cpu: 4 }, { priority: 5, submittedAt: T0 + 2 });
    const highEarly = req('high-early', { cpu: 4 }, { priority: 5, submittedAt: T0 + 1 });
    const decision = strict.decide(deepFreeze(snapshot({ cpu: 10 }, [low, highLate, highEarly])));
    expect(decision.admit).toEqual(['high-early', 'high-late']);
    expect(decision.waiting).toEqual({ low: 'highest-priority waiting request (priority 0): needs 4 cpu, 2 free' });
  });

  it('keeps what a blocked higher-priority request needs, but lets lower ones use the rest', () => {
    const big = req('big', { cpu: 8, mem: 10 }, { priority: 5 });
    const small = req('small', { cpu: 2 }, { priority: 1 }); // would fit in the 4 free cpu
    const memOnly = req('mem-only', { cpu: 0, mem: 50 }, { priority: 1 });
    const snap = snapshot({ cpu: 10, mem: 100 }, [small, memOnly, big], [grant(req('g', { cpu: 6 }))]);
    const decision = strict.decide(snap);
    expect(decision.admit).toEqual(['mem-only']);
    expect(decision.waiting).toEqual({
      big: 'highest-priority waiting request (priority 5): needs 8 cpu, 4 free',
      small: 'behind higher-priority big (priority 5: needs 8 cpu, 4 free)',
    });
  });

  it('raises effective priority by agingPerMinute for each minute waited', () => {
    const old = req('old', { cpu: 6 }, { priority: 0, submittedAt: T0 });
    const fresh = req('fresh', { cpu: 6 }, { priority: 3, submittedAt: T0 + 10 * MINUTE });
    const snap = snapshot({ cpu: 8 }, [fresh, old], [], T0 + 10 * MINUTE);
    // Without aging the fresh priority-3 request wins.
    expect(strict.decide(snap).admit).toEqual(['fresh']);
    // With 0.5 per minute the old one has 0 + 0.5 * 10 = 5 > 3.
    const aging = createPolicy({ kind: 'priority', agingPerMinute: 0.5 });
    const decision = aging.decide(snap);
    expect(decision.admit).toEqual(['old']);
    expect(decision.waiting).toEqual({ fresh: 'highest-priority waiting request (priority 3): needs 6 cpu, 2 free' });
    // With 0.2 per minute the old one has 2 < 3, and the fresh one still wins.
    expect(createPolicy({ kind: 'priority', agingPerMinute: 0.2 }).decide(snap).admit).toEqual(['fresh']);
  });

  it('orders correctly with many requests and non-integer or unordered keys', () => {
    const pending = [
      req('c', { cpu: 1 }, { priority: 1.5, submittedAt: T0 + 3 }),
      req('a', { cpu: 1 }, { priority: 2, submittedAt: T0 + 9 }),
      req('d', { cpu: 1 }, { submittedAt: T0 + 1 }),
      req('b', { cpu: 1 }, { priority: 1.5, submittedAt: T0 + 2 }),
    ];
    expect(strict.decide(snapshot({ cpu: 3 }, pending)).admit).toEqual(['a', 'b', 'c']);
    const aged = createPolicy({ kind: 'priority', agingPerMinute: 1 });
    // Effective at now = T0 + 1 min: d ~1.0, b ~2.5, c ~2.5 (b is older, first), a ~3.0.
    expect(aged.decide(snapshot({ cpu: 4 }, pending)).admit).toEqual(['a', 'b', 'c', 'd']);
  });

  it('skips requests larger than the pool without reserving for them', () => {
    const huge = req('huge', { cpu: 64 }, { priority: 9 });
    const ok = req('ok', { cpu: 8 });
    const decision = strict.decide(snapshot({ cpu: 8 }, [huge, ok]));
    expect(decision.admit).toEqual(['ok']);
    expect(decision.waiting).toEqual({ huge: 'demand cpu 64 exceeds pool capacity 8' });
  });
});
