import { defineIntake } from '../../../lib/intake/spec';
import { normaliseRecord } from '../../../lib/intake/records';
import { PG_TYPES, pgRow, pgText } from '../../../lib/intake/postgres-rows';

describe("PostgreSQL's text output, as the intake's record rules read it", () => {
  it('writes booleans as true/false and timestamps as ISO-8601 with a ±hh:mm zone', () => {
    expect(pgText('t', PG_TYPES.bool)).toBe('true');
    expect(pgText('f', PG_TYPES.bool)).toBe('false');
    expect(pgText('2026-12-02 06:53:13.3389+00', PG_TYPES.timestamptz)).toBe('2026-12-02T06:53:13.3389+00:00');
    expect(pgText('2026-12-02 12:23:13+05:30', PG_TYPES.timestamptz)).toBe('2026-12-02T12:23:13+05:30');
    expect(pgText('1900-01-01 00:00:00-00:17:30', PG_TYPES.timestamptz)).toBe('1900-01-01T00:00:00-00:17');
    expect(pgText('2026-12-02 06:53:13', PG_TYPES.timestamp)).toBe('2026-12-02T06:53:13');
    // What is not a date-time stays as it is, and the schema refuses it by name.
    expect(pgText('infinity', PG_TYPES.timestamptz)).toBe('infinity');
    expect(pgText('12.50', 1700)).toBe('12.50');
  });

  it('gives records of the declared types, and dead-letter reasons for values that are not', () => {
    const spec = defineIntake({
      name: 'orders',
      source: { kind: 'postgres', table: 'public.orders' },
      schema: { id: 'int', paid: 'boolean', amount: 'double', at: 'timestamp' },
      eventTime: 'at',
      topic: 'orders',
      key: ['id'],
      intake: { pool: 'p', tenant: 't', resources: { cpu: 0.5, memoryMb: 256 } },
    });
    const types = { id: 23, paid: PG_TYPES.bool, amount: 1700, at: PG_TYPES.timestamptz, note: 25 };
    const row = { id: '7', paid: 't', amount: '12.50', at: '2026-12-01 10:00:00.5+01', note: 'x' };
    expect(normaliseRecord(spec, pgRow(row, types), true)).toEqual({
      ok: true,
      record: { id: 7, paid: true, amount: 12.5, at: Date.UTC(2026, 11, 1, 9, 0, 0, 500) },
      key: '[7]',
    });
    expect(normaliseRecord(spec, pgRow({ ...row, amount: null }, types), true)).toEqual({
      ok: false,
      reason: 'column "amount": missing',
    });
  });
});
