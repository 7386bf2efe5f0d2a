/**
 * In-process DuckDB (@duckdb/node-api): open a database, run statements, get rows back as plain JS
 * values. Results are meant to be small (a report, a schema); big data stays inside DuckDB — its
 * JS value conversion runs at ~0.5M rows/s here (shared/notes/lambda-consistency.md §2).
 */
import * as os from 'node:os';
import {
  DuckDBArrayValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBListValue,
  DuckDBStructValue,
  type DuckDBConnection,
  type DuckDBValue,
} from '@duckdb/node-api';

export interface DuckDbOptions {
  /**
   * Worker threads.
   * @default the machine's cores (`os.availableParallelism()`)
   */
  threads?: number;
  /**
   * DuckDB's memory limit, e.g. `'4GB'`; past it, joins and aggregates spill to `tempDirectory`.
   * @default DuckDB's own (80 % of RAM)
   */
  memoryLimit?: string;
  /** Where spilled data goes. @default DuckDB's own (`<database>.tmp`, or `.tmp` in memory) */
  tempDirectory?: string;
}

/** A plain row: every value converted by {@link toPlain}. */
export type PlainRow = Record<string, unknown>;

/** One in-memory DuckDB database with one connection. Close it when done. */
export class DuckDb {
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.#instance = instance;
    this.#connection = connection;
  }

  static async open(options: DuckDbOptions = {}): Promise<DuckDb> {
    const config: Record<string, string> = { threads: String(options.threads ?? os.availableParallelism()) };
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    if (options.tempDirectory) config.temp_directory = options.tempDirectory;
    const instance = await DuckDBInstance.create(':memory:', config);
    try {
      return new DuckDb(instance, await instance.connect());
    } catch (err) {
      instance.closeSync();
      throw err;
    }
  }

  /** Runs one statement and returns its rows as plain values. */
  async query(sql: string): Promise<PlainRow[]> {
    const reader = await this.#connection.runAndReadAll(sql);
    return reader.getRowObjects().map((row) => {
      const out: PlainRow = {};
      for (const [k, v] of Object.entries(row)) out[k] = toPlain(v);
      return out;
    });
  }

  /** Runs statements whose results are not needed. */
  async run(sql: string): Promise<void> {
    await this.#connection.run(sql);
  }

  close(): void {
    this.#connection.closeSync();
    this.#instance.closeSync();
  }
}

/** Opens a database, runs `fn` with it, and closes it. */
export async function withDuckDb<T>(fn: (db: DuckDb) => Promise<T>, options?: DuckDbOptions): Promise<T> {
  const db = await DuckDb.open(options);
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

/**
 * A DuckDB value as a plain JS value: BIGINT/HUGEINT as a number when it is a safe integer, else its
 * decimal string (never a lossy number); DECIMAL as its exact string ("12.50"); lists as arrays,
 * structs as objects; DOUBLE stays a number (NaN and ±Infinity included); every other type (DATE,
 * TIMESTAMP, INTERVAL, BLOB...) as DuckDB prints it ("2026-01-01", "2026-01-01 00:00:00.5").
 */
export function toPlain(v: DuckDBValue): unknown {
  if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof DuckDBDecimalValue) return v.toString();
  if (v instanceof DuckDBListValue || v instanceof DuckDBArrayValue) return v.items.map(toPlain);
  if (v instanceof DuckDBStructValue) {
    return Object.fromEntries(Object.entries(v.entries).map(([k, x]) => [k, toPlain(x)]));
  }
  return String(v);
}
