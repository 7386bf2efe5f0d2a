/**
 * A PostgreSQL row, as its text output (what logical decoding and a text-mode SELECT both give),
 * made readable by the intake's record rules (records.ts, read `fromText` as CSV is): booleans
 * `t`/`f` become `true`/`false`, and timestamps become ISO-8601 (PostgreSQL writes
 * `2026-12-01 10:00:00.5+00`, a zone of hours only, which ISO-8601 readers refuse). Every other
 * value stays the text PostgreSQL wrote: numbers are read by the schema's type, and a value that is
 * not of its declared type becomes a dead letter there, naming the column.
 */

/** Type OIDs of pg_type (stable across PostgreSQL versions). */
export const PG_TYPES = { bool: 16, timestamp: 1114, timestamptz: 1184 } as const;

/** One value's text, as the record rules read it. */
export function pgText(text: string, typeOid: number): string {
  switch (typeOid) {
    case PG_TYPES.bool:
      return text === 't' ? 'true' : text === 'f' ? 'false' : text;
    case PG_TYPES.timestamptz: {
      // `+00`, `+05:30` or `-03:30:15` (seconds, for historical zones): ISO needs `±hh:mm`.
      const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})(?::(\d{2}))?(?::\d{2})?$/.exec(text);
      return m ? `${m[1]}T${m[2]}${m[3]}:${m[4] ?? '00'}` : text;
    }
    case PG_TYPES.timestamp:
      return /^\d{4}-\d{2}-\d{2} \d/.test(text) ? text.replace(' ', 'T') : text;
    default:
      return text;
  }
}

/** A row of column → text (null for SQL NULL) with its columns' type OIDs, as the record rules read it. */
export function pgRow(
  row: Record<string, string | null>,
  types: Record<string, number>,
): Record<string, string | null> {
  return Object.fromEntries(
    Object.entries(row).map(([c, v]) => [c, v === null ? null : pgText(v, types[c] ?? 0)] as const),
  );
}
