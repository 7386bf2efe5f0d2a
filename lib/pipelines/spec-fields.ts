/**
 * The building blocks of Sluice's zod specs (pipelines, intakes): every message says what was
 * expected, and `required` when the field is missing, so a rejected spec names the path and the
 * problem the same way whichever spec it is.
 */
import { z } from 'zod';
import { DURATION_SYNTAX, parseDuration } from './duration';

/** Column and output names: plain identifiers, so they never need escaping inside backticks. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Kafka's own rule for topic names. */
export const KAFKA_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

export type Issue = { input?: unknown };
export const expected = (what: string) => (issue: Issue) =>
  issue.input === undefined ? 'required' : `expected ${what}`;
/** For objects and unions: our message for a missing or non-object value, zod's otherwise. */
export const objectError = (what: string) => (issue: Issue & { code?: string }) =>
  issue.code === 'invalid_type' ? expected(what)(issue) : undefined;

/** A strict object (unknown keys are rejected by name) that says `required` when missing. */
export function strict<T extends z.core.$ZodLooseShape>(shape: T, what = 'an object') {
  return z.strictObject(shape, { error: objectError(what) });
}

export function text(what = 'a non-empty string') {
  return z.string({ error: expected(what) }).min(1, { error: `expected ${what}` });
}

export function matching(pattern: RegExp, what: string) {
  return z
    .string({ error: expected(what) })
    .regex(pattern, { error: (issue) => `expected ${what}, got ${JSON.stringify(issue.input)}` });
}

/** A positive finite number (zod's numbers exclude Infinity and NaN). */
export function positive(what = 'a positive number') {
  return z.number({ error: expected(what) }).positive({ error: `expected ${what}` });
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const list = values.map((v) => JSON.stringify(v)).join(' | ');
  return z.enum(values, {
    error: (issue) => (issue.input === undefined ? 'required' : `expected ${list}, got ${JSON.stringify(issue.input)}`),
  });
}

export const columnName = () => matching(IDENTIFIER, 'a column name matching ^[A-Za-z_][A-Za-z0-9_]*$');
export const kafkaTopic = () => matching(KAFKA_TOPIC, 'a Kafka topic name (letters, digits, ".", "_", "-")');

/** A `"<n> <unit>"` length (see `parseDuration`). */
export function duration() {
  return z.string({ error: expected(DURATION_SYNTAX) }).refine((t) => parseDuration(t) !== undefined, {
    error: (issue) => `expected ${DURATION_SYNTAX}, got ${JSON.stringify(issue.input)}`,
  });
}

/** An integer in `[min, max]`; the message states the range. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  const what = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  return z
    .number({ error: expected(what) })
    .int({ error: `expected ${what}` })
    .min(min, { error: `expected ${what}` })
    .max(max, { error: `expected ${what}` });
}

/** Demand of one run (batch) or one task slot (stream). */
export function resources() {
  return strict({
    cpu: positive(),
    memoryMb: positive('a positive integer').int({ error: 'expected a positive integer' }),
  });
}

/** Copies the issues of a failed inner parse into `ctx`, paths kept. */
export function forwardIssues(error: z.ZodError, ctx: z.RefinementCtx): void {
  for (const issue of error.issues) {
    ctx.addIssue({ code: 'custom', path: issue.path as PropertyKey[], message: issue.message });
  }
}

export const isObject = (input: unknown): input is Record<string, unknown> =>
  input !== null && typeof input === 'object' && !Array.isArray(input);

export function describe(input: unknown, key: string): string {
  const value = input !== null && typeof input === 'object' ? (input as Record<string, unknown>)[key] : input;
  return value === undefined ? '(missing)' : JSON.stringify(value);
}

/** Column name → type (one of `types`), in the order the columns are read; at least one. */
export function columnsSchema<const T extends readonly [string, ...string[]]>(types: T) {
  return z
    .record(z.string().regex(IDENTIFIER), oneOf(types), {
      error: (issue) => {
        if (issue.code === 'invalid_key') {
          return `invalid column name ${JSON.stringify(issue.input)}: must match ^[A-Za-z_][A-Za-z0-9_]*$`;
        }
        return issue.input === undefined ? 'required' : 'expected an object of column name → type';
      },
    })
    .refine((columns) => Object.keys(columns).length > 0, { error: 'declare at least one column' });
}
