/**
 * The consistency check, run locally in an in-process DuckDB over the sides' Parquet files
 * (lib/consistency plans it; docs/consistency.md says what it compares). DuckDB rather than a
 * JavaScript diff: a hash join in DuckDB on 2 cores took about a third of the time of a JS diff over
 * parquet-wasm reads (shared/notes/lambda-consistency.md §2–3), and the data never crosses into JS.
 */
import {
  CheckInputError,
  resolveSide,
  runCheck,
  validateTolerances,
  type CheckReport,
  type LateDataInput,
  type PlanInput,
  type SideColumn,
  type SideSource,
  type SqlSide,
} from '../lib/consistency';
import { duckdbParquetRelation, emptyRelation } from '../lib/consistency/relations';
import { withDuckDb, type DuckDbOptions } from './duckdb';

/** A side: a Parquet file, a directory of part files, or an explicit list (with its columns, if it may be empty). */
export type LocalSide = SideSource & { columns?: readonly SideColumn[] };

export interface LocalCheckInput extends Pick<PlanInput, 'keys' | 'tolerances' | 'ignore' | 'sampleSize'> {
  batch: LocalSide;
  stream: LocalSide;
  lateData?: LateDataInput;
  duckdb?: DuckDbOptions;
}

/**
 * Runs the check in DuckDB. Bad input (a missing path, a directory without part files, a missing
 * key column, a misplaced tolerance, incomparable types) is a {@link CheckInputError}.
 */
export async function checkParquet(input: LocalCheckInput): Promise<CheckReport> {
  const tolerances = validateTolerances(input.tolerances ?? []);
  const batch = sqlSide('batch', input.batch);
  const stream = sqlSide('stream', input.stream);
  return withDuckDb(async (db) => {
    try {
      return await runCheck((sql) => db.query(sql), {
        dialect: 'duckdb',
        batch,
        stream,
        keys: input.keys,
        tolerances,
        ignore: input.ignore,
        lateData: input.lateData,
        sampleSize: input.sampleSize,
      });
    } catch (err) {
      // DuckDB's own refusal of a file (not Parquet, corrupt) is the input's fault too. (Not
      // `instanceof Error`: the native addon's errors come from another realm under jest.)
      const message = (err as { message?: unknown } | undefined)?.message;
      if (typeof message === 'string' && /^(IO|Invalid Input) Error/.test(message)) {
        throw new CheckInputError(message, { cause: err });
      }
      throw err;
    }
  }, input.duckdb);
}

function sqlSide(name: 'batch' | 'stream', side: LocalSide): SqlSide {
  if ('files' in side && side.files.length === 0) {
    if (!side.columns?.length) throw new CheckInputError(`${name}: no files, and no columns to read it as empty`);
    return { relation: emptyRelation('duckdb', side.columns), columns: side.columns };
  }
  return { relation: duckdbParquetRelation(resolveSide(name, side).files), columns: side.columns };
}
