/**
 * The Spark dialect of the check is the DuckDB plan with Spark's spellings (the DuckDB path is
 * tested for behaviour in check.test.ts); these tests pin the spellings that carry semantics and
 * the statement sequence a Spark session runs.
 */
import { FIELD, planCheck, runCheck, type PlanInput, type Row } from '../../../lib/consistency';
import { sparkTableRelation } from '../../../lib/consistency/relations';

const columns = [
  { name: 'page', type: 'string' },
  { name: 'window_start', type: 'timestamp' },
  { name: 'views', type: 'bigint' },
  { name: 'avg_ms', type: 'double' },
  { name: 'local_start', type: 'timestamp_ntz' },
];
const input = (dialect: 'spark' | 'duckdb'): PlanInput => ({
  dialect,
  batch: { relation: 'B', columns },
  stream: { relation: 'S', columns },
  keys: ['page', 'window_start'],
  tolerances: [{ column: 'avg_ms', kind: 'rel', value: 1e-9 }],
});

describe('Spark spellings', () => {
  const plan = planCheck(input('spark'));
  const sql = plan.single.setup.join('\n');

  test('keys join null-safe with <=>, identifiers in backticks', () => {
    expect(sql).toContain('FULL OUTER JOIN s ON b.k0 <=> s.k0 AND b.k1 <=> s.k1');
    expect(sql).not.toContain('IS NOT DISTINCT FROM');
    expect(sql).toContain('`page`');
  });

  test('a tolerance tests NaN with isnan and infinity without isinf (Spark has none)', () => {
    expect(sql).toContain('WHEN isnan(b.v1) OR isnan(s.v1) THEN NOT (isnan(b.v1) AND isnan(s.v1))');
    expect(sql).toContain("abs(b.v1) = CAST('Infinity' AS DOUBLE)");
    expect(sql).not.toContain('isinf');
  });

  test('TIMESTAMP is an instant (unix_micros), TIMESTAMP_NTZ a wall clock read as UTC', () => {
    expect(sql).toContain('unix_micros(`window_start`) AS k1');
    expect(sql).toContain("timestampdiff(MICROSECOND, TIMESTAMP_NTZ'1970-01-01 00:00:00', `local_start`) AS v2");
  });

  test('the classified rows are cached once; summary and samples read the cache; cleanup uncaches', () => {
    expect(plan.single.setup).toHaveLength(1);
    expect(plan.single.setup[0]).toMatch(/^CACHE TABLE `sluice_check_single` AS WITH b AS/);
    expect(plan.single.summary).toMatch(
      /^WITH g AS \(SELECT nb, ns, dx, count\(\*\) AS n, .* FROM `sluice_check_single` GROUP BY nb, ns, dx\)/,
    );
    expect(plan.single.samples.missingInBatch).toBe(
      'SELECT sk0 AS `k0`, sk1 AS `k1` FROM `sluice_check_single` WHERE nb = 0 AND ns = 1 ' +
        'ORDER BY sk0 ASC NULLS LAST, sk1 ASC NULLS LAST LIMIT 10',
    );
    expect(plan.single.cleanup).toEqual([
      'UNCACHE TABLE IF EXISTS `sluice_check_single`',
      'DROP VIEW IF EXISTS `sluice_check_single`',
    ]);
    expect(plan.deduplicated.both.setup[0]).toContain('count(*) AS n');
  });

  test('the summary has the same fields as DuckDB’s, less the inline samples', () => {
    const fields = (s: string, quote: string) =>
      [...s.matchAll(new RegExp(`\\) AS ${quote}(\\w+)${quote}`, 'g'))].map((m) => m[1]);
    const duck = planCheck(input('duckdb'));
    expect(fields(plan.single.summary, '`')).toEqual(
      fields(duck.single.summary, '"').filter((f) => !f!.startsWith('sample_')),
    );
  });

  test('a lake table at a snapshot and partition', () => {
    expect(
      sparkTableRelation('lake.`page-views`.batch', { snapshotId: '123', where: { partition: "2026-01-01T00'" } }),
    ).toBe("(SELECT * FROM lake.`page-views`.batch VERSION AS OF 123 WHERE `partition` = '2026-01-01T00\\'')");
  });
});

describe('a check run through a Spark-like executor', () => {
  /** Answers each statement from the plan with canned rows, and records the statements. */
  function executor(summary: (sql: string) => Row) {
    const seen: string[] = [];
    const exec = async (sql: string): Promise<Row[]> => {
      seen.push(sql.split(' ').slice(0, 3).join(' '));
      if (sql.startsWith('DESCRIBE QUERY'))
        return columns.map((c) => ({ col_name: c.name, data_type: c.type, comment: null }));
      if (sql.startsWith('SELECT (SELECT count(*)')) return [{ [FIELD.batchRows]: 3, [FIELD.streamRows]: 3 }];
      if (sql.includes('ORDER BY')) return [{ k0: 'home', k1: 1_767_225_600_000_000 }];
      if (sql.startsWith('WITH g AS')) return [summary(sql)];
      return [];
    };
    return { exec, seen };
  }
  const clean = {
    matched: 2,
    mismatched: 1,
    missing_in_batch: 0,
    missing_in_stream: 0,
    duplicate_batch: 0,
    duplicate_stream: 0,
  };

  test('one pass when its counts prove there are no duplicates; samples from their queries', async () => {
    const { exec, seen } = executor(() => ({
      ...clean,
      rows_batch: 3,
      rows_stream: 3,
      keys_missing_in_batch: 0,
      keys_missing_in_stream: 0,
      mismatched_1: 1,
    }));
    const report = await runCheck(exec, {
      dialect: 'spark',
      batch: { relation: 'B' },
      stream: { relation: 'S' },
      keys: ['page', 'window_start'],
    });
    expect(seen).toEqual([
      'DESCRIBE QUERY SELECT',
      'DESCRIBE QUERY SELECT',
      'SELECT (SELECT count(*)',
      'CACHE TABLE `sluice_check_single`',
      'WITH g AS',
      ...Array(5)
        .fill('SELECT sk0 AS')
        .map((s, i) => (i === 0 || i === 2 || i === 3 ? 'SELECT bk0 AS' : s)),
      'UNCACHE TABLE IF',
      'DROP VIEW IF',
    ]);
    expect(report).toMatchObject({ consistent: false, matched: 2, mismatched: 1, engine: 'spark', pass: 'single' });
    expect(report.mismatchedByColumn).toEqual({ views: 0, avg_ms: 1, local_start: 0 });
    expect(report.samples.mismatched).toEqual([{ page: 'home', window_start: '2026-01-01T00:00:00.000000Z' }]);
  });

  test('a join that saw more rows than a side has runs the deduplicated pass', async () => {
    const { exec, seen } = executor((sql) =>
      sql.includes('keys_missing')
        ? { ...clean, rows_batch: 4, rows_stream: 3, keys_missing_in_batch: 0, keys_missing_in_stream: 0 }
        : { ...clean, duplicate_batch: 1, rows_batch: 3, rows_stream: 3 },
    );
    const report = await runCheck(exec, {
      dialect: 'spark',
      batch: { relation: 'B' },
      stream: { relation: 'S' },
      keys: ['page'],
    });
    expect(seen.filter((s) => s.startsWith('CACHE'))).toEqual([
      'CACHE TABLE `sluice_check_single`',
      'CACHE TABLE `sluice_check_dedup`',
    ]);
    expect(report).toMatchObject({ pass: 'deduplicated', duplicateKeys: { batch: 1, stream: 0 } });
  });
});
