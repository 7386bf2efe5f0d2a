/**
 * `npm run bench -- check [--rows N] [--rounds N]`: the local consistency check (`sluice check`'s
 * executor, engines/consistency-check.ts) against the plain DuckDB FULL OUTER JOIN diff a user would
 * write, on the same Parquet files, alternating in one run; medians. The sides have N rows each
 * (a string key and an int64 key; BIGINT, DOUBLE and DECIMAL values) with 0.1 % of rows changed,
 * 0.01 % of rows on one side only (each way), every double jittered by 1e-12 (within the relative
 * tolerance) and a few NaN-vs-number rows, which the plain query's tolerance predicate accepts.
 * Generating the files is not timed; they are removed at the end.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkParquet } from '../engines/consistency-check';
import { withDuckDb, type DuckDb } from '../engines/duckdb';
import type { CheckReport } from '../lib/consistency';
import { benchCommand, integer, parseBenchArgs } from './args';
import { median } from './stats';

const say = (msg: string) => process.stderr.write(`check: ${msg}\n`);

interface CheckArgs {
  rows: number;
  rounds: number;
}

export function parseArgs(args: readonly string[]): CheckArgs {
  const command = benchCommand('check', 'sluice check (DuckDB, in-process) against a plain DuckDB FULL OUTER JOIN diff')
    .option('--rows <n>', 'rows per side', integer(10_000), 10_000_000)
    .option('--rounds <n>', 'measured rounds of each side (after one warm-up each)', integer(1), 5);
  return parseBenchArgs<CheckArgs>(command, args);
}

const TOLERANCES = [
  { column: 'v_dbl', kind: 'rel' as const, value: 1e-9 },
  { column: 'v_dec', kind: 'abs' as const, value: 0.01 },
];

/** Injected into the stream side, by row number i (the batch side is i as is). */
const CHANGED = 'i % 1000 = 1'; // 0.1 %: one value column changed, in turn
const NAN = 'i % 1000000 = 500'; // a few: v_dbl NaN where the batch has a number
const ONLY_IN_STREAM = 'i % 10000 = 3'; // 0.01 %: dropped from the batch side
const ONLY_IN_BATCH = 'i % 10000 = 7'; // 0.01 %: dropped from the stream side

/** The rows of both sides, by row number: keys page × hourly window, values from hashes of i. */
export function sideSql(rows: number, side: 'batch' | 'stream'): string {
  const keys =
    `'page-' || lpad(CAST(i % 100003 AS VARCHAR), 6, '0') AS k_str, ` +
    `1767225600000000 + (i // 100003) * 3600000000 AS k_int`;
  const big = 'CAST(hash(i) % 1000000 AS BIGINT)';
  const dbl = 'CAST(hash(i * 7) % 100000 AS DOUBLE) / 7';
  const dec = 'CAST(CAST(hash(i * 13) % 10000000 AS BIGINT) / 100 AS DECIMAL(18,2))';
  if (side === 'batch') {
    return `SELECT ${keys}, ${big} AS v_big, ${dbl} AS v_dbl, ${dec} AS v_dec FROM range(${rows}) t(i) WHERE NOT (${ONLY_IN_STREAM})`;
  }
  const turn = '(i // 1000) % 3';
  return (
    `SELECT ${keys}, ` +
    `${big} + CASE WHEN ${CHANGED} AND ${turn} = 0 THEN 1 ELSE 0 END AS v_big, ` +
    `CASE WHEN ${NAN} THEN CAST('NaN' AS DOUBLE) WHEN ${CHANGED} AND ${turn} = 1 THEN ${dbl} + 1 ELSE (${dbl}) * (1 + 1e-12) END AS v_dbl, ` +
    `${dec} + CASE WHEN ${CHANGED} AND ${turn} = 2 THEN 5 ELSE 0 END AS v_dec ` +
    `FROM range(${rows}) t(i) WHERE NOT (${ONLY_IN_BATCH})`
  );
}

/** What the generator injected, counted by DuckDB from the same row numbers. */
async function injected(db: DuckDb, rows: number) {
  const [r] = await db.query(
    `SELECT count(*) FILTER (WHERE ${CHANGED} AND NOT (${ONLY_IN_STREAM}) AND NOT (${ONLY_IN_BATCH})) AS changed, ` +
      `count(*) FILTER (WHERE ${NAN} AND NOT (${ONLY_IN_STREAM}) AND NOT (${ONLY_IN_BATCH})) AS nan, ` +
      `count(*) FILTER (WHERE ${ONLY_IN_STREAM}) AS only_stream, count(*) FILTER (WHERE ${ONLY_IN_BATCH}) AS only_batch ` +
      `FROM range(${rows}) t(i)`,
  );
  return {
    changed: Number(r!.changed),
    nan: Number(r!.nan),
    onlyStream: Number(r!.only_stream),
    onlyBatch: Number(r!.only_batch),
  };
}

