/**
 * The value predicate of the check (plan.ts `differs`) on the double values where a tolerance goes
 * wrong — NULL, NaN, ±∞, ±0, the largest and smallest doubles, sums that overflow — against a model
 * of the rule in JavaScript (same IEEE doubles): NULL equals only NULL, NaN only NaN, ∞ only ∞,
 * and otherwise abs:x accepts |a − b| ≤ x and rel:y accepts |a − b| ≤ y · max(|a|, |b|).
 */
import { DuckDb } from '../../../engines/duckdb';
import { DIALECTS } from '../../../lib/consistency';
import { differs, type PlannedColumn } from '../../../lib/consistency/plan';
import type { Tolerance } from '../../../lib/consistency/tolerance';
import { literal } from './fixtures';

const VALUES = [
  null,
  NaN,
  Infinity,
  -Infinity,
  0,
  -0,
  1,
  -1,
  1 + 1e-12,
  1.0000001,
  2,
  0.01,
  0.005,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  1e-300,
];

const TOLERANCES: Omit<Tolerance, 'column'>[] = [
  { kind: 'rel', value: 0 },
  { kind: 'rel', value: 1e-9 },
  { kind: 'rel', value: 0.5 },
  { kind: 'rel', value: 1 },
  { kind: 'rel', value: 2 }, // y · max overflows to ∞ next to the largest doubles
  { kind: 'abs', value: 0 },
  { kind: 'abs', value: 0.01 },
  { kind: 'abs', value: 1e308 },
];

/** The naive tolerance test, which is what the model must not be. */
function naiveWithin(a: number, b: number, t: Omit<Tolerance, 'column'>): boolean {
  const d = Math.abs(a - b);
  // SQL: NaN is equal to NaN and larger than every number.
  const le = (x: number, y: number) => (Number.isNaN(y) ? true : Number.isNaN(x) ? false : x <= y);
  return t.kind === 'abs' ? le(d, t.value) : le(d, t.value * Math.max(Math.abs(a), Math.abs(b)));
}

function modelDiffers(a: number | null, b: number | null, t: Omit<Tolerance, 'column'>): boolean {
  if (a === null || b === null) return !(a === null && b === null);
  if (Number.isNaN(a) || Number.isNaN(b)) return !(Number.isNaN(a) && Number.isNaN(b));
  if (a === b) return false;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return true;
  return !naiveWithin(a, b, t);
}

test('differs on doubles agrees with the model on every pair of edge values, for every tolerance', async () => {
  const db = await DuckDb.open({ threads: 1 });
  try {
    const pairs = VALUES.flatMap((a) => VALUES.map((b) => [a, b] as const));
    const rows = pairs.map(([a, b], i) => `(${i}, CAST(${literal(a)} AS DOUBLE), CAST(${literal(b)} AS DOUBLE))`);
    let naiveWrong = 0;
    for (const t of TOLERANCES) {
      const column: PlannedColumn = {
        name: 'x',
        type: { kind: 'float' },
        batchType: 'DOUBLE',
        streamType: 'DOUBLE',
        tolerance: { column: 'x', ...t },
      };
      const got = await db.query(
        `SELECT i, ${differs(DIALECTS.duckdb, column, 'a', 'b')} AS d FROM (VALUES ${rows.join(', ')}) AS v(i, a, b) ORDER BY i`,
      );
      const expected = pairs.map(([a, b], i) => ({ i, d: modelDiffers(a, b, t) }));
      expect({ tolerance: t, rows: got }).toEqual({ tolerance: t, rows: expected });
      naiveWrong += pairs.filter(
        ([a, b]) => a !== null && b !== null && naiveWithin(a, b, t) && modelDiffers(a, b, t),
      ).length;
    }
    // The grid exercises the traps: pairs the naive predicate accepts that differ (NaN, ∞ vs a number).
    expect(naiveWrong).toBeGreaterThan(100);
  } finally {
    db.close();
  }
});
