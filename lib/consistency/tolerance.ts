import { z } from 'zod';
import { formatZodIssues } from '../zod-issues';
import { CheckInputError } from './errors';

/**
 * Per-column tolerances of a consistency check. `abs: x` accepts |a − b| ≤ x, `rel: y` accepts
 * |a − b| ≤ y · max(|a|, |b|); a column without one must be exactly equal. Only numeric value
 * columns take a tolerance (the planner checks that against the sides' schemas).
 */
export const ToleranceSchema = z.strictObject({
  column: z.string().min(1, 'expected a column name'),
  kind: z.enum(['abs', 'rel'], { error: 'expected abs or rel' }),
  value: z.number({ error: 'expected a finite number >= 0' }).min(0, { error: 'expected a finite number >= 0' }),
});

export type Tolerance = z.output<typeof ToleranceSchema>;

export const TolerancesSchema = z.array(ToleranceSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((t, i) => {
    if (seen.has(t.column))
      ctx.addIssue({ code: 'custom', path: [i, 'column'], message: `column "${t.column}" has two tolerances` });
    seen.add(t.column);
  });
});

const ENTRY = /^(.+)=([^=:]*):(.*)$/;

/**
 * Parses the CLI's `col=abs:x,col=rel:y` (entries separated by commas; `flag` names the option in
 * messages), e.g. `--tolerance "amount=abz:1": expected abs:<number> or rel:<number>`.
 */
export function parseTolerances(text: string, flag = '--tolerance'): Tolerance[] {
  const out: Tolerance[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const bad = (problem: string) => new CheckInputError(`${flag} "${entry}": ${problem}`);
    const m = ENTRY.exec(entry);
    if (!m) throw bad('expected <column>=abs:<number> or <column>=rel:<number>');
    const [, column, kind, number] = m as unknown as [string, string, string, string];
    if (kind !== 'abs' && kind !== 'rel') throw bad('expected abs:<number> or rel:<number>');
    const value = number.trim() === '' ? NaN : Number(number);
    const parsed = ToleranceSchema.safeParse({ column: column.trim(), kind, value });
    if (!parsed.success) throw bad(`${parsed.error.issues[0]!.message}, got "${number}"`);
    out.push(parsed.data);
  }
  return validateTolerances(out, flag);
}

/** Validates tolerances given as data (an activity's input); errors name the entry and field. */
export function validateTolerances(input: unknown, what = 'tolerances'): Tolerance[] {
  const parsed = TolerancesSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new CheckInputError(`invalid ${what}: ${formatZodIssues(parsed.error).join('; ')}`, { cause: parsed.error });
}
