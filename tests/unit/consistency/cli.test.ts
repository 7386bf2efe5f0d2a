/**
 * `sluice check` through the built CLI (`node bin/sluice.js`, as a user runs it; `npm run build`
 * first): exit 0 consistent, 1 not, 2 bad input with a message naming the problem; `--json` prints
 * exactly one JSON object.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fixtureDir, type Columns } from './fixtures';

const ROOT = path.join(__dirname, '..', '..', '..');
const fx = fixtureDir('cli');
const COLS: Columns = { page: 'VARCHAR', window_start: 'TIMESTAMP', views: 'BIGINT', avg_ms: 'DOUBLE' };
const T = '2026-01-01 10:00:00';

function sluice(args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'sluice.js'), 'check', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let batch = '';
let same = '';
let differs = '';
beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'check.js'))) throw new Error('build first: npm run build');
  const rows = [
    ['home', T, 30, 12.5],
    ['cart', T, 50, 80.25],
    ['search', T, 20, 40],
  ];
  batch = await fx.write(COLS, rows);
  same = await fx.write(
    COLS,
    rows.map((r) => (r[0] === 'cart' ? ['cart', T, 50, 80.25 * (1 + 1e-12)] : r)),
  );
  // cart's views 12 short (late data), search missing, checkout only here.
  differs = await fx.write(COLS, [
    ['home', T, 30, 12.5],
    ['cart', T, 38, 80.25],
    ['checkout', T, 1, 5],
  ]);
});

const keys = ['--keys', 'page,window_start'];

test('consistent: exit 0, and --json is one object with the report fields', () => {
  const r = sluice(['--batch', batch, '--stream', same, ...keys, '--tolerance', 'avg_ms=rel:1e-9', '--json']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout.trim().split('\n')).toHaveLength(1);
  expect(JSON.parse(r.stdout)).toMatchObject({
    consistent: true,
    matched: 3,
    mismatched: 0,
    missingInBatch: 0,
    missingInStream: 0,
    duplicateKeys: { batch: 0, stream: 0 },
    samples: { mismatched: [], missingInBatch: [], missingInStream: [], duplicateKeys: { batch: [], stream: [] } },
  });
});

test('without the tolerance the 1e-12 jitter is a mismatch: exit 1', () => {
  const r = sluice(['--batch', batch, '--stream', same, ...keys, '--json']);
  expect(r.status).toBe(1);
  expect(JSON.parse(r.stdout)).toMatchObject({ consistent: false, matched: 2, mismatched: 1 });
});

test('not consistent: exit 1 with the counts, samples and late data', () => {
  const r = sluice([
    '--batch',
    batch,
    '--stream',
    differs,
    ...keys,
    '--count-column',
    'views',
    '--dropped-late',
    '12',
    '--json',
  ]);
  expect(r.status).toBe(1);
  const report = JSON.parse(r.stdout);
  expect(report).toMatchObject({
    consistent: false,
    matched: 1,
    mismatched: 1,
    missingInBatch: 1,
    missingInStream: 1,
    mismatchedByColumn: { views: 1, avg_ms: 0 },
    samples: {
      mismatched: [{ page: 'cart', window_start: '2026-01-01T10:00:00.000000Z' }],
      missingInBatch: [{ page: 'checkout', window_start: '2026-01-01T10:00:00.000000Z' }],
      missingInStream: [{ page: 'search', window_start: '2026-01-01T10:00:00.000000Z' }],
    },
    // batch 30 + 50 + 20 = 100, stream 30 + 38 + 1 = 69
    lateData: {
      countColumn: 'views',
      batchCount: 100,
      streamCount: 69,
      difference: 31,
      droppedLateRecords: 12,
      explained: false,
    },
  });
});

test('the human summary says the verdict and the counts', () => {
  const r = sluice(['--batch', batch, '--stream', differs, ...keys]);
  expect(r.status).toBe(1);
  expect(r.stdout).toContain('NOT consistent: batch 3 rows, stream 3 rows, keys page, window_start');
  expect(r.stdout).toMatch(/│ missing in stream\s+│ 1\s+│/);
  expect(r.stdout).toContain('mismatched by column: views 1');
  expect(r.stdout).toContain('missing in batch, e.g.: page=checkout window_start=2026-01-01T10:00:00.000000Z');
});

test.each([
  [['--tolerance', 'avg_ms=abz:1'], '--tolerance "avg_ms=abz:1": expected abs:<number> or rel:<number>'],
  [
    ['--tolerance', 'amount=abs:1'],
    'tolerance "amount=abs:1": unknown column "amount"; the value columns both sides have: views, avg_ms',
  ],
  [
    ['--keys', 'page,day'],
    'key column "day" is not in the batch side (its columns: page, window_start, views, avg_ms)',
  ],
  [['--count-column', 'views'], '--count-column and --dropped-late go together'],
])('bad input %j: exit 2, %s', (extra, message) => {
  const args = ['--batch', batch, '--stream', same, ...keys, ...extra];
  const r = sluice(args);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(`sluice: ${message}`);
  expect(r.stdout).toBe('');
});

test('a missing file: exit 2 naming the side and the path', () => {
  const missing = fx.path('nope.parquet');
  const r = sluice(['--batch', batch, '--stream', missing, ...keys]);
  expect(r.status).toBe(2);
  expect(r.stderr).toBe(`sluice: stream: ${missing}: no such file or directory\n`);
});

test('a missing required option is commander’s usage error: exit 2', () => {
  const r = sluice(['--batch', batch, ...keys]);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("required option '--stream <path>' not specified");
});
