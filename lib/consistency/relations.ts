/**
 * The SQL relations a check reads, per dialect: Parquet files for DuckDB, a lake table at a pinned
 * snapshot and partition (or Parquet paths) for Spark, and an empty relation of known columns (a
 * partition without data files).
 */
import { DIALECTS } from './dialect';
import type { SideColumn, TypeDialect } from './types';

/**
 * DuckDB: the given Parquet files, nothing else. Hive partitioning is off, so a path such as
 * `partition=2026-01-01/part-0.parquet` adds no column; all files must share one schema.
 */
export function duckdbParquetRelation(files: readonly string[]): string {
  if (files.length === 0) throw new Error('duckdbParquetRelation: no files (use emptyRelation with the columns)');
  return `read_parquet([${files.map((f) => DIALECTS.duckdb.string(f)).join(', ')}], hive_partitioning = false)`;
}

/** Spark: a lake table (e.g. lake.`page-views`.batch), at a snapshot, restricted to column = value pairs. */
export function sparkTableRelation(
  table: string,
  opts: { snapshotId?: string | number; where?: Record<string, string> } = {},
): string {
  const d = DIALECTS.spark;
  if (opts.snapshotId !== undefined && !/^\d+$/.test(String(opts.snapshotId))) {
    throw new Error(`sparkTableRelation: snapshot id must be digits, got ${JSON.stringify(String(opts.snapshotId))}`);
  }
  const version = opts.snapshotId === undefined ? '' : ` VERSION AS OF ${opts.snapshotId}`;
  const conditions = Object.entries(opts.where ?? {}).map(([c, v]) => `${d.ident(c)} = ${d.string(v)}`);
  return `(SELECT * FROM ${table}${version}${conditions.length ? ` WHERE ${conditions.join(' AND ')}` : ''})`;
}

/** Spark: Parquet files or directories, read as one relation. */
export function sparkParquetRelation(paths: readonly string[]): string {
  if (paths.length === 0) throw new Error('sparkParquetRelation: no paths (use emptyRelation with the columns)');
  const d = DIALECTS.spark;
  return `(${paths.map((p) => `SELECT * FROM parquet.${d.ident(p)}`).join(' UNION ALL ')})`;
}

/** A relation with the given columns and no rows. */
export function emptyRelation(dialect: TypeDialect, columns: readonly SideColumn[]): string {
  const d = DIALECTS[dialect];
  if (columns.length === 0) throw new Error('emptyRelation: no columns');
  return `(SELECT ${columns.map((c) => `CAST(NULL AS ${c.type}) AS ${d.ident(c.name)}`).join(', ')} WHERE false)`;
}
