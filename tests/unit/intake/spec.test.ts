import {
  type IntakeSpecInput,
  defineIntake,
  dlqTopic,
  InvalidIntakeSpec,
  intakeSlotName,
  parseIntakeSpec,
  topicSchema,
} from '../../../lib/intake/spec';

const good: IntakeSpecInput = {
  name: 'web-logs',
  source: { kind: 'files', dir: '/var/log/web', pattern: 'access.log*', format: 'jsonl' },
  schema: { page: 'string', user: 'string', amount: 'double', at: 'timestamp' },
  eventTime: 'at',
  topic: 'web-events',
  key: ['page'],
  intake: { pool: 'default', tenant: 'web', resources: { cpu: 0.5, memoryMb: 256 } },
};

/** The issue lines of a refused spec. */
function issues(input: unknown): string[] {
  try {
    parseIntakeSpec(input);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidIntakeSpec);
    return [...(err as InvalidIntakeSpec).issues];
  }
  throw new Error('the spec was accepted');
}

describe('intake specs', () => {
  it('applies the defaults', () => {
    const spec = defineIntake(good);
    expect(spec.partitions).toBe(1);
    expect(spec.intake).toMatchObject({ priority: 0, batchRecords: 20_000, pollInterval: '1 second' });
    expect(defineIntake({ ...good, source: { kind: 'files', dir: 'd', format: 'csv' }, key: undefined })).toMatchObject(
      { source: { pattern: '*' }, key: [] },
    );
  });

  it('names each bad field and its problem', () => {
    expect(issues({ ...good, name: 'Web Logs' })).toEqual([expect.stringMatching(/^name: expected a name matching/)]);
    expect(issues({ ...good, source: { ...good.source, kind: 'ftp' } })).toEqual([
      'source.kind: unknown source kind "ftp"; expected files | postgres | kafka',
    ]);
    expect(issues({ ...good, source: { ...good.source, format: 'xml' } })).toEqual([
      'source.format: expected "jsonl" | "csv", got "xml"',
    ]);
    expect(issues({ ...good, source: { ...good.source, pattern: 'logs/*.log' } })).toEqual([
      'source.pattern: expected a file name glob without "/", got "logs/*.log"',
    ]);
    expect(issues({ ...good, schema: { page: 'text' } })).toContain(
      'schema.page: expected "string" | "int" | "bigint" | "double" | "boolean" | "timestamp" | "epoch_millis", got "text"',
    );
    expect(issues({ ...good, eventTime: 'when' })).toEqual([
      'eventTime: unknown column "when"; the schema\'s columns: page, user, amount, at',
    ]);
    expect(issues({ ...good, eventTime: 'amount' })).toEqual([
      'eventTime: column "amount" is double; expected timestamp or epoch_millis',
    ]);
    expect(issues({ ...good, key: ['page', 'referrer'] })).toEqual(['key[1]: unknown column "referrer"']);
    expect(issues({ ...good, topic: 'web-events.dlq' })).toEqual([
      'topic: expected a topic that neither ends with ".dlq" (dead letters) nor starts with "_" (Sluice\'s own)',
    ]);
    expect(issues({ ...good, intake: { ...good.intake, batchRecords: 0 } })).toEqual([
      'intake.batchRecords: expected an integer from 1 to 100000',
    ]);
    expect(issues({ ...good, extra: 1 })).toEqual([expect.stringContaining('"extra"')]);
    expect(issues({ ...good, intake: undefined })).toEqual(['intake: required']);
  });

  it('reads a postgres table: defaults, a key required, no password in the url, a table as schema.table', () => {
    const pg = { ...good, source: { kind: 'postgres', table: 'public.orders' } } as const;
    expect(defineIntake(pg).source).toEqual({
      kind: 'postgres',
      table: 'public.orders',
      snapshot: 'initial',
      deletes: 'ignore',
    });
    expect(issues({ ...pg, key: [] })).toEqual([expect.stringMatching(/^key: a postgres source needs the columns/)]);
    expect(issues({ ...pg, source: { ...pg.source, url: 'postgres://app:secret@db:5432/shop' } })).toEqual([
      expect.stringMatching(/^source.url: expected postgres:\/\/user@host:port\/database, without a password/),
    ]);
    expect(defineIntake({ ...pg, source: { ...pg.source, url: 'postgres://app@db:5432/shop' } }).source).toMatchObject({
      url: 'postgres://app@db:5432/shop',
    });
    expect(issues({ ...pg, source: { ...pg.source, table: 'orders; DROP TABLE x' } })).toEqual([
      expect.stringMatching(/^source.table: expected a table as schema.table/),
    ]);
    expect(issues({ ...pg, source: { ...pg.source, deletes: 'cascade' } })).toEqual([
      'source.deletes: expected "ignore" | "tombstone", got "cascade"',
    ]);
  });

  it('reads another topic: CSV needs its columns, and never its own output', () => {
    const kafka = { ...good, source: { kind: 'kafka', topic: 'raw-clicks', format: 'json' } } as const;
    expect(defineIntake(kafka).source).toEqual({ kind: 'kafka', topic: 'raw-clicks', format: 'json' });
    expect(issues({ ...kafka, source: { ...kafka.source, format: 'csv' } })).toEqual([
      'source.columns: CSV messages carry no header: name their fields, in order',
    ]);
    expect(issues({ ...kafka, source: { ...kafka.source, topic: 'web-events' } })).toEqual([
      'source.topic: the intake would read its own output "web-events"',
    ]);
  });

  it('names a slot per intake within PostgreSQL 63 bytes, distinct for long names', () => {
    expect(intakeSlotName('orders-cdc')).toBe('sluice_intake_orders_cdc');
    const long = 'a'.repeat(60);
    const a = intakeSlotName(`${long}-x`);
    const b = intakeSlotName(`${long}-y`);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(b.length).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^sluice_intake_a+_[0-9a-f]{8}$/);
  });

  it('says what the topic carries: the event time as epoch milliseconds', () => {
    const spec = defineIntake(good);
    expect(topicSchema(spec)).toEqual({ page: 'string', user: 'string', amount: 'double', at: 'epoch_millis' });
    expect(dlqTopic(spec.topic)).toBe('web-events.dlq');
  });
});
