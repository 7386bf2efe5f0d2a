import fc from 'fast-check';
import {
  InvalidPartition,
  MAX_PARTITIONS_PER_RANGE,
  partitionBounds,
  partitionInRange,
  partitioningOf,
  partitionOf,
  partitionsBetween,
  partitionsOverlapping,
  type Partitioning,
} from '../../../lib/pipelines';

const HOUR = 3_600_000;
const DAY = 86_400_000;

describe('partitionOf', () => {
  it('names the UTC hour or day of an instant', () => {
    const t = Date.UTC(2026, 10, 25, 10, 42, 7, 123);
    expect(partitionOf('hour', t)).toBe('2026-11-25T10');
    expect(partitionOf('day', t)).toBe('2026-11-25');
    expect(partitionOf({ partitioning: 'hour' }, t)).toBe('2026-11-25T10');
  });

  it('puts each boundary instant in the partition it starts', () => {
    expect(partitionOf('hour', Date.UTC(2026, 10, 25, 11) - 1)).toBe('2026-11-25T10');
    expect(partitionOf('hour', Date.UTC(2026, 10, 25, 11))).toBe('2026-11-25T11');
    expect(partitionOf('hour', Date.UTC(2026, 0, 1) - 1)).toBe('2025-12-31T23');
    expect(partitionOf('day', Date.UTC(2026, 0, 1) - 1)).toBe('2025-12-31');
    expect(partitionOf('day', Date.UTC(2026, 0, 1))).toBe('2026-01-01');
    expect(partitionOf('day', Date.UTC(2026, 2, 1) - 1)).toBe('2026-02-28');
    expect(partitionOf('day', Date.UTC(2028, 2, 1) - 1)).toBe('2028-02-29');
    expect(partitionOf('hour', Date.UTC(2028, 1, 29, 23, 59))).toBe('2028-02-29T23');
    expect(partitionOf('day', Date.UTC(2100, 2, 1) - 1)).toBe('2100-02-28');
    expect(partitionOf('day', Date.UTC(2000, 2, 1) - 1)).toBe('2000-02-29');
    expect(partitionOf('hour', 0)).toBe('1970-01-01T00');
    expect(partitionOf('day', -1)).toBe('1969-12-31');
  });

  it('rejects instants it cannot name and unknown partitionings', () => {
    expect(() => partitionOf('hour', NaN)).toThrow(
      new InvalidPartition('time NaN: not an epoch-ms instant in years 0000-9999'),
    );
    expect(() => partitionOf('day', Date.UTC(10000, 0, 1))).toThrow(InvalidPartition);
    const first = partitionBounds('day', '0000-01-01').start;
    expect(partitionOf('day', first)).toBe('0000-01-01');
    expect(() => partitionOf('day', first - 1)).toThrow(InvalidPartition);
    expect(partitionOf('hour', partitionBounds('hour', '9999-12-31T23').end - 1)).toBe('9999-12-31T23');
    expect(partitionBounds('day', '0000-02-29').end).toBe(partitionBounds('day', '0000-03-01').start);
    expect(() => partitionOf('week' as Partitioning, 0)).toThrow('unknown partitioning "week" (expected hour or day)');
  });
});

