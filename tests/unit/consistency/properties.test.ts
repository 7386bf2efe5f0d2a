/**
 * The check against a reference model written here in plain JS, on random small sides with NULL
 * keys, duplicates, NaN, ±0 and NULL values; and the count invariant every report keeps. The
 * generators are checked to produce each situation before the property is trusted.
 */
import fc from 'fast-check';
import { checkParquet } from '../../../engines/consistency-check';
import type { CheckReport } from '../../../lib/consistency';
import { fixtureDir, type Columns } from './fixtures';

const fx = fixtureDir('props');
const COLS: Columns = { id: 'VARCHAR', w: 'BIGINT', x: 'DOUBLE' };
type R = [id: string | null, w: number | null, x: number | null];

const row = fc.tuple(
  fc.constantFrom('a', 'b', 'c', null),
  fc.constantFrom(1, 2, null),
  fc.constantFrom(null, NaN, 0, -0, 1, 1.25, 2),
) as fc.Arbitrary<R>;
const side = fc.array(row, { maxLength: 10 });

const same = (a: number | null, b: number | null, tol: number | undefined) => {
  if (a === null || b === null) return a === b;
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return tol === undefined ? a === b : Math.abs(a - b) <= tol;
};

/** The report's counts as the spec defines them, computed without SQL. */
function model(batch: R[], stream: R[], tol: number | undefined) {
  const group = (rows: R[]) => {
    const m = new Map<string, R[]>();
    for (const r of rows) m.set(JSON.stringify([r[0], r[1]]), [...(m.get(JSON.stringify([r[0], r[1]])) ?? []), r]);
    return m;
  };
  const b = group(batch);
  const s = group(stream);
  const out = {
    matched: 0,
    mismatched: 0,
    missingInBatch: 0,
    missingInStream: 0,
    duplicateKeys: { batch: 0, stream: 0 },
  };
  for (const key of new Set([...b.keys(), ...s.keys()])) {
    const nb = b.get(key)?.length ?? 0;
    const ns = s.get(key)?.length ?? 0;
    if (nb > 1) out.duplicateKeys.batch++;
    if (ns > 1) out.duplicateKeys.stream++;
    if (nb > 1 || ns > 1) continue;
    if (nb === 0) out.missingInBatch++;
    else if (ns === 0) out.missingInStream++;
    else if (same(b.get(key)![0]![2], s.get(key)![0]![2], tol)) out.matched++;
    else out.mismatched++;
  }
  return { ...out, distinctBatchKeys: b.size };
}

test('the report agrees with the model, and matched + mismatched + missingInStream + duplicate-excluded = batch keys', async () => {
  const seen = { duplicates: 0, nanMismatch: 0, nullKeyMatch: 0, oneSided: 0, deduplicatedPass: 0, singlePass: 0 };
  await fc.assert(
    fc.asyncProperty(side, side, fc.constantFrom(undefined, 0.5), async (batch, stream, tol) => {
      const report: CheckReport = await checkParquet({
        batch: { path: await fx.write(COLS, batch) },
        stream: { path: await fx.write(COLS, stream) },
        keys: ['id', 'w'],
        tolerances: tol === undefined ? [] : [{ column: 'x', kind: 'abs', value: tol }],
        duckdb: { threads: 1 },
      });
      const expected = model(batch, stream, tol);
      const { distinctBatchKeys, ...counts } = expected;
      expect({
        matched: report.matched,
        mismatched: report.mismatched,
        missingInBatch: report.missingInBatch,
        missingInStream: report.missingInStream,
        duplicateKeys: report.duplicateKeys,
      }).toEqual(counts);
      expect(report.consistent).toBe(
        counts.mismatched +
          counts.missingInBatch +
          counts.missingInStream +
          counts.duplicateKeys.batch +
          counts.duplicateKeys.stream ===
          0,
      );
      // Keys of the batch side that a duplicate (on either side) took out of the counts.
      const keyOf = (r: R) => JSON.stringify([r[0], r[1]]);
      const countOn = (rows: R[], k: string) => rows.filter((r) => keyOf(r) === k).length;
      const excluded = [...new Set(batch.map(keyOf))].filter(
        (k) => countOn(batch, k) > 1 || countOn(stream, k) > 1,
      ).length;
      expect(report.matched + report.mismatched + report.missingInStream + excluded).toBe(distinctBatchKeys);
      expect(report.rows).toEqual({ batch: batch.length, stream: stream.length });

      if (counts.duplicateKeys.batch + counts.duplicateKeys.stream > 0) seen.duplicates++;
      if (report.pass === 'deduplicated') seen.deduplicatedPass++;
      else seen.singlePass++;
      if (counts.missingInBatch + counts.missingInStream > 0) seen.oneSided++;
      const bKeys = new Set(batch.filter((r) => r[0] === null || r[1] === null).map(keyOf));
      if (stream.some((r) => bKeys.has(keyOf(r)))) seen.nullKeyMatch++;
      if (
        batch.some(
          (r) =>
            Number.isNaN(r[2]) && stream.some((q) => keyOf(q) === keyOf(r) && q[2] !== null && !Number.isNaN(q[2])),
        )
      )
        seen.nanMismatch++;
    }),
    { numRuns: 60, seed: 20261201 },
  );
  // The generators exercised what the property is about.
  for (const [what, n] of Object.entries(seen)) expect([what, n > 3]).toEqual([what, true]);
}, 60_000);
