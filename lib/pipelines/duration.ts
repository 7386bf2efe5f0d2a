/** A unit of a window length, singular. */
export type DurationUnit = 'second' | 'minute' | 'hour' | 'day';

/** A parsed `"<n> <unit>"` length such as `15 minutes`. */
export interface Duration {
  n: number;
  unit: DurationUnit;
  /** Length in milliseconds. */
  ms: number;
  /** Canonical text: `1 minute`, `15 minutes` (Spark's interval syntax). */
  text: string;
}

const UNIT_MS: Record<DurationUnit, number> = { second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };

const DURATION = /^([1-9][0-9]{0,5}) (second|minute|hour|day)s?$/;

/** What {@link parseDuration} accepts, for error messages. */
export const DURATION_SYNTAX = '"<n> <unit>" with unit second(s), minute(s), hour(s) or day(s)';

/**
 * Parses `"<n> <unit>"` (a positive integer, one space, a lowercase unit, singular or plural),
 * e.g. `1 minute`, `15 minutes`, `2 hours`. Returns undefined for anything else.
 */
export function parseDuration(text: string): Duration | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  const n = Number(match[1]);
  const unit = match[2] as DurationUnit;
  return { n, unit, ms: n * UNIT_MS[unit], text: `${n} ${unit}${n === 1 ? '' : 's'}` };
}
