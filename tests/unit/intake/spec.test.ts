import {
  type IntakeSpecInput,
  defineIntake,
  dlqTopic,
  InvalidIntakeSpec,
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
    expect(spec.intake).toMatchObject({ priority: 0, batchRecords: 5000, pollInterval: '1 second' });
    expect(defineIntake({ ...good, source: { kind: 'files', dir: 'd', format: 'csv' }, key: undefined })).toMatchObject(
      { source: { pattern: '*' }, key: [] },
    );
  });

  it('names each bad field and its problem', () => {
    expect(issues({ ...good, name: 'Web Logs' })).toEqual([expect.stringMatching(/^name: expected a name matching/)]);
    expect(issues({ ...good, source: { ...good.source, kind: 'ftp' } })).toEqual([
      'source.kind: unknown source kind "ftp"; expected files',
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

  it('says what the topic carries: the event time as epoch milliseconds', () => {
    const spec = defineIntake(good);
    expect(topicSchema(spec)).toEqual({ page: 'string', user: 'string', amount: 'double', at: 'epoch_millis' });
    expect(dlqTopic(spec.topic)).toBe('web-events.dlq');
  });
});