describe('partitionBounds', () => {
  it('gives [start, end) in epoch ms', () => {
    expect(partitionBounds('hour', '2026-11-25T10')).toEqual({
      start: Date.UTC(2026, 10, 25, 10),
      end: Date.UTC(2026, 10, 25, 11),
    });
    expect(partitionBounds('hour', '2025-12-31T23')).toEqual({
      start: Date.UTC(2025, 11, 31, 23),
      end: Date.UTC(2026, 0, 1),
    });
    expect(partitionBounds('day', '2028-02-29')).toEqual({ start: Date.UTC(2028, 1, 29), end: Date.UTC(2028, 2, 1) });
    expect(partitionBounds('day', '2026-01-31')).toEqual({ start: Date.UTC(2026, 0, 31), end: Date.UTC(2026, 1, 1) });
  });

  it('rejects ids that are not valid for the partitioning, naming them', () => {
    const day = (id: string) => `partition ${JSON.stringify(id)}: not a valid day partition (YYYY-MM-DD)`;
    const hour = (id: string) => `partition ${JSON.stringify(id)}: not a valid hour partition (YYYY-MM-DDTHH)`;
    for (const id of [
      '2026-13-01',
      '2026-00-10',
      '2026-02-29',
      '2100-02-29',
      '2026-04-31',
      '2026-1-1',
      '2026-01-01T00',
      ' 2026-01-01',
      '',
    ]) {
      expect(() => partitionBounds('day', id)).toThrow(new InvalidPartition(day(id)));
    }
    for (const id of [
      '2026-01-01T24',
      '2026-01-01',
      '2026-01-01T7',
      '2026-01-01 07',
      '2026-02-30T00',
      '2026-01-01T00:00',
    ]) {
      expect(() => partitionBounds('hour', id)).toThrow(new InvalidPartition(hour(id)));
    }
    expect(() => partitionBounds('day', '2026-13-01')).toThrow(
      'partition "2026-13-01": not a valid day partition (YYYY-MM-DD)',
    );
    expect(() => partitionBounds('hour', 42 as unknown as string)).toThrow(
      'partition 42: not a valid hour partition (YYYY-MM-DDTHH)',
    );
  });

  it('is the inverse of partitionOf, and partitions tile time without gaps (property)', () => {
    const instant = fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 30) });
    const partitioning = fc.constantFrom<Partitioning>('hour', 'day');
    fc.assert(
      fc.property(partitioning, instant, (p, t) => {
        const id = partitionOf(p, t);
        const { start, end } = partitionBounds(p, id);
        expect(start <= t && t < end).toBe(true);
        expect(end - start).toBe(p === 'hour' ? HOUR : DAY);
        expect(partitionOf(p, start)).toBe(id);
        expect(partitionOf(p, end)).not.toBe(id);
        expect(partitionBounds(p, partitionOf(p, end)).start).toBe(end);
        expect(partitionOf(p, t)).toBe(
          p === 'day' ? new Date(t).toISOString().slice(0, 10) : new Date(t).toISOString().slice(0, 13),
        );
      }),
      { numRuns: 2000 },
    );
  });
});

