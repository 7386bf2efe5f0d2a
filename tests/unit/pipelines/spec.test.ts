import { formatZodIssues } from '../../../lib/zod-issues';
import {
  outsideSchedule,
  definePipeline,
  InvalidPipelineSpec,
  parsePipelineSpec,
  PipelineSpecSchema,
  type PipelineSpec,
  type PipelineSpecInput,
} from '../../../lib/pipelines';
import { changed, issuesOf, kafkaSpec, lakeSqlSpec } from './helpers';

/** A lake-sourced spec with every optional field of `batch` and `validate` set. */
const lakeSql = changed(
  {
    'source.layer': 'merged',
    'transform.sql': 'SELECT page, SUM(views) AS views FROM events GROUP BY page',
    batch: {
      pool: 'p',
      tenant: 't',
      queue: 'etl',
      priority: 5,
      resources: { cpu: 0.5, memoryMb: 512 },
      estimatedRuntimeMs: 1,
      preemptible: true,
      engine: 'submit',
    },
    validate: { minRows: 1, requiredColumns: ['page', 'anything_raw_sql_makes'] },
  },
  lakeSqlSpec(),
) as PipelineSpecInput;

describe('pipeline spec: valid specs', () => {
  it('parses the declarative Kafka spec and fills in the defaults', () => {
    const spec = definePipeline(kafkaSpec());
    expect(spec.batch.priority).toBe(0);
    expect(spec.batch.preemptible).toBe(false);
    expect(spec.batch.engine).toBe('connect');
    expect(spec.validate).toEqual({ minRows: 0 });
    expect(spec).toEqual({
      ...kafkaSpec(),
      batch: { ...kafkaSpec().batch, priority: 0, preemptible: false, engine: 'connect' },
      validate: { minRows: 0 },
    });
  });

  it('parses a lake source with raw SQL, keeping every optional field', () => {
    expect(definePipeline(lakeSql)).toEqual(lakeSql);
  });

  it('accepts no window, an empty groupBy, a timestamp event time, min/max of any type', () => {
    const spec = definePipeline(
      changed({
        'source.schema': { at: 'timestamp', ok: 'boolean', page: 'string', price: 'double', n: 'int' },
        'source.eventTime': 'at',
        transform: {
          groupBy: [],
          aggregates: [
            { fn: 'min', column: 'page', as: 'first_page' },
            { fn: 'max', column: 'ok', as: 'any_ok' },
            { fn: 'sum', column: 'price', as: 'revenue' },
            { fn: 'sum', column: 'n', as: 'items' },
          ],
        },
      }) as PipelineSpec,
    );
    expect(spec.transform).toEqual(expect.objectContaining({ groupBy: [] }));
  });

  it('accepts every window that divides its partition evenly', () => {
    for (const [tumbling, partitioning] of [
      ['30 seconds', 'hour'],
      ['1 minute', 'hour'],
      ['20 minutes', 'hour'],
      ['1 hour', 'hour'],
      ['90 minutes', 'day'],
      ['6 hours', 'day'],
      ['1 day', 'day'],
    ]) {
      expect(() => parsePipelineSpec(changed({ 'transform.window.tumbling': tumbling, partitioning }))).not.toThrow();
    }
  });

  it('round-trips through JSON: a parsed spec parses to itself', () => {
    for (const input of [kafkaSpec(), lakeSql]) {
      const spec = definePipeline(input);
      expect(parsePipelineSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
    }
  });
});

describe('pipeline spec: errors name the path', () => {
  it('gives the messages of the examples', () => {
    expect(issuesOf(changed({ 'batch.resources.cpu': 0 }))).toEqual([
      'batch.resources.cpu: expected a positive number',
    ]);
    expect(
      issuesOf(
        changed({
          'source.schema': { user: 'string', amount: 'bigint', ts: 'epoch_millis' },
          'transform.groupBy': ['user'],
          'transform.aggregates.1.column': 'amout',
        }),
      ),
    ).toEqual(['transform.aggregates[1].column: unknown column "amout" (schema has user, amount, ts)']);
    expect(issuesOf(changed({ 'source.schema.ts': 'string' }))).toEqual([
      'source.eventTime: column "ts" must be of type timestamp or epoch_millis',
    ]);
    expect(issuesOf(changed({ 'transform.window.tumbling': '7 minutes' }))).toEqual([
      'transform.window.tumbling: 7 minutes does not divide the hour partition evenly',
    ]);
  });

  it('lists every problem at once, in the error message too', () => {
    const input = changed({ 'batch.resources.cpu': -1, 'batch.pool': '', 'transform.aggregates.1.column': 'amout' });
    expect(() => parsePipelineSpec(input)).toThrow(
      new InvalidPipelineSpec(
        [
          'batch.pool: expected a non-empty string',
          'batch.resources.cpu: expected a positive number',
          'transform.aggregates[1].column: unknown column "amout" (schema has user, page, amount, ts)',
        ],
        'page-views',
      ),
    );
    expect(() => parsePipelineSpec(input)).toThrow(
      'invalid pipeline spec "page-views": batch.pool: expected a non-empty string; batch.resources.cpu: expected a positive number; ' +
        'transform.aggregates[1].column: unknown column "amout" (schema has user, page, amount, ts)',
    );
  });

  it('is strict: unknown fields are rejected by name at every level', () => {
    expect(issuesOf(changed({ owner: 'me' }))).toEqual(['(root): Unrecognized key: "owner"']);
    expect(issuesOf(changed({ 'batch.gpu': 1 }))).toEqual(['batch: Unrecognized key: "gpu"']);
    expect(issuesOf(changed({ 'batch.resources.disk': 1 }))).toEqual(['batch.resources: Unrecognized key: "disk"']);
    expect(issuesOf(changed({ 'source.brokers': 'x' }))).toEqual(['source: Unrecognized key: "brokers"']);
    expect(issuesOf(changed({ 'transform.window.sliding': '1 minute' }))).toEqual([
      'transform.window: Unrecognized key: "sliding"',
    ]);
    expect(issuesOf(changed({ 'transform.aggregates.1.distinct': true }))).toEqual([
      'transform.aggregates[1]: Unrecognized key: "distinct"',
    ]);
    expect(issuesOf(changed({ 'transform.sql': 'SELECT 1' }))).toEqual([
      'transform: Unrecognized keys: "window", "groupBy", "aggregates"',
    ]);
  });

  it('rejects unknown or missing kinds, and says what is required', () => {
    expect(issuesOf(changed({ kind: 'omega' }))).toEqual([
      'kind: unknown pipeline kind "omega"; expected batch | streaming | lambda | kappa',
    ]);
    expect(issuesOf(changed({ kind: undefined }))).toEqual([
      'kind: unknown pipeline kind (missing); expected batch | streaming | lambda | kappa',
    ]);
    expect(issuesOf(changed({ 'source.kind': 's3' }))).toEqual([
      'source.kind: unknown source kind "s3"; expected kafka | lake',
    ]);
    expect(issuesOf(changed({ source: undefined, batch: undefined, name: undefined }))).toEqual([
      'name: required',
      'source: required',
      'batch: required',
    ]);
    expect(issuesOf(changed({ 'batch.resources': undefined, 'transform.groupBy': undefined }))).toEqual([
      'transform.groupBy: required',
      'batch.resources: required',
    ]);
    expect(issuesOf(null)).toEqual(['(root): expected a pipeline spec object']);
    expect(() => parsePipelineSpec(null)).toThrow('invalid pipeline spec: (root): expected a pipeline spec object');
  });

  it('checks names, topics, formats and column types', () => {
    expect(issuesOf(changed({ name: 'Page Views' }))).toEqual([
      'name: expected a name matching ^[a-z0-9][a-z0-9-]{0,62}$, got "Page Views"',
    ]);
    expect(issuesOf(changed({ name: 'x'.repeat(64) }))).toHaveLength(1);
    expect(issuesOf(changed({ 'source.topic': 'page views' }))).toEqual([
      'source.topic: expected a Kafka topic name (letters, digits, ".", "_", "-"), got "page views"',
    ]);
    expect(issuesOf(changed({ 'source.format': 'avro' }))).toEqual([
      'source.format: expected "json" (the only format so far)',
    ]);
    expect(issuesOf(changed({ 'source.schema.page': 'text' }))).toEqual([
      'source.schema.page: expected "string" | "int" | "bigint" | "double" | "boolean" | "timestamp" | "epoch_millis", got "text"',
    ]);
    expect(issuesOf(changed({ 'source.schema': { 'bad col': 'int' } }))).toEqual([
      'source.schema["bad col"]: invalid column name "bad col": must match ^[A-Za-z_][A-Za-z0-9_]*$',
    ]);
    expect(issuesOf(changed({ 'source.schema': {} }))).toEqual(['source.schema: declare at least one column']);
    expect(issuesOf(changed({ partitioning: 'week' }))).toEqual(['partitioning: expected "hour" | "day", got "week"']);
  });

  it('checks the source columns: event time, reserved names, case-insensitive clashes', () => {
    expect(issuesOf(changed({ 'source.eventTime': 'time' }))).toEqual([
      'source.eventTime: unknown column "time" (schema has user, page, amount, ts)',
    ]);
    expect(issuesOf(changed({ 'source.schema.event_time': 'timestamp' }))).toEqual([
      'source.schema.event_time: column name "event_time" is reserved (Sluice derives event_time from eventTime)',
    ]);
    expect(issuesOf(changed({ 'source.schema._kafka_offset': 'bigint' }))).toEqual([
      'source.schema._kafka_offset: column name "_kafka_offset" is reserved (the Spark runner adds it to Kafka records)',
    ]);
    expect(issuesOf(changed({ 'source.schema.Page': 'string' }))).toEqual([
      'source.schema.Page: column "Page" clashes with "page" (Spark column names are case-insensitive)',
    ]);
  });

  it('checks the window', () => {
    expect(issuesOf(changed({ 'transform.window.tumbling': '2 hours' }))).toEqual([
      'transform.window.tumbling: 2 hours is longer than the hour partition',
    ]);
    expect(issuesOf(changed({ 'transform.window.tumbling': '7 hours', partitioning: 'day' }))).toEqual([
      'transform.window.tumbling: 7 hours does not divide the day partition evenly',
    ]);
    const syntax = 'expected "<n> <unit>" with unit second(s), minute(s), hour(s) or day(s)';
    for (const bad of ['15min', '15  minutes', '0 minutes', '1.5 hours', '15 Minutes', ' 15 minutes', '1 week']) {
      expect(issuesOf(changed({ 'transform.window.tumbling': bad }))).toEqual([
        `transform.window.tumbling: ${syntax}, got ${JSON.stringify(bad)}`,
      ]);
    }
  });

  it('checks aggregates against the schema', () => {
    expect(issuesOf(changed({ 'transform.aggregates.0.column': 'page' }))).toEqual([
      'transform.aggregates[0].column: count takes no column (it counts rows)',
    ]);
    expect(issuesOf(changed({ 'transform.aggregates.1.column': undefined }))).toEqual([
      'transform.aggregates[1].column: required (sum, min and max take a column)',
    ]);
    expect(issuesOf(changed({ 'transform.aggregates.0.fn': 'avg' }))).toEqual([
      'transform.aggregates[0].fn: unknown aggregate "avg"; expected count | sum | min | max',
    ]);
    expect(issuesOf(changed({ 'transform.aggregates.1.column': 'page' }))).toEqual([
      'transform.aggregates[1].column: sum needs a numeric column (int, bigint, double, epoch_millis); "page" is string',
    ]);
    expect(issuesOf(changed({ 'transform.aggregates': [] }))).toEqual([
      'transform.aggregates: declare at least one aggregate',
    ]);
    expect(issuesOf(changed({ 'transform.aggregates.1.as': 'total amount' }))).toEqual([
      'transform.aggregates[1].as: expected an output column name matching ^[A-Za-z_][A-Za-z0-9_]*$, got "total amount"',
    ]);
  });

  it('keeps output names unique and clear of the group and window columns', () => {
    expect(issuesOf(changed({ 'transform.aggregates.2.as': 'views' }))).toEqual([
      'transform.aggregates[2].as: "views" is already the name of an earlier aggregate',
    ]);
    expect(issuesOf(changed({ 'transform.aggregates.2.as': 'VIEWS' }))).toEqual([
      'transform.aggregates[2].as: "VIEWS" is already the name of an earlier aggregate',
    ]);
    expect(issuesOf(changed({ 'transform.aggregates.0.as': 'Page' }))).toEqual([
      'transform.aggregates[0].as: "Page" clashes with a groupBy column',
    ]);
    expect(issuesOf(changed({ 'transform.aggregates.0.as': 'window_end' }))).toEqual([
      'transform.aggregates[0].as: "window_end" is reserved for the window bounds',
    ]);
  });

  it('checks the group-by columns', () => {
    expect(issuesOf(changed({ 'transform.groupBy': ['page', 'pag', 'page'] }))).toEqual([
      'transform.groupBy[1]: unknown column "pag" (schema has user, page, amount, ts)',
      'transform.groupBy[2]: duplicate column "page"',
    ]);
    const lake = changed({ 'source.schema.window_start': 'timestamp', 'transform.groupBy': ['window_start'] });
    expect(issuesOf(lake)).toEqual([
      'transform.groupBy[0]: "window_start" clashes with the window bounds of a windowed output',
    ]);
    expect(() => parsePipelineSpec(changed({ 'transform.window': undefined }, lake))).not.toThrow();
  });

  it('rejects raw SQL that is not a single SELECT', () => {
    expect(issuesOf(changed({ transform: { sql: "SELECT 'a;b' AS x FROM events; DROP TABLE t" } }))).toEqual([
      'transform.sql: ";" at line 1, column 30: must be a single SELECT query (no ";" outside string literals)',
    ]);
    expect(issuesOf(changed({ transform: { sql: 'SELECT page\nFROM events;\n' } }))).toEqual([
      'transform.sql: ";" at line 2, column 12: must be a single SELECT query (no ";" outside string literals)',
    ]);
    expect(issuesOf(changed({ transform: { sql: 'INSERT INTO t SELECT 1' } }))).toEqual([
      'transform.sql: must be a SELECT query (SELECT ... or WITH ... SELECT ...), starts with "INSERT"',
    ]);
    expect(issuesOf(changed({ transform: { sql: '  -- nothing\n' } }))).toEqual([
      'transform.sql: must be a SELECT query, got no SQL',
    ]);
    expect(issuesOf(changed({ transform: { sql: "SELECT 'open FROM events" } }))).toEqual([
      'transform.sql: unterminated string literal at line 1, column 8',
    ]);
    expect(issuesOf(changed({ transform: [] }))).toEqual([
      'transform: expected { window?, groupBy, aggregates } or { sql }',
    ]);
  });

  it('accepts ";" inside string literals, quoted identifiers and comments', () => {
    const sql = [
      '-- totals; per page',
      "WITH t AS (SELECT page, 'a;b' AS s, \"c;d\" AS d, 'it\\'s;' AS e, r'\\' AS f, `odd;name` FROM events)",
      '/* nested /* ; */ ; */ SELECT * FROM t',
    ].join('\n');
    expect(parsePipelineSpec(changed({ transform: { sql } })).transform).toEqual({ sql });
  });

  it('checks validate against the outputs', () => {
    expect(issuesOf(changed({ validate: { requiredColumns: ['views', 'nope', 'views'] } }))).toEqual([
      'validate.requiredColumns[2]: duplicate column "views"',
      'validate.requiredColumns[1]: unknown output column "nope" (outputs: window_start, window_end, page, views, total_amount, max_amount)',
    ]);
    expect(issuesOf(changed({ validate: { minRows: -1 } }))).toEqual([
      'validate.minRows: expected a non-negative integer',
    ]);
    expect(issuesOf(changed({ validate: { minRows: 0.5 } }))).toEqual([
      'validate.minRows: expected a non-negative integer',
    ]);
  });

  it('checks the batch settings', () => {
    expect(issuesOf(changed({ 'batch.preemptible': 'yes' }))).toEqual(['batch.preemptible: expected true or false']);
    expect(issuesOf(changed({ 'batch.engine': 'yarn' }))).toEqual([
      'batch.engine: expected "connect" | "submit", got "yarn"',
    ]);
    expect(issuesOf(changed({ 'batch.resources.cpu': '1' }))).toEqual([
      'batch.resources.cpu: expected a positive number',
    ]);
    expect(issuesOf(changed({ 'batch.resources.cpu': Infinity }))).toEqual([
      'batch.resources.cpu: expected a positive number',
    ]);
    expect(issuesOf(changed({ 'batch.resources.memoryMb': 1.5 }))).toEqual([
      'batch.resources.memoryMb: expected a positive integer',
    ]);
    expect(issuesOf(changed({ 'batch.resources.memoryMb': 0 }))).toEqual([
      'batch.resources.memoryMb: expected a positive integer',
    ]);
    expect(issuesOf(changed({ 'batch.tenant': undefined }))).toEqual(['batch.tenant: required']);
    expect(issuesOf(changed({ 'batch.priority': NaN }))).toEqual(['batch.priority: expected a number']);
    expect(issuesOf(changed({ 'batch.priority': Infinity }))).toEqual(['batch.priority: expected a number']);
    expect(issuesOf(changed({ 'batch.estimatedRuntimeMs': 0 }))).toEqual([
      'batch.estimatedRuntimeMs: expected a positive number',
    ]);
  });

  it('exposes the schema and a formatter for synchronous validation', () => {
    const result = PipelineSpecSchema.safeParse(changed({ 'transform.window.tumbling': '7 minutes', 'batch.pool': 1 }));
    expect(result.success).toBe(false);
    if (!result.success) {
      expect(formatZodIssues(result.error)).toEqual([
        'batch.pool: expected a non-empty string',
        'transform.window.tumbling: 7 minutes does not divide the hour partition evenly',
      ]);
    }
  });
});

describe('schedule', () => {
  const base: PipelineSpecInput = {
    name: 'sched',
    kind: 'batch',
    source: { kind: 'kafka', topic: 't', format: 'json', schema: { a: 'string', ts: 'epoch_millis' }, eventTime: 'ts' },
    transform: { groupBy: ['a'], aggregates: [{ fn: 'count', as: 'n' }] },
    partitioning: 'hour',
    batch: { pool: 'p', tenant: 't', resources: { cpu: 1, memoryMb: 1 } },
  };

  it('bounds the partitions a pipeline may run', () => {
    const spec = definePipeline({ ...base, schedule: { start: '2026-01-01T00', end: '2026-01-31T23' } });
    expect(outsideSchedule(spec, '2026-01-15T05')).toBeUndefined();
    expect(outsideSchedule(spec, '2025-12-31T23')).toBe(
      'partition 2025-12-31T23 is before the start of pipeline sched (2026-01-01T00)',
    );
    expect(outsideSchedule(spec, '2026-02-01T00')).toBe(
      'partition 2026-02-01T00 is after the end of pipeline sched (2026-01-31T23)',
    );
    expect(outsideSchedule(definePipeline(base), '1999-01-01T00')).toBeUndefined();
  });

  it('rejects ids of the wrong partitioning and an end before the start, by path', () => {
    expect(() => definePipeline({ ...base, schedule: { start: '2026-01-01' } })).toThrow(
      'schedule.start: "2026-01-01" is not a hour partition (YYYY-MM-DDTHH)',
    );
    expect(() => definePipeline({ ...base, schedule: { start: '2026-01-02T00', end: '2026-01-01T00' } })).toThrow(
      'schedule.end: 2026-01-01T00 is before start 2026-01-02T00',
    );
  });
});
