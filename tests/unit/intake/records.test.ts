import { normaliseLine, normaliseRecord } from '../../../lib/intake/records';
import { defineIntake } from '../../../lib/intake/spec';

const spec = (format: 'jsonl' | 'csv', key: string[] = []) =>
  defineIntake({
    name: 'records',
    source: { kind: 'files', dir: '.', format },
    schema: {
      page: 'string',
      views: 'int',
      big: 'bigint',
      ratio: 'double',
      ok: 'boolean',
      seen: 'timestamp',
      ts: 'epoch_millis',
    },
    eventTime: 'ts',
    topic: 't',
    key,
    intake: { pool: 'p', tenant: 't', resources: { cpu: 1, memoryMb: 1 } },
  });

const row = {
  page: 'home',
  views: 3,
  big: 9_007_199_254_740_991,
  ratio: 0.5,
  ok: true,
  seen: '2026-12-01T10:00:00Z',
  ts: 1_764_583_200_000,
};

/** What `row` leaves as: the same values, the timestamp in one ISO form (milliseconds, UTC). */
const out = { ...row, seen: '2026-12-01T10:00:00.000Z' };

describe('normaliseRecord', () => {
  it('keeps the declared columns in schema order, drops the rest, keys by the key columns', () => {
    const n = normaliseRecord(spec('jsonl', ['page', 'views']), { extra: 1, ...row });
    expect(n).toEqual({ ok: true, record: out, key: '["home",3]' });
    expect(Object.keys((n as { record: object }).record)).toEqual([
      'page',
      'views',
      'big',
      'ratio',
      'ok',
      'seen',
      'ts',
    ]);
  });

  it('normalises the event time to epoch milliseconds UTC, a zoneless time read as UTC', () => {
    const at = (ts: unknown) => normaliseRecord(spec('jsonl'), { ...row, ts });
    expect(at('2026-12-01T10:00:00Z')).toMatchObject({ ok: true, record: { ts: Date.UTC(2026, 11, 1, 10) } });
    expect(at('2026-12-01T11:00:00+01:00')).toMatchObject({ record: { ts: Date.UTC(2026, 11, 1, 10) } });
    expect(at('2026-12-01 10:00:00.250')).toMatchObject({ record: { ts: Date.UTC(2026, 11, 1, 10) + 250 } });
    expect(at('1764583200000')).toMatchObject({ record: { ts: 1_764_583_200_000 } });
    expect(at('tomorrow')).toEqual({
      ok: false,
      reason: 'column "ts": expected epoch milliseconds or an ISO-8601 date-time, got "tomorrow"',
    });
    expect(at(1.5)).toEqual({ ok: false, reason: 'column "ts": expected epoch milliseconds, got 1.5' });
  });

  it('refuses a wrong type, a missing or null column, or a non-object, by column', () => {
    const bad = (patch: object) => normaliseRecord(spec('jsonl'), { ...row, ...patch });
    expect(bad({ views: 2 ** 31 })).toEqual({
      ok: false,
      reason: 'column "views": expected a 32-bit integer, got 2147483648',
    });
    expect(bad({ big: 2 ** 53 })).toMatchObject({ reason: 'column "big": expected an integer, got 9007199254740992' });
    expect(bad({ ratio: '0.5' })).toMatchObject({ reason: 'column "ratio": expected a number, got "0.5"' });
    expect(bad({ ok: 'yes' })).toMatchObject({ reason: 'column "ok": expected true or false, got "yes"' });
    expect(bad({ page: 7 })).toMatchObject({ reason: 'column "page": expected a string, got 7' });
    expect(bad({ seen: '01/12/2026' })).toMatchObject({
      reason: 'column "seen": expected an ISO-8601 date-time, got "01/12/2026"',
    });
    expect(bad({ page: null })).toMatchObject({ reason: 'column "page": missing' });
    expect(normaliseRecord(spec('jsonl'), [1])).toEqual({ ok: false, reason: 'expected a JSON object, got [1]' });
  });
});

describe('normaliseLine', () => {
  it('parses JSON lines and names a line that is not JSON', () => {
    expect(normaliseLine(spec('jsonl'), JSON.stringify(row))).toMatchObject({ ok: true, record: out });
    expect(normaliseLine(spec('jsonl'), '{"page": ')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^not JSON: /),
    });
  });

  it('parses CSV by its file header, converting text to the declared types', () => {
    const header = 'ts,page,views,big,ratio,ok,seen';
    const line = '1764583200000,"home, main",3,9007199254740991,0.5,true,2026-12-01T10:00:00Z';
    expect(normaliseLine(spec('csv'), line, header)).toEqual({
      ok: true,
      record: { ...out, page: 'home, main' },
      key: null,
    });
    expect(normaliseLine(spec('csv'), '1,2', header)).toEqual({
      ok: false,
      reason: 'CSV row has 2 fields, the header 7',
    });
    expect(normaliseLine(spec('csv'), line.replace(',3,', ',three,'), header)).toMatchObject({
      reason: 'column "views": expected a 32-bit integer, got "three"',
    });
    expect(normaliseLine(spec('csv'), line)).toEqual({ ok: false, reason: 'CSV line without a header line before it' });
  });
});