describe('partitionsBetween', () => {
  it('lists an inclusive range across month, year and leap-day boundaries', () => {
    expect(partitionsBetween('hour', '2025-12-31T22', '2026-01-01T01')).toEqual([
      '2025-12-31T22',
      '2025-12-31T23',
      '2026-01-01T00',
      '2026-01-01T01',
    ]);
    expect(partitionsBetween('day', '2028-02-27', '2028-03-01')).toEqual([
      '2028-02-27',
      '2028-02-28',
      '2028-02-29',
      '2028-03-01',
    ]);
    expect(partitionsBetween('day', '2026-02-27', '2026-03-01')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(partitionsBetween('day', '2026-04-30', '2026-05-01')).toEqual(['2026-04-30', '2026-05-01']);
    expect(partitionsBetween('day', '2026-01-01', '2026-01-01')).toEqual(['2026-01-01']);
    expect(partitionsBetween('day', '2025-01-01', '2025-12-31')).toHaveLength(365);
    expect(partitionsBetween('day', '2028-01-01', '2028-12-31')).toHaveLength(366);
    expect(partitionsBetween('hour', '2028-02-29T00', '2028-02-29T23')).toHaveLength(24);
  });

  it('rejects an inverted range, invalid ids, and ranges above the cap', () => {
    expect(() => partitionsBetween('day', '2026-01-03', '2026-01-01')).toThrow(
      new InvalidPartition('from 2026-01-03 is after to 2026-01-01'),
    );
    expect(() => partitionsBetween('hour', '2026-01-01T01', '2026-01-01T00')).toThrow(
      'from 2026-01-01T01 is after to 2026-01-01T00',
    );
    expect(() => partitionsBetween('day', '2026-01-01', '2026-01-32')).toThrow(
      'partition "2026-01-32": not a valid day partition (YYYY-MM-DD)',
    );
    expect(() => partitionsBetween('day', '2026-01-01T00', '2026-01-02')).toThrow(InvalidPartition);
    expect(MAX_PARTITIONS_PER_RANGE).toBe(10_000);
    const first = '2026-01-01T00';
    const last = partitionOf('hour', partitionBounds('hour', first).start + (MAX_PARTITIONS_PER_RANGE - 1) * HOUR);
    expect(partitionsBetween('hour', first, last)).toHaveLength(MAX_PARTITIONS_PER_RANGE);
    const over = partitionOf('hour', partitionBounds('hour', last).end);
    expect(() => partitionsBetween('hour', first, over)).toThrow(
      new InvalidPartition(
        `range ${first}..${over} spans 10001 hour partitions; at most 10000 at once (split the range)`,
      ),
    );
    expect(() => partitionsBetween('day', '2000-01-01', '2099-12-31')).toThrow(
      'range 2000-01-01..2099-12-31 spans 36525 day partitions; at most 10000 at once (split the range)',
    );
  });
});

describe('partitionInRange and partitioningOf', () => {
  it('tests inclusive membership', () => {
    expect(partitionInRange('2026-01-01', '2026-01-01', '2026-01-03')).toBe(true);
    expect(partitionInRange('2026-01-03', '2026-01-01', '2026-01-03')).toBe(true);
    expect(partitionInRange('2026-01-04', '2026-01-01', '2026-01-03')).toBe(false);
    expect(partitionInRange('2025-12-31', '2026-01-01', '2026-01-03')).toBe(false);
    expect(partitionInRange('2026-01-01T09', '2025-12-31T23', '2026-01-01T10')).toBe(true);
    expect(partitionInRange('2026-01-01T11', '2025-12-31T23', '2026-01-01T10')).toBe(false);
  });

  it('rejects invalid, mixed and inverted arguments', () => {
    expect(() => partitionInRange('2026-01-02', '2026-01-03', '2026-01-01')).toThrow(
      'from 2026-01-03 is after to 2026-01-01',
    );
    expect(() => partitionInRange('2026-01-02', '2026-01-01T00', '2026-01-03')).toThrow(
      'partition 2026-01-01T00 is not a day partition like 2026-01-02',
    );
    expect(() => partitionInRange('2026-02-30', '2026-01-01', '2026-03-01')).toThrow(
      'partition "2026-02-30": not a valid day partition (YYYY-MM-DD)',
    );
  });

  it('tells the partitioning of an id', () => {
    expect(partitioningOf('2026-01-01T05')).toBe('hour');
    expect(partitioningOf('2026-01-01')).toBe('day');
    expect(() => partitioningOf('2026-01')).toThrow('partition "2026-01": not a valid day partition (YYYY-MM-DD)');
  });
});

describe('partitionsOverlapping', () => {
  it('finds the upstream partitions under a downstream one', () => {
    const hours = partitionsOverlapping('hour', partitionBounds('day', '2026-11-25'));
    expect(hours).toHaveLength(24);
    expect([hours[0], hours[23]]).toEqual(['2026-11-25T00', '2026-11-25T23']);
    expect(partitionsOverlapping('day', partitionBounds('hour', '2026-11-25T23'))).toEqual(['2026-11-25']);
    expect(partitionsOverlapping('day', { start: Date.UTC(2026, 0, 1, 12), end: Date.UTC(2026, 0, 2, 1) })).toEqual([
      '2026-01-01',
      '2026-01-02',
    ]);
    expect(() => partitionsOverlapping('day', { start: 5, end: 5 })).toThrow('empty time range [5, 5)');
  });
});
