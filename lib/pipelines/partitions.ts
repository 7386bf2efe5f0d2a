/**
 * Partitions of a batch pipeline's output: UTC hours (`YYYY-MM-DDTHH`) or UTC days
 * (`YYYY-MM-DD`), each covering the half-open event-time range [start, end) in epoch ms.
 *
 * Pure calendar arithmetic on integers (no `Date`, no clock), safe in Temporal workflow code.
 * Ids are fixed-width, so for one partitioning their string order is their time order.
 */

/** How a pipeline's output is cut into partitions. */
export type Partitioning = 'hour' | 'day';

export const PARTITIONINGS: readonly Partitioning[] = ['hour', 'day'];

/** Length of one partition in milliseconds. */
export const PARTITION_MS: Readonly<Record<Partitioning, number>> = { hour: 3_600_000, day: 86_400_000 };

/**
 * Most partitions {@link partitionsBetween} returns at once, so that a backfill's list of
 * partitions stays well below Temporal's payload limits (10,000 hour ids ≈ 160 KB of JSON).
 * Larger ranges must be split by the caller.
 */
export const MAX_PARTITIONS_PER_RANGE = 10_000;

/** A partition id, partitioning or range that is not valid; permanent (a retry cannot fix it). */
export class InvalidPartition extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPartition';
  }
}

/** Half-open event-time range [start, end) in epoch milliseconds. */
export interface TimeRange {
  start: number;
  end: number;
}

const ID_FORMAT: Record<Partitioning, string> = { hour: 'YYYY-MM-DDTHH', day: 'YYYY-MM-DD' };
const ID_PATTERN: Record<Partitioning, RegExp> = {
  hour: /^(\d{4})-(\d{2})-(\d{2})T(\d{2})$/,
  day: /^(\d{4})-(\d{2})-(\d{2})$/,
};
const DAY_MS = 86_400_000;
/** Ids have four-digit years: 0000-01-01T00:00Z to 9999-12-31T23:59:59.999Z. */
const MIN_MS = daysFromCivil(0, 1, 1) * DAY_MS;
const MAX_MS = daysFromCivil(10_000, 1, 1) * DAY_MS;

/**
 * The partition holding `epochMs` (UTC), for a partitioning or for a spec's partitioning.
 * @example partitionOf('hour', Date.UTC(2026, 10, 25, 10, 42)) // '2026-11-25T10'
 */
