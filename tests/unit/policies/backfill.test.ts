import { createPolicy } from '../../../scheduler-policies';
import { deepFreeze, grant, MINUTE, req, snapshot, T0 } from './helpers';

const backfill = createPolicy({ kind: 'backfill' });
const fifo = createPolicy({ kind: 'fifo' });

describe('backfill policy (EASY)', () => {
  // Pool of 10 cpu at now = T0 + 10 min; 3 free. g2 (2 cpu) ends at T0 + 30 min, g1 (5 cpu) at
  // T0 + 60 min. The head needs 8: after g2 only 5 are free, after g1 10, so its reserved start
  // (shadow time) is T0 + 60 min, in 50 min, and 10 - 8 = 2 cpu are extra at that time.
  const now = T0 + 10 * MINUTE;
  const running = [
    grant(req('g1', { cpu: 5 }, { estimatedRuntimeMs: 60 * MINUTE }), T0),
    grant(req('g2', { cpu: 2 }, { estimatedRuntimeMs: 30 * MINUTE }), T0),
  ];
  const at = (k: number) => T0 + k;
  const pending = [
    req('head', { cpu: 8 }, { submittedAt: at(1), estimatedRuntimeMs: 20 * MINUTE }),
    req('no-estimate', { cpu: 1 }, { submittedAt: at(2), kind: 'streaming' }),
    req('long-in-extra', { cpu: 2 }, { submittedAt: at(3), estimatedRuntimeMs: 100 * MINUTE }),
    req('long', { cpu: 1 }, { submittedAt: at(4), estimatedRuntimeMs: 120 * MINUTE }),
    req('short', { cpu: 1 }, { submittedAt: at(5), estimatedRuntimeMs: 30 * MINUTE }),
    req('too-late', { cpu: 1 }, { submittedAt: at(6), estimatedRuntimeMs: 5 * MINUTE }),
  ];

  it('backfills only requests that cannot delay the head reservation', () => {
    const decision = backfill.decide(deepFreeze(snapshot({ cpu: 10 }, pending, running, now)));
    // long-in-extra ends after the shadow time but fits in the 2 extra cpu (using them up);
    // long would then delay the head; short ends (T0 + 40 min) before the shadow time.
    expect(decision.admit).toEqual(['long-in-extra', 'short']);
    const behind = 'behind head head (needs 8 cpu, 3 free; reserved to start in 3000 s)';
    expect(decision.waiting).toEqual({
      head: 'head of the queue: needs 8 cpu, 3 free; reserved to start in 3000 s',
      'no-estimate': `${behind}: no runtime estimate, so never backfilled`,
      long: `${behind}: would delay the head's reserved start`,
      'too-late': `${behind}: does not fit in what is free now`,
    });
    // Plain FIFO admits nothing behind the head.
    expect(fifo.decide(snapshot({ cpu: 10 }, pending, running, now)).admit).toEqual([]);
  });

  it('starts the head as soon as it fits and keeps going in order', () => {
    const later = snapshot({ cpu: 10 }, pending, [running[1]], T0 + 31 * MINUTE);
    expect(backfill.decide(later).admit[0]).toBe('head');
  });

  it('does not backfill past a head that can get no reservation', () => {
    // The only running grant has no estimate, so the head's start cannot be reserved.
    const forever = [grant(req('stream', { cpu: 8 }, { kind: 'streaming' }))];
    const snap = snapshot(
      { cpu: 10 },
      [
        req('h', { cpu: 4 }, { submittedAt: at(1) }),
        req('tiny', { cpu: 1 }, { submittedAt: at(2), estimatedRuntimeMs: 1 }),
      ],
      forever,
      now,
    );
    expect(backfill.decide(snap)).toEqual({
      admit: [],
      preempt: [],
      waiting: {
        h: 'head of the queue: needs 4 cpu, 2 free; no reserved start: running grants without a runtime estimate hold what it needs',
        tiny: 'behind head h, which has no reserved start (needs 4 cpu, 2 free); nothing is backfilled past it',
      },
    });
  });

  it("counts this decision's admissions when reserving", () => {
    // 'first' is admitted now and ends at now + 10 min; g (3 cpu) ends at T0 + 30 min. Free after
    // 'first': 3. The head needs 6: when 'first' ends, 7 are free, so shadow = now + 10 min, extra 1.
    const snap = snapshot(
      { cpu: 10 },
      [
        req('first', { cpu: 4 }, { submittedAt: at(1), estimatedRuntimeMs: 10 * MINUTE }),
        req('head', { cpu: 6 }, { submittedAt: at(2) }),
        req('fill', { cpu: 2 }, { submittedAt: at(3), estimatedRuntimeMs: 15 * MINUTE }),
        req('fill-small', { cpu: 1 }, { submittedAt: at(4), estimatedRuntimeMs: 60 * MINUTE }),
      ],
      [grant(req('g', { cpu: 3 }, { estimatedRuntimeMs: 30 * MINUTE }), T0)],
      now,
    );
    const decision = backfill.decide(snap);
    expect(decision.admit).toEqual(['first', 'fill-small']);
    expect(decision.waiting.head).toBe('head of the queue: needs 6 cpu, 3 free; reserved to start in 600 s');
    expect(decision.waiting.fill).toContain("would delay the head's reserved start");
  });

  it('treats a grant past its estimate as ending now', () => {
    const overdue = [grant(req('late', { cpu: 8 }, { estimatedRuntimeMs: MINUTE }), T0)];
    const snap = snapshot(
      { cpu: 10 },
      [
        req('head', { cpu: 6 }, { submittedAt: at(1) }),
        req('fill', { cpu: 2 }, { submittedAt: at(2), estimatedRuntimeMs: MINUTE }),
      ],
      overdue,
      now,
    );
    // Shadow = now with 10 - 6 = 4 extra: 'fill' fits in the extra resources.
    const decision = backfill.decide(snap);
    expect(decision.waiting.head).toBe('head of the queue: needs 6 cpu, 2 free; reserved to start in 0 s');
    expect(decision.admit).toEqual(['fill']);
  });

  it('never admits a request larger than the pool and does not make it the head', () => {
    const snap = snapshot({ cpu: 4 }, [
      req('huge', { cpu: 5 }, { submittedAt: at(1) }),
      req('ok', { cpu: 4 }, { submittedAt: at(2) }),
    ]);
    expect(backfill.decide(snap)).toEqual({
      admit: ['ok'],
      preempt: [],
      waiting: { huge: 'demand cpu 5 exceeds pool capacity 4' },
    });
  });
});
