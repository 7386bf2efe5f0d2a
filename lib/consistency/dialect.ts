/**
 * The two SQL dialects a consistency check is planned for: DuckDB (the local check, in-process) and
 * Spark SQL (large partitions, through Spark Connect). The plan (plan.ts) is one; only what the
 * engines spell differently lives here. Where the semantics need care:
 *
 * - **NULL keys**: `=` never matches NULL, in both engines. Keys are joined null-safe: DuckDB
 *   `IS NOT DISTINCT FROM`, Spark `<=>`. GROUP BY puts NULLs together in both.
 * - **NaN**: both engines treat NaN as equal to NaN and larger than every number (DuckDB: measured,
 *   notes §3; Spark: its documented NaN semantics). So `a = b` and null-safe equality already give
 *   "NaN equals only NaN", but a tolerance predicate `abs(a-b) <= y*greatest(|a|,|b|)` is TRUE for
 *   NaN vs a number (NaN <= NaN). Tolerances therefore test NaN first (`isnan`, the same name in
 *   both). Infinity has the same trap (|∞−1| = ∞ <= y·∞): `a = b` first, then an infinite side
 *   differs. DuckDB has `isinf`; Spark does not, so it compares `abs(x)` with `'Infinity'`.
 * - **±0**: equal under `=` and grouped together in both (DuckDB hashes -0.0 like 0.0, measured;
 *   Spark normalises it in joins and aggregates).
 * - **Timestamps** become epoch microseconds (BIGINT) before comparing: DuckDB `epoch_us` works on
 *   every TIMESTAMP_* type and on TIMESTAMPTZ (an instant, independent of the session time zone);
 *   a TIMESTAMP without zone is its wall clock read as UTC. Spark's TIMESTAMP is an instant
 *   (`unix_micros`); its TIMESTAMP_NTZ is a wall clock, taken as UTC without the session zone
 *   (`timestampdiff` from the NTZ epoch).
 * - **Decimals** are cast to one precision and scale (types.ts); DuckDB and Spark both compare
 *   decimals exactly and subtract them exactly within 38 digits.
 * - **Integers** are subtracted in 128 bits (DuckDB HUGEINT, Spark DECIMAL(38,0)) so an absolute
 *   tolerance cannot overflow BIGINT.
 * - **Samples**: DuckDB has a bounded top-N aggregate (`min(x, n)`), so the samples come out of the
 *   summary's one pass. Spark 4.1 has none, so its plan caches the classified rows
 *   (`CACHE TABLE`) and reads the summary and each sample (`ORDER BY ... NULLS LAST LIMIT n`, the
 *   order DuckDB's struct comparison gives) from the cache.
 * - **Literals**: Spark string literals take backslash escapes; DuckDB's do not.
 */
import type { CommonType, TypeClass, TypeDialect } from './types';

export interface Dialect {
  readonly name: TypeDialect;
  /** A quoted identifier. */
  ident(name: string): string;
  /** A string literal. */
  string(value: string): string;
  /** `a` equals `b`, NULL equal to NULL. */
  notDistinct(a: string, b: string): string;
  isNan(x: string): string;
  isInf(x: string): string;
  /** The SQL type of a common type (what both sides are cast to). */
  sqlType(t: CommonType): string;
  /** A side's column `x` of class `from`, normalised to `to`. */
  normalise(x: string, from: TypeClass, to: CommonType): string;
  /** An integer widened so that subtracting two cannot overflow. */
  wideInt(x: string): string;
  /** `DESCRIBE` of a relation: rows naming each column and its type (see {@link describedColumns}). */
  describe(relation: string): string;
  /** The column name and type fields of {@link describe}'s rows. */
  readonly describeFields: { name: string; type: string };
  /** A struct value of named fields (`[name, expression]`), comparable and usable in DISTINCT. */
  struct(fields: readonly (readonly [string, string])[]): string;
  /** Whether the summary pass carries the samples itself (a bounded top-N aggregate). */
  readonly samplesInline: boolean;
}

const doubleQuoted = (name: string) => `"${name.replace(/"/g, '""')}"`;
const backticked = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/** The SQL type of each common type; the dialects differ only in the names of two. */
function sqlTypes(names: { wideInt: string; string: string }): (t: CommonType) => string {
  return (t) => {
    switch (t.kind) {
      case 'int':
        return t.wide ? names.wideInt : 'BIGINT';
      case 'decimal':
        return `DECIMAL(${t.precision},${t.scale})`;
      case 'float':
        return 'DOUBLE';
      case 'string':
        return names.string;
      case 'boolean':
        return 'BOOLEAN';
      case 'date':
        return 'DATE';
      case 'epoch':
        return 'BIGINT';
      case 'other':
        return t.type;
    }
  };
}

function castTo(d: Dialect, x: string, to: CommonType): string {
  return to.kind === 'other' || to.kind === 'boolean' || to.kind === 'date' ? x : `CAST(${x} AS ${d.sqlType(to)})`;
}

export const duckdb: Dialect = {
  name: 'duckdb',
  ident: doubleQuoted,
  string: (v) => `'${v.replace(/'/g, "''")}'`,
  notDistinct: (a, b) => `${a} IS NOT DISTINCT FROM ${b}`,
  isNan: (x) => `isnan(${x})`,
  isInf: (x) => `isinf(${x})`,
  sqlType: sqlTypes({ wideInt: 'HUGEINT', string: 'VARCHAR' }),
  normalise(x, _from, to) {
    if (to.kind === 'epoch') return to.unit === 'ns' ? `epoch_ns(${x})` : `epoch_us(${x})`;
    return castTo(this, x, to);
  },
  wideInt: (x) => `CAST(${x} AS HUGEINT)`,
  describe: (relation) => `DESCRIBE SELECT * FROM ${relation}`,
  describeFields: { name: 'column_name', type: 'column_type' },
  struct: (fields) => `{${fields.map(([n, x]) => `'${n}': ${x}`).join(', ')}}`,
  samplesInline: true,
};

export const spark: Dialect = {
  name: 'spark',
  ident: backticked,
  string: (v) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`,
  notDistinct: (a, b) => `${a} <=> ${b}`,
  isNan: (x) => `isnan(${x})`,
  isInf: (x) => `abs(${x}) = CAST('Infinity' AS DOUBLE)`,
  sqlType: sqlTypes({ wideInt: 'DECIMAL(38,0)', string: 'STRING' }),
  normalise(x, from, to) {
    if (to.kind === 'epoch') {
      if (from.kind === 'timestamp' && !from.utc)
        return `timestampdiff(MICROSECOND, TIMESTAMP_NTZ'1970-01-01 00:00:00', ${x})`;
      return `unix_micros(${x})`;
    }
    return castTo(this, x, to);
  },
  wideInt: (x) => `CAST(${x} AS DECIMAL(38,0))`,
  describe: (relation) => `DESCRIBE QUERY SELECT * FROM ${relation}`,
  describeFields: { name: 'col_name', type: 'data_type' },
  struct: (fields) => `named_struct(${fields.map(([n, x]) => `'${n}', ${x}`).join(', ')})`,
  samplesInline: false,
};

export const DIALECTS: Record<TypeDialect, Dialect> = { duckdb, spark };