export function partitionOf(of: Partitioning | { partitioning: Partitioning }, epochMs: number): string {
  const partitioning = checkPartitioning(typeof of === 'string' ? of : of.partitioning);
  if (!Number.isFinite(epochMs) || epochMs < MIN_MS || epochMs >= MAX_MS) {
    throw new InvalidPartition(`time ${epochMs}: not an epoch-ms instant in years 0000-9999`);
  }
  const ms = Math.floor(epochMs);
  const days = Math.floor(ms / DAY_MS);
  const { y, m, d } = civilFromDays(days);
  const day = `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
  return partitioning === 'day' ? day : `${day}T${pad(Math.floor((ms - days * DAY_MS) / 3_600_000), 2)}`;
}

/**
 * The event-time range [start, end) of a partition, in epoch ms.
 * @throws InvalidPartition when `id` is not a valid id of `partitioning`, e.g.
 *   `partition "2026-13-01": not a valid day partition (YYYY-MM-DD)`.
 */
export function partitionBounds(partitioning: Partitioning, id: string): TimeRange {
  checkPartitioning(partitioning);
  const match = typeof id === 'string' ? ID_PATTERN[partitioning].exec(id) : null;
  const invalid = () =>
    new InvalidPartition(
      `partition ${JSON.stringify(id)}: not a valid ${partitioning} partition (${ID_FORMAT[partitioning]})`,
    );
  if (!match) throw invalid();
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const hour = partitioning === 'hour' ? Number(match[4]) : 0;
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m) || hour > 23) throw invalid();
  const start = daysFromCivil(y, m, d) * DAY_MS + hour * 3_600_000;
  return { start, end: start + PARTITION_MS[partitioning] };
}

/** The partitioning an id is written in (by its shape; the id is also checked to be valid). */
export function partitioningOf(id: string): Partitioning {
  const partitioning: Partitioning = typeof id === 'string' && id.length === 13 ? 'hour' : 'day';
  partitionBounds(partitioning, id);
  return partitioning;
}

/**
 * Every partition id from `from` to `to`, both included, in time order.
 * @throws InvalidPartition for an invalid id, an inverted range (`from 2026-01-03 is after to
 *   2026-01-01`), or a range of more than {@link MAX_PARTITIONS_PER_RANGE} partitions.
 */
export function partitionsBetween(partitioning: Partitioning, from: string, to: string): string[] {
  const first = partitionBounds(partitioning, from).start;
  const last = partitionBounds(partitioning, to).start;
  if (last < first) throw new InvalidPartition(`from ${from} is after to ${to}`);
  const size = PARTITION_MS[partitioning];
  const count = (last - first) / size + 1;
  if (count > MAX_PARTITIONS_PER_RANGE) {
    throw new InvalidPartition(
      `range ${from}..${to} spans ${count} ${partitioning} partitions; at most ${MAX_PARTITIONS_PER_RANGE} at once (split the range)`,
    );
  }
  const ids: string[] = [];
  for (let start = first; start <= last; start += size) ids.push(partitionOf(partitioning, start));
  return ids;
}

/**
 * Whether `id` lies in the inclusive range `from`..`to`. All three must be valid ids of the same
 * partitioning.
 * @throws InvalidPartition for invalid or mixed ids and for an inverted range.
 */
export function partitionInRange(id: string, from: string, to: string): boolean {
  const partitioning = partitioningOf(id);
  for (const other of [from, to]) {
    if (partitioningOf(other) !== partitioning) {
      throw new InvalidPartition(`partition ${other} is not a ${partitioning} partition like ${id}`);
    }
  }
  if (to < from) throw new InvalidPartition(`from ${from} is after to ${to}`);
  return from <= id && id <= to;
}

/**
 * The partitions of `partitioning` that overlap `range`, e.g. the 24 hour partitions of an
 * upstream pipeline under one day partition: `partitionsOverlapping('hour', partitionBounds('day', id))`.
 * @throws InvalidPartition for an empty range or one above {@link MAX_PARTITIONS_PER_RANGE}.
 */
export function partitionsOverlapping(partitioning: Partitioning, range: TimeRange): string[] {
  if (!(range.end > range.start)) throw new InvalidPartition(`empty time range [${range.start}, ${range.end})`);
  return partitionsBetween(
    partitioning,
    partitionOf(partitioning, range.start),
    partitionOf(partitioning, range.end - 1),
  );
}

/** `2026-11-25T10:00:00Z`: an instant as UTC ISO 8601, whole seconds (milliseconds when present). */
export function isoUtc(epochMs: number): string {
  const days = Math.floor(epochMs / DAY_MS);
  const { y, m, d } = civilFromDays(days);
  const inDay = epochMs - days * DAY_MS;
  const [hh, mm, ss, ms] = [
    Math.floor(inDay / 3_600_000),
    Math.floor(inDay / 60_000) % 60,
    Math.floor(inDay / 1_000) % 60,
    inDay % 1_000,
  ];
  const fraction = ms === 0 ? '' : `.${pad(ms, 3)}`;
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}${fraction}Z`;
}

function checkPartitioning(partitioning: Partitioning): Partitioning {
  if (partitioning !== 'hour' && partitioning !== 'day') {
    throw new InvalidPartition(`unknown partitioning ${JSON.stringify(partitioning)} (expected hour or day)`);
  }
  return partitioning;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(m) ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`). */
function daysFromCivil(year: number, m: number, d: number): number {
  const y = m <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The inverse of {@link daysFromCivil} (H. Hinnant's `civil_from_days`). */
function civilFromDays(days: number): { y: number; m: number; d: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1_460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m, d };
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * Why `partition` is outside a pipeline's schedule (`schedule.start`..`schedule.end`), or undefined
 * when it is inside (or the pipeline has no schedule). Ids of one partitioning sort as their times.
 */
export function outsideSchedule(
  spec: { name: string; schedule?: { start: string; end?: string } },
  partition: string,
): string | undefined {
  const s = spec.schedule;
  if (!s) return undefined;
  if (partition < s.start) return `partition ${partition} is before the start of pipeline ${spec.name} (${s.start})`;
  if (s.end !== undefined && partition > s.end) {
    return `partition ${partition} is after the end of pipeline ${spec.name} (${s.end})`;
  }
  return undefined;
}
