import fc from 'fast-check';
import { agedPriorityOrder, priorityOrder, submissionOrder } from '../../../scheduler-policies/ordering';
import type { AdmissionRequest } from '../../../scheduler-policies';

// The fast paths (packed keys, merged per-priority runs) must give exactly the plain
// comparator-sort order, ties included.

const priorityArbs = [
  fc.integer({ min: -3, max: 3 }), // few small integers: packed keys, merged runs
  fc.integer({ min: -200, max: 200 }), // too many distinct priorities to merge runs
  fc.double({ min: -5, max: 5, noNaN: true }), // not integers: comparator sort
];
const submittedArbs = [
  fc.integer({ min: 0, max: 50 }), // many ties
  fc.integer({ min: 0, max: 2 ** 45 }), // too wide to pack
  fc.double({ min: 0, max: 1e6, noNaN: true }),
];

/** Arrays whose keys share one kind, so each fast path (and each fallback) is exercised. */
const requestsArb = fc
  .tuple(fc.nat({ max: priorityArbs.length - 1 }), fc.nat({ max: submittedArbs.length - 1 }), fc.boolean())
  .chain(([p, s, someDefault]) =>
    fc.array(
      fc.record({
        priority: someDefault ? fc.option(priorityArbs[p], { nil: undefined }) : priorityArbs[p],
        submittedAt: submittedArbs[s],
      }),
      { maxLength: 80 },
    ),
  );

function asRequests(xs: { priority?: number; submittedAt: number }[]): AdmissionRequest[] {
  return xs.map((x, i) => ({
    id: `r${i}`,
    tenant: 't',
    demand: {},
    submittedAt: x.submittedAt,
    ...(x.priority === undefined ? {} : { priority: x.priority }),
  }));
}

function naive(n: number, cmp: (a: number, b: number) => number): number[] {
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => cmp(a, b) || a - b);
}

describe('orderings', () => {
  it('submissionOrder sorts by submittedAt, then snapshot position', () => {
    fc.assert(
      fc.property(requestsArb, fc.boolean(), (xs, presorted) => {
        const rs = asRequests(presorted ? [...xs].sort((a, b) => a.submittedAt - b.submittedAt) : xs);
        expect(Array.from(submissionOrder(rs))).toEqual(
          naive(rs.length, (a, b) => rs[a].submittedAt - rs[b].submittedAt),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('priorityOrder sorts by priority desc, then submittedAt asc, then position', () => {
    let bucketed = 0; // presorted arrays of several integer priorities: the bucket-sort path
    fc.assert(
      fc.property(requestsArb, fc.boolean(), (xs, presorted) => {
        const rs = asRequests(presorted ? [...xs].sort((a, b) => a.submittedAt - b.submittedAt) : xs);
        const p = (i: number) => rs[i].priority ?? 0;
        if (
          presorted &&
          new Set(rs.map((r) => r.priority ?? 0)).size > 1 &&
          rs.every((r) => Number.isInteger(r.priority ?? 0))
        )
          bucketed++;
        expect(Array.from(priorityOrder(rs))).toEqual(
          naive(rs.length, (a, b) => p(b) - p(a) || rs[a].submittedAt - rs[b].submittedAt),
        );
      }),
      { numRuns: 300 },
    );
    expect(bucketed).toBeGreaterThan(30);
  });

  it('agedPriorityOrder sorts by effective priority desc, then submittedAt asc, then position', () => {
    fc.assert(
      fc.property(requestsArb, fc.double({ min: 0.001, max: 10, noNaN: true }), (xs, rate) => {
        const rs = asRequests(xs);
        const now = 1e6;
        const effective = Float64Array.from(rs, (r) => (r.priority ?? 0) + rate * Math.max(0, now - r.submittedAt));
        const expected = naive(
          rs.length,
          (a, b) => effective[b] - effective[a] || rs[a].submittedAt - rs[b].submittedAt,
        );
        expect(Array.from(agedPriorityOrder(rs, effective))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
