/**
 * Column types of a consistency check's sides, as DuckDB (`DESCRIBE`) or Spark (`DESCRIBE QUERY`)
 * names them, sorted into the few classes the comparison cares about, and the common type two
 * sides' columns are normalised to before they are compared: decimals to one scale, timestamps to
 * epoch microseconds (nanoseconds when both sides have them) as UTC instants, integers to 64 bits.
 */
import { CheckInputError } from './errors';

export type TimeUnit = 's' | 'ms' | 'us' | 'ns';

export type TypeClass =
  | { kind: 'int'; digits: number; wide: boolean }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'float' }
  | { kind: 'string' }
  | { kind: 'boolean' }
  | { kind: 'date' }
  /** `utc`: an instant (TIMESTAMPTZ, Spark TIMESTAMP); otherwise a wall clock, read as UTC. */
  | { kind: 'timestamp'; unit: TimeUnit; utc: boolean }
  | { kind: 'other'; type: string };

/** A column of one side: its name and its type as the engine spells it. */
export interface SideColumn {
  name: string;
  type: string;
}

/** Decimal digits an integer type needs (its precision as a DECIMAL of scale 0). */
const INT_DIGITS: Record<string, [digits: number, wide: boolean]> = {
  TINYINT: [3, false],
  INT1: [3, false],
  BYTE: [3, false],
  UTINYINT: [3, false],
  SMALLINT: [5, false],
  INT2: [5, false],
  SHORT: [5, false],
  USMALLINT: [5, false],
  INTEGER: [10, false],
  INT: [10, false],
  INT4: [10, false],
  UINTEGER: [10, false],
  BIGINT: [19, false],
  INT8: [19, false],
  LONG: [19, false],
  UBIGINT: [20, true],
  HUGEINT: [38, true],
  UHUGEINT: [38, true],
};

/** The engine whose spelling a type name is in: they differ on `TIMESTAMP` and a bare `DECIMAL`. */
export type TypeDialect = 'duckdb' | 'spark';

/**
 * Sorts an engine's type name (any case) into its {@link TypeClass}. DuckDB's `TIMESTAMP` is a wall
 * clock and `TIMESTAMP WITH TIME ZONE` an instant; Spark's `TIMESTAMP` is an instant and
 * `TIMESTAMP_NTZ` a wall clock.
 */
export function classifyType(type: string, dialect: TypeDialect): TypeClass {
  const t = type.trim().toUpperCase();
  const int = INT_DIGITS[t];
  if (int) return { kind: 'int', digits: int[0], wide: int[1] };
  const dec = /^(?:DECIMAL|NUMERIC)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$/.exec(t);
  if (dec) {
    const [p, sc] = dialect === 'duckdb' ? [18, 3] : [10, 0];
    return { kind: 'decimal', precision: Number(dec[1] ?? p), scale: Number(dec[2] ?? (dec[1] ? 0 : sc)) };
  }
  if (['FLOAT', 'REAL', 'FLOAT4', 'DOUBLE', 'FLOAT8'].includes(t)) return { kind: 'float' };
  if (/^(VARCHAR|STRING|TEXT|CHAR|BPCHAR)(\s*\(\s*\d+\s*\))?$/.test(t)) return { kind: 'string' };
  if (t === 'BOOLEAN' || t === 'BOOL') return { kind: 'boolean' };
  if (t === 'DATE') return { kind: 'date' };
  switch (t) {
    case 'TIMESTAMP':
      return { kind: 'timestamp', unit: 'us', utc: dialect === 'spark' };
    case 'TIMESTAMP_S':
      return { kind: 'timestamp', unit: 's', utc: false };
    case 'TIMESTAMP_MS':
      return { kind: 'timestamp', unit: 'ms', utc: false };
    case 'TIMESTAMP_NS':
      return { kind: 'timestamp', unit: 'ns', utc: false };
    case 'DATETIME':
    case 'TIMESTAMP_US':
    case 'TIMESTAMP_NTZ':
      return { kind: 'timestamp', unit: 'us', utc: false };
    case 'TIMESTAMPTZ':
    case 'TIMESTAMP WITH TIME ZONE':
    case 'TIMESTAMP_LTZ':
      return { kind: 'timestamp', unit: 'us', utc: true };
  }
  return { kind: 'other', type: t };
}

/** What both sides' values of a column are cast to before comparing (see the dialects for the SQL). */
export type CommonType =
  | { kind: 'int'; wide: boolean }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'float' }
  | { kind: 'string' }
  | { kind: 'boolean' }
  | { kind: 'date' }
  | { kind: 'epoch'; unit: 'us' | 'ns' }
  | { kind: 'other'; type: string };

const MAX_DECIMAL_PRECISION = 38;

/** The numeric classes and the decimal digits each needs: [integer digits, scale]. */
function digitsOf(c: TypeClass): [number, number] | undefined {
  if (c.kind === 'int') return [c.digits, 0];
  if (c.kind === 'decimal') return [c.precision - c.scale, c.scale];
  return undefined;
}

export const isNumeric = (c: CommonType) => c.kind === 'int' || c.kind === 'decimal' || c.kind === 'float';

/**
 * The common type of a column whose batch type is `a` and stream type `b`, or a description of why
 * they cannot be compared. Decimals take the larger scale and as many integer digits as fit in 38
 * (DECIMAL(28,2) vs DECIMAL(38,2) → DECIMAL(38,2); DECIMAL(38,6) vs DECIMAL(38,8) → DECIMAL(38,8)).
 */
export function commonType(a: TypeClass, b: TypeClass): CommonType | string {
  if (a.kind === 'float' || b.kind === 'float') {
    if ((a.kind === 'float' || digitsOf(a)) && (b.kind === 'float' || digitsOf(b))) return { kind: 'float' };
    return 'a number and a non-number';
  }
  if (a.kind === 'int' && b.kind === 'int') return { kind: 'int', wide: a.wide || b.wide };
  const da = digitsOf(a);
  const db = digitsOf(b);
  if (da && db) {
    // The larger scale always: rounding it away could make unequal values equal. Integer digits
    // give way past 38 (a value that needs them fails the cast loudly rather than comparing wrong).
    const scale = Math.max(da[1], db[1]);
    return { kind: 'decimal', precision: Math.min(Math.max(da[0], db[0]) + scale, MAX_DECIMAL_PRECISION), scale };
  }
  if (da || db) return 'a number and a non-number';
  if (a.kind === 'timestamp' && b.kind === 'timestamp') {
    return { kind: 'epoch', unit: a.unit === 'ns' && b.unit === 'ns' ? 'ns' : 'us' };
  }
  if (a.kind !== b.kind) return `${a.kind} and ${b.kind}`;
  if (a.kind === 'other' && b.kind === 'other') {
    return a.type === b.type ? { kind: 'other', type: a.type } : `${a.type} and ${b.type}`;
  }
  return { kind: a.kind } as CommonType;
}

/** {@link commonType}, or a {@link CheckInputError} naming the column and both types. */
export function requireCommonType(
  what: string,
  batch: SideColumn,
  stream: SideColumn,
  dialect: TypeDialect,
): CommonType {
  const t = commonType(classifyType(batch.type, dialect), classifyType(stream.type, dialect));
  if (typeof t === 'string') {
    throw new CheckInputError(
      `${what} "${batch.name}": batch type ${batch.type} and stream type ${stream.type} cannot be compared (${t})`,
    );
  }
  return t;
}
