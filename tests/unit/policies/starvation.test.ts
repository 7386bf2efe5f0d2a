import fc from 'fast-check';
import { createPolicy, type PolicyConfig } from '../../../scheduler-policies';
import { seededRandom } from '../../../bench/sim/random';
import { req, simulate, type SimJob } from './helpers';

const CAPACITY = { cpu: 8, mem: 64 };
const ARRIVAL_STEPS = 300;
/** A request waiting "forever" would wait until arrivals stop: up to 300 steps. */
const MAX_WAIT = 200;

/**
 * A random workload at a sustainable load (30–55% of the pool's cpu on average, so every policy
 * can keep up): 2–4 tenants, priorities 0..3, mostly 1–2 cpu jobs and up to 30% jobs of 5–8 cpu
 * (which small jobs could crowd out forever), 1–5 steps long, Poisson arrivals.
 */
const workloadArb = fc
  .record({
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    load: fc.double({ min: 0.3, max: 0.55, noNaN: true }),
    big: fc.double({ min: 0, max: 0.3, noNaN: true }),
    tenants: fc.integer({ min: 2, max: 4 }),
    priorities: fc.integer({ min: 1, max: 4 }),
  })
  .map(({ seed, load, big, tenants, priorities }) => {
    const random = seededRandom(seed);
    const meanCpuSteps = ((1 - big) * 1.5 + big * 6.5) * 3;
    const rate = (load * CAPACITY.cpu) / meanCpuSteps;
    const jobs: SimJob[] = [];
    for (let step = 0; step < ARRIVAL_STEPS; step++) {
      // Poisson(rate) arrivals by Knuth's method.
      for (let p = random(), limit = Math.exp(-rate); p > limit; p *= random()) {
        const large = random() < big;
        const cpu = large ? 5 + Math.floor(random() * 4) : 1 + Math.floor(random() * 2);
        const id = `j${jobs.length}`;
        const request = req(
          id,
          { cpu, mem: Math.floor(random() * 16) },
          { tenant: `t${Math.floor(random() * tenants)}`, priority: Math.floor(random() * priorities) },
        );
        jobs.push({ request, step, duration: 1 + Math.floor(random() * 5) });
      }
    }
    return jobs;
  });

describe('no starvation in a long random simulation', () => {
  const configs: PolicyConfig[] = [
    { kind: 'priority', agingPerMinute: 1 },
    { kind: 'priority', agingPerMinute: 0.25 },
    { kind: 'fair' },
    { kind: 'fair', weights: { t0: 3, t1: 0.5 } },
  ];

  it.each(configs.map((c) => [JSON.stringify(c), c] as const))(
    'every request is admitted, within a bounded wait: %s',
    (_name, config) => {
      const policy = createPolicy(config);
      fc.assert(
        fc.property(workloadArb, (jobs) => {
          const { admittedAt, waiting } = simulate(policy, CAPACITY, jobs, ARRIVAL_STEPS * 5);
          expect(waiting).toEqual([]);
          const worst = Math.max(0, ...jobs.map((j) => (admittedAt.get(j.request.id) as number) - j.step));
          expect(worst).toBeLessThanOrEqual(MAX_WAIT);
        }),
        { numRuns: 25 },
      );
    },
  );
});

describe('starvation scenarios', () => {
  /** Small jobs that alone keep the 8-cpu pool full: 8 one-cpu jobs per step, each one step long. */
  function flood(tenant: string, steps: number, priority = 0): SimJob[] {
    const jobs: SimJob[] = [];
    for (let step = 0; step < steps; step++) {
      for (let k = 0; k < 8; k++)
        jobs.push({ request: req(`${tenant}-${step}-${k}`, { cpu: 1 }, { tenant, priority }), step, duration: 1 });
    }
    return jobs;
  }

  it('priority: aging admits a big low-priority request under a flood of higher-priority work; without aging it starves', () => {
    const big: SimJob = { request: req('big', { cpu: 6 }, { tenant: 'x', priority: 0 }), step: 0, duration: 3 };
    const jobs = [big, ...flood('hi', 200, 5)];
    const aged = simulate(createPolicy({ kind: 'priority', agingPerMinute: 1 }), CAPACITY, jobs, 200);
    // Effective priority 0 + 1/min passes 5 after 5 minutes; the pool has room right away
    // (one-step jobs), and the reservation keeps newer flood jobs out.
    expect(aged.admittedAt.get('big')).toBeLessThanOrEqual(7);
    const strict = simulate(createPolicy({ kind: 'priority' }), CAPACITY, jobs, 200);
    expect(strict.waiting).toContain('big');
  });

  it('fair: a tenant with one big request is not starved by a tenant flooding small ones', () => {
    const big: SimJob = { request: req('big', { cpu: 6 }, { tenant: 'b' }), step: 10, duration: 3 };
    const result = simulate(createPolicy({ kind: 'fair' }), CAPACITY, [...flood('a', 200), big], 200);
    // b has share 0 < a's: it goes first, and at worst waits for a's one-step jobs to end.
    expect(result.admittedAt.get('big')).toBeLessThanOrEqual(11);
  });

  it('fair: equal shares do not always favour the same tenant name', () => {
    // a's jobs end every step, so a and b are both at share 0 at each decision. Ties go to the
    // tenant whose next request is older: a's 8 step-3 jobs are as old as b's request and win by
    // name, one per step (b's reservation holds the rest of the pool); from step 11 b's request
    // is the oldest and wins. With ties broken by name alone, b would wait for the flood to end.
    const big: SimJob = { request: req('big', { cpu: 8 }, { tenant: 'b' }), step: 3, duration: 1 };
    const result = simulate(createPolicy({ kind: 'fair' }), CAPACITY, [...flood('a', 50), big], 50);
    expect(result.admittedAt.get('big')).toBe(11);
  });
});
