/**
 * Parquet fixtures for the consistency check, written at run time by DuckDB into a temp folder:
 * a table is column types plus rows of JS values, so each test states exactly what it injected.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DuckDb } from '../../../engines/duckdb';

/**
 * A SQL literal of a JS value, as a string cast later to the column's type (so VALUES never has to
 * unify a string with a number): null, numbers (NaN, ±Infinity and -0 included), strings, booleans.
 */
export function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  let text = String(v);
  if (typeof v === 'number' && Object.is(v, -0)) text = '-0.0';
  return `'${text.replace(/'/g, "''")}'`;
}

/** Column name → DuckDB type, in order. */
export type Columns = Record<string, string>;

/** A query of the rows, each column cast to its type (numbers that must stay exact go as strings). */
export function tableSql(columns: Columns, rows: readonly unknown[][]): string {
  const names = Object.keys(columns);
  const select = names.map((n, i) => `CAST(c${i} AS ${columns[n]}) AS "${n}"`).join(', ');
  if (rows.length === 0)
    return `SELECT ${names.map((n) => `CAST(NULL AS ${columns[n]}) AS "${n}"`).join(', ')} WHERE false`;
  const values = rows.map((r) => `(${r.map(literal).join(', ')})`).join(', ');
  return `SELECT ${select} FROM (VALUES ${values}) AS t(${names.map((_, i) => `c${i}`).join(', ')})`;
}

export async function writeParquet(
  db: DuckDb,
  file: string,
  columns: Columns,
  rows: readonly unknown[][],
): Promise<string> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await db.run(`COPY (${tableSql(columns, rows)}) TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`);
  return file;
}

/** A temp folder per suite, and a DuckDB to write the fixtures with; both gone after the suite. */
export function fixtureDir(prefix: string) {
  let dir = '';
  let db: DuckDb | undefined;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-${prefix}-`));
    db = await DuckDb.open({ threads: 1 });
  });
  afterAll(() => {
    db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  let n = 0;
  return {
    path: (...parts: string[]) => path.join(dir, ...parts),
    /** Writes a table to `<dir>/<name>` (a fresh name per call when none is given). */
    write: (columns: Columns, rows: readonly unknown[][], name = `t${n++}.parquet`) =>
      writeParquet(db!, path.join(dir, name), columns, rows),
    db: () => db!,
  };
}
