import { createPolicy, type AdmissionRequest } from '../../../scheduler-policies';
import { apply, deepFreeze, grant, req, snapshot, T0 } from './helpers';

/** `count` identical requests of one tenant, submitted one ms apart. */
function tasks(
  tenant: string,
  count: number,
  demand: Record<string, number>,
  extra: Partial<AdmissionRequest> = {},
): AdmissionRequest[] {
  return Array.from({ length: count }, (_, k) =>
    req(`${tenant}${k + 1}`, demand, { tenant, submittedAt: T0 + k, ...extra }),
  );
}

function countByTenant(ids: readonly string[], pending: readonly AdmissionRequest[]): Record<string, number> {
  const tenantOf = new Map(pending.map((r) => [r.id, r.tenant]));
  const counts: Record<string, number> = {};
  for (const id of ids) counts[tenantOf.get(id) as string] = (counts[tenantOf.get(id) as string] ?? 0) + 1;
  return counts;
}

describe('fair policy (weighted DRF)', () => {
  const fair = createPolicy({ kind: 'fair' });

  it('reproduces the worked example of the DRF paper: A runs 3 tasks, B runs 2', () => {
    // Ghodsi et al., NSDI 2011, §4: <9 CPU, 18 GB>; A's tasks need <1 CPU, 4 GB>, B's <3 CPU, 1 GB>.
    const pending = [...tasks('A', 10, { cpu: 1, memGb: 4 }), ...tasks('B', 10, { cpu: 3, memGb: 1 })];
    const decision = fair.decide(deepFreeze(snapshot({ cpu: 9, memGb: 18 }, pending)));
    // Progressive filling: A (0 -> 2/9), B (0 -> 1/3), A (-> 4/9), B (-> 2/3), A (-> 2/3), then
    // neither next task fits (9 CPU, 14 GB used): both end at a dominant share of 2/3.
    expect(decision.admit).toEqual(['A1', 'B1', 'A2', 'B2', 'A3']);
    expect(countByTenant(decision.admit, pending)).toEqual({ A: 3, B: 2 });
    expect(decision.waiting.A4).toBe('tenant A (dominant share 0.67) next in line: needs 1 cpu, 0 free');
    expect(decision.waiting.B3).toBe('tenant B (dominant share 0.67) next in line: needs 3 cpu, 0 free');
    expect(decision.waiting.A10).toBe(`behind A4, tenant A's next request (${decision.waiting.A4})`);
    expect(Object.keys(decision.waiting)).toHaveLength(15);
  });

  it('reaches the same allocation when tasks were admitted one decision at a time', () => {
    let snap = snapshot({ cpu: 9, memGb: 18 }, [
      ...tasks('A', 10, { cpu: 1, memGb: 4 }),
      ...tasks('B', 10, { cpu: 3, memGb: 1 }),
    ]);
    // Admit only the first decision's first choice each round, as if requests trickled in.
    for (let round = 0; round < 10; round++) {
      const { admit } = fair.decide(snap);
      if (admit.length === 0) break;
      snap = apply(snap, { admit: admit.slice(0, 1), preempt: [], waiting: {} });
    }
    expect(
      countByTenant(
        snap.running.map((g) => g.request.id),
        snap.running.map((g) => g.request),
      ),
    ).toEqual({ A: 3, B: 2 });
  });

  it('counts running grants in the shares', () => {
    // A already runs 3 tasks (share 2/3); B runs none, so B gets the free room first.
    const running = tasks('A', 3, { cpu: 1, memGb: 4 }).map((r) => grant(r));
    const pending = [
      ...tasks('A', 3, { cpu: 1, memGb: 4 }).map((r) => ({ ...r, id: `${r.id}'` })),
      ...tasks('B', 3, { cpu: 3, memGb: 1 }),
    ];
    const decision = fair.decide(snapshot({ cpu: 9, memGb: 18 }, pending, running));
    expect(decision.admit).toEqual(['B1', 'B2']);
    expect(decision.waiting["A1'"]).toBe('tenant A (dominant share 0.67) next in line: needs 1 cpu, 0 free');
  });

  it('holds back a richer tenant when a poorer tenant waits for room (no starvation of large requests)', () => {
    // a uses 6 of 12 cpu (0.50), b 3 (0.25); 3 free. b's next needs 4: it waits and reserves, so
    // a's 1-cpu request, which would fit, waits too.
    const running = [
      grant(req('a-run', { cpu: 6 }, { tenant: 'a' })),
      grant(req('b-run', { cpu: 3 }, { tenant: 'b' })),
    ];
    const pending = [req('a1', { cpu: 1 }, { tenant: 'a' }), req('b1', { cpu: 4 }, { tenant: 'b' })];
    const decision = fair.decide(snapshot({ cpu: 12 }, pending, running));
    expect(decision).toEqual({
      admit: [],
      preempt: [],
      waiting: {
        b1: 'tenant b (dominant share 0.25) next in line: needs 4 cpu, 3 free',
        a1: 'tenant a dominant share 0.50 > tenant b 0.25, whose next request b1 holds a reservation',
      },
    });
  });

  it('gives tenants shares in proportion to their weights', () => {
    const weighted = createPolicy({ kind: 'fair', weights: { a: 2 } });
    const pending = [...tasks('a', 12, { cpu: 1 }), ...tasks('b', 12, { cpu: 1 })];
    expect(countByTenant(weighted.decide(snapshot({ cpu: 12 }, pending)).admit, pending)).toEqual({ a: 8, b: 4 });
    expect(countByTenant(fair.decide(snapshot({ cpu: 12 }, pending)).admit, pending)).toEqual({ a: 6, b: 6 });
  });

  it('uses any number of dimensions: the dominant one decides', () => {
    // gpu is scarce: a's gpu tasks reach a high dominant share quickly, so b gets more cpu tasks.
    const pending = [...tasks('a', 4, { cpu: 1, gpu: 1 }), ...tasks('b', 8, { cpu: 1, mem: 1 })];
    const decision = fair.decide(snapshot({ cpu: 8, mem: 64, gpu: 4 }, pending));
    // a: 1 gpu of 4 = 0.25 per task; b: 1 cpu of 8 = 0.125 per task.
    expect(countByTenant(decision.admit, pending)).toEqual({ a: 3, b: 5 });
  });

  it('orders a tenant own requests by priority, then submission time', () => {
    const pending = [
      req('t-low', { cpu: 1 }, { tenant: 't', priority: 0, submittedAt: T0 }),
      req('t-high', { cpu: 1 }, { tenant: 't', priority: 2, submittedAt: T0 + 5 }),
    ];
    const decision = fair.decide(snapshot({ cpu: 1 }, pending));
    expect(decision.admit).toEqual(['t-high']);
    expect(decision.waiting['t-low']).toBe('tenant t (dominant share 1.00) next in line: needs 1 cpu, 0 free');
  });

  it('skips a request larger than the pool and says so', () => {
    const pending = [
      req('x-huge', { cpu: 100 }, { tenant: 'x', priority: 9 }),
      req('x-ok', { cpu: 1 }, { tenant: 'x' }),
    ];
    const decision = fair.decide(snapshot({ cpu: 4 }, pending));
    expect(decision.admit).toEqual(['x-ok']);
    expect(decision.waiting).toEqual({ 'x-huge': 'demand cpu 100 exceeds pool capacity 4' });
  });
});