/** The straightforward diff: join on the keys, count rows with any value off, count rows on one side. */
export function plainDiff(batch: string, stream: string): string {
  return (
    `SELECT count(*) FILTER (WHERE b.k_str IS NULL) AS missing_in_batch, ` +
    `count(*) FILTER (WHERE s.k_str IS NULL) AS missing_in_stream, ` +
    `count(*) FILTER (WHERE b.k_str IS NOT NULL AND s.k_str IS NOT NULL AND (b.v_big <> s.v_big ` +
    `OR abs(b.v_dbl - s.v_dbl) > 1e-9 * greatest(abs(b.v_dbl), abs(s.v_dbl)) OR abs(b.v_dec - s.v_dec) > 0.01)) AS mismatched ` +
    `FROM read_parquet('${batch}') b FULL OUTER JOIN read_parquet('${stream}') s ON b.k_str = s.k_str AND b.k_int = s.k_int`
  );
}

/** Wall time, and CPU time of the whole process (DuckDB's threads run in it): the machine may be shared. */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; cpuMs: number; result: T }> {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const result = await fn();
  const used = process.cpuUsage(cpu);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, cpuMs: (used.user + used.system) / 1000, result };
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const opts = parseArgs(args);
  const threads = os.availableParallelism();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-check-'));
  try {
    const batch = path.join(dir, 'batch.parquet');
    const stream = path.join(dir, 'stream.parquet');
    say(`writing ${opts.rows} rows per side to ${dir}`);
    const expected = await withDuckDb(async (db) => {
      await db.run(`COPY (${sideSql(opts.rows, 'batch')}) TO '${batch}' (FORMAT parquet)`);
      await db.run(`COPY (${sideSql(opts.rows, 'stream')}) TO '${stream}' (FORMAT parquet)`);
      return injected(db, opts.rows);
    });
    const sluice = () =>
      checkParquet({
        batch: { path: batch },
        stream: { path: stream },
        keys: ['k_str', 'k_int'],
        tolerances: TOLERANCES,
        duckdb: { threads },
      });
    const plain = () => withDuckDb(async (db) => (await db.query(plainDiff(batch, stream)))[0]!, { threads });

    const sluiceMs: number[] = [];
    const duckdbMs: number[] = [];
    const sluiceCpuMs: number[] = [];
    const duckdbCpuMs: number[] = [];
    let report: CheckReport | undefined;
    let plainResult: Record<string, unknown> | undefined;
    for (let round = 0; round <= opts.rounds; round++) {
      // Alternate which goes first; round 0 warms both up and is not counted.
      const order = round % 2 === 0 ? (['sluice', 'plain'] as const) : (['plain', 'sluice'] as const);
      for (const which of order) {
        if (which === 'sluice') {
          const t = await timed(sluice);
          report = t.result;
          if (round > 0) sluiceMs.push(t.ms);
          if (round > 0) sluiceCpuMs.push(t.cpuMs);
          say(
            `round ${round}${round === 0 ? ' (warm-up)' : ''}: sluice check ${t.ms.toFixed(0)} ms (CPU ${t.cpuMs.toFixed(0)} ms)`,
          );
        } else {
          const t = await timed(plain);
          plainResult = t.result;
          if (round > 0) duckdbMs.push(t.ms);
          if (round > 0) duckdbCpuMs.push(t.cpuMs);
          say(
            `round ${round}${round === 0 ? ' (warm-up)' : ''}: plain DuckDB diff ${t.ms.toFixed(0)} ms (CPU ${t.cpuMs.toFixed(0)} ms)`,
          );
        }
      }
    }
    const s = median(sluiceMs);
    const p = median(duckdbMs);
    return {
      bench: 'check',
      rows: opts.rows,
      sluiceMs: Math.round(s),
      duckdbMs: Math.round(p),
      ratio: Number((s / p).toFixed(3)),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      // CPU time of each side (medians): steadier than wall time when other work shares the cores.
      sluiceCpuMs: Math.round(median(sluiceCpuMs)),
      duckdbCpuMs: Math.round(median(duckdbCpuMs)),
      cpuRatio: Number((median(sluiceCpuMs) / median(duckdbCpuMs)).toFixed(3)),
      threads,
      rounds: opts.rounds,
      injected: {
        mismatched: expected.changed + expected.nan,
        nanVsNumber: expected.nan,
        missingInBatch: expected.onlyStream,
        missingInStream: expected.onlyBatch,
      },
      sluice: {
        mismatched: report!.mismatched,
        missingInBatch: report!.missingInBatch,
        missingInStream: report!.missingInStream,
        pass: report!.pass,
      },
      duckdb: {
        mismatched: Number(plainResult!.mismatched),
        missingInBatch: Number(plainResult!.missing_in_batch),
        missingInStream: Number(plainResult!.missing_in_stream),
      },
      sluiceRunsMs: sluiceMs.map(Math.round),
      duckdbRunsMs: duckdbMs.map(Math.round),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
