/**
 * One source line → one record held to the intake's schema, or the reason it is a dead letter.
 * Pure, so every rule has a unit test: the record has exactly the declared columns, in the
 * schema's order (undeclared fields are dropped, every declared one is required and non-null), each
 * value of its declared type, and the event time as epoch milliseconds UTC whatever it came as
 * (epoch milliseconds, or an ISO-8601 string; one without a zone is read as UTC).
 */
import { parse as parseCsv } from 'csv-parse/sync';
import type { ColumnType } from '../pipelines/spec';
import type { IntakeSpec } from './spec';

export type IntakeRecord = Record<string, string | number | boolean>;

export type Normalised = { ok: true; record: IntakeRecord; key: string | null } | { ok: false; reason: string };

const INT32 = 2 ** 31;
/** ISO-8601 date-time, with an optional zone: `2026-12-01T10:00:00Z`, `2026-12-01 10:00:00.5+01:00`. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Parses one line of a files intake's format (`header`: the CSV file's first line) and normalises it. */
export function normaliseLine(spec: IntakeSpec, text: string, header?: string): Normalised {
  if (spec.source.kind !== 'files')
    throw new Error(`normaliseLine reads lines of a files source, not ${spec.source.kind}`);
  if (spec.source.format === 'jsonl') return normaliseText(spec, 'json', text);
  if (header === undefined) return { ok: false, reason: 'CSV line without a header line before it' };
  let names: string[];
  try {
    names = (parseCsv(header, { relax_column_count: false }) as string[][])[0]!;
  } catch (err) {
    return { ok: false, reason: `not CSV: ${(err as Error).message}` };
  }
  return normaliseText(spec, 'csv', text, names);
}

/** Parses one JSON object, or one CSV row whose fields are `names`, and normalises it. */
export function normaliseText(
  spec: IntakeSpec,
  format: 'json' | 'csv',
  text: string,
  names: string[] = [],
): Normalised {
  let raw: unknown;
  if (format === 'json') {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      return { ok: false, reason: `not JSON: ${(err as Error).message}` };
    }
  } else {
    try {
      const rows = parseCsv(text, { relax_column_count: false }) as string[][];
      if (rows.length !== 1) return { ok: false, reason: `expected one CSV row, got ${rows.length}` };
      const row = rows[0]!;
      if (row.length !== names.length) {
        return { ok: false, reason: `CSV row has ${row.length} fields, the header ${names.length}` };
      }
      raw = Object.fromEntries(names.map((n, i) => [n, row[i]]));
    } catch (err) {
      return { ok: false, reason: `not CSV: ${(err as Error).message}` };
    }
  }
  return normaliseRecord(spec, raw, format === 'csv');
}

/** Holds a parsed value to the schema; `fromText`: every value arrived as a string (CSV). */
export function normaliseRecord(spec: IntakeSpec, raw: unknown, fromText = false): Normalised {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, reason: `expected a JSON object, got ${describeValue(raw)}` };
  }
  const input = raw as Record<string, unknown>;
  const record: IntakeRecord = {};
  for (const [column, type] of Object.entries(spec.schema)) {
    if (!Object.hasOwn(input, column) || input[column] === null || input[column] === undefined) {
      return { ok: false, reason: `column "${column}": missing` };
    }
    const c = column === spec.eventTime ? eventTime(input[column]) : convert(type, input[column], fromText);
    if ('error' in c) return { ok: false, reason: `column "${column}": ${c.error}` };
    record[column] = c.value;
  }
  const key = spec.key.length ? JSON.stringify(spec.key.map((k) => record[k])) : null;
  return { ok: true, record, key };
}

/**
 * The message key of a row of which only the key columns are known (a deleted row's old key),
 * converted as {@link normaliseRecord} converts them, so it equals the key its inserts were sent
 * with; a reason when a key column is missing or not of its type.
 */
export function normaliseKey(spec: IntakeSpec, raw: Record<string, unknown>, fromText = false): Normalised {
  const record: IntakeRecord = {};
  for (const column of spec.key) {
    const v = raw[column];
    if (v === null || v === undefined) return { ok: false, reason: `key column "${column}": missing` };
    const type = spec.schema[column]!;
    const c = column === spec.eventTime ? eventTime(v) : convert(type, v, fromText);
    if ('error' in c) return { ok: false, reason: `key column "${column}": ${c.error}` };
    record[column] = c.value;
  }
  return { ok: true, record, key: JSON.stringify(spec.key.map((k) => record[k])) };
}

type Converted = { value: string | number | boolean } | { error: string };
const fail = (error: string): Converted => ({ error });

function convert(type: ColumnType, v: unknown, fromText: boolean): Converted {
  switch (type) {
    case 'string':
      return typeof v === 'string' ? { value: v } : fail(`expected a string, got ${describeValue(v)}`);
    case 'boolean': {
      if (typeof v === 'boolean') return { value: v };
      if (fromText && (v === 'true' || v === 'false')) return { value: v === 'true' };
      return fail(`expected true or false, got ${describeValue(v)}`);
    }
    case 'int':
    case 'bigint':
    case 'epoch_millis': {
      const n = number(v, fromText);
      const inRange = type === 'int' ? n !== undefined && n >= -INT32 && n < INT32 : true;
      if (n === undefined || !Number.isSafeInteger(n) || !inRange) {
        return fail(`expected ${type === 'int' ? 'a 32-bit integer' : 'an integer'}, got ${describeValue(v)}`);
      }
      return { value: n };
    }
    case 'double': {
      const n = number(v, fromText);
      return n !== undefined && Number.isFinite(n) ? { value: n } : fail(`expected a number, got ${describeValue(v)}`);
    }
    case 'timestamp': {
      const ms = isoMillis(v);
      return ms === undefined
        ? fail(`expected an ISO-8601 date-time, got ${describeValue(v)}`)
        : { value: new Date(ms).toISOString() };
    }
  }
}

/** The event time as epoch milliseconds UTC, from epoch milliseconds or an ISO-8601 string. */
function eventTime(v: unknown): Converted {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : undefined;
  if (n !== undefined) {
    return Number.isSafeInteger(n) ? { value: n } : fail(`expected epoch milliseconds, got ${describeValue(v)}`);
  }
  const ms = isoMillis(v);
  return ms === undefined
    ? fail(`expected epoch milliseconds or an ISO-8601 date-time, got ${describeValue(v)}`)
    : { value: ms };
}

function isoMillis(v: unknown): number | undefined {
  if (typeof v !== 'string' || !ISO_DATE_TIME.test(v)) return undefined;
  // Without a zone, Date.parse reads a date-time as local time: the intake reads it as UTC.
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(v) ? v : `${v}Z`;
  const ms = Date.parse(zoned.replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : ms;
}

function number(v: unknown, fromText: boolean): number | undefined {
  if (typeof v === 'number') return v;
  if (fromText && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

function describeValue(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
