import { batchStepPlan } from '../../../lib/spark-step';
import {
  batchOutputColumns,
  compileBatch,
  definePipeline,
  InvalidPartition,
  InvalidPipelineSpec,
  InvalidSourceBinding,
  sparkSchemaDdl,
  type PipelineSpec,
} from '../../../lib/pipelines';
import { changed, kafkaSpec, lakeSqlSpec } from './helpers';

const KAFKA = { startingOffsets: 'earliest', endingOffsets: { '0': 120, '1': 80 } } as const;
const pageViews = definePipeline(kafkaSpec());
const define = (changes: Record<string, unknown>) => definePipeline(changed(changes) as PipelineSpec);

/** The CTE every page-views partition 2026-11-25T10 query starts with. */
const EVENTS_10H = `WITH \`events\` AS (
  SELECT *
  FROM (
    SELECT
      \`user\`,
      \`page\`,
      \`amount\`,
      \`ts\`,
      timestamp_millis(\`ts\`) AS \`event_time\`
    FROM \`raw_events\`
  ) AS \`parsed\`
  WHERE \`event_time\` >= TIMESTAMP '2026-11-25T10:00:00Z'
    AND \`event_time\` < TIMESTAMP '2026-11-25T11:00:00Z'
)`;

describe('compileBatch: declarative', () => {
  it('compiles a windowed aggregation to readable Spark SQL', () => {
    const step = compileBatch(pageViews, '2026-11-25T10', KAFKA);
    expect(step.sql).toBe(`${EVENTS_10H}
SELECT
  window.start AS \`window_start\`,
  window.end AS \`window_end\`,
  \`page\`,
  COUNT(*) AS \`views\`,
  SUM(\`amount\`) AS \`total_amount\`,
  MAX(\`amount\`) AS \`max_amount\`
FROM \`events\`
GROUP BY window(\`event_time\`, '15 minutes'), \`page\`
ORDER BY \`window_start\`, \`page\``);
    expect(step.sources).toEqual([
      {
        view: 'raw_events',
        format: 'kafka',
        topic: 'page-views',
        startingOffsets: 'earliest',
        endingOffsets: { '0': 120, '1': 80 },
        schema: '`user` STRING, `page` STRING, `amount` BIGINT, `ts` BIGINT',
      },
    ]);
    expect(step.outputColumns).toEqual([
      { name: 'window_start', type: 'TIMESTAMP' },
      { name: 'window_end', type: 'TIMESTAMP' },
      { name: 'page', type: 'STRING' },
      { name: 'views', type: 'BIGINT' },
      { name: 'total_amount', type: 'BIGINT' },
      { name: 'max_amount', type: 'BIGINT' },
    ]);
  });

  it('compiles a group-by without a window', () => {
    const spec = define({
      'transform.window': undefined,
      'transform.groupBy': ['page', 'user'],
      'transform.aggregates': [
        { fn: 'count', as: 'n' },
        { fn: 'min', column: 'amount', as: 'lo' },
      ],
    });
    expect(compileBatch(spec, '2026-11-25T10', KAFKA).sql).toBe(`${EVENTS_10H}
SELECT
  \`page\`,
  \`user\`,
  COUNT(*) AS \`n\`,
  MIN(\`amount\`) AS \`lo\`
FROM \`events\`
GROUP BY \`page\`, \`user\`
ORDER BY \`page\`, \`user\``);
  });

  it('compiles a global aggregate (no window, no groups) without GROUP BY', () => {
    const spec = define({
      'transform.window': undefined,
      'transform.groupBy': [],
      'transform.aggregates': [{ fn: 'count', as: 'n' }],
    });
    expect(compileBatch(spec, '2026-11-25T10', KAFKA).sql).toBe(`${EVENTS_10H}
SELECT
  COUNT(*) AS \`n\`
FROM \`events\``);
  });

  it('groups by the window alone when there are no group columns, with canonical window text', () => {
    const spec = define({
      'transform.window.tumbling': '1 minutes',
      'transform.groupBy': [],
      'transform.aggregates': [{ fn: 'count', as: 'n' }],
    });
    const { sql } = compileBatch(spec, '2026-11-25T10', KAFKA);
    expect(sql.split('\n').slice(-2)).toEqual(["GROUP BY window(`event_time`, '1 minute')", 'ORDER BY `window_start`']);
  });

  it('uses a timestamp event-time column as is, and day bounds for a daily partition', () => {
    const spec = define({
      'source.schema': { at: 'timestamp', page: 'string', price: 'double' },
      'source.eventTime': 'at',
      partitioning: 'day',
      'transform.window.tumbling': '1 hour',
      'transform.aggregates': [{ fn: 'sum', column: 'price', as: 'revenue' }],
    });
    const step = compileBatch(spec, '2028-02-29', KAFKA);
    expect(step.sql.split('\n').slice(0, 13)).toEqual([
      'WITH `events` AS (',
      '  SELECT *',
      '  FROM (',
      '    SELECT',
      '      `at`,',
      '      `page`,',
      '      `price`,',
      '      `at` AS `event_time`',
      '    FROM `raw_events`',
      '  ) AS `parsed`',
      "  WHERE `event_time` >= TIMESTAMP '2028-02-29T00:00:00Z'",
      "    AND `event_time` < TIMESTAMP '2028-03-01T00:00:00Z'",
      ')',
    ]);
    expect(step.sources[0]).toEqual(
      expect.objectContaining({ schema: '`at` TIMESTAMP, `page` STRING, `price` DOUBLE' }),
    );
    expect(step.outputColumns).toEqual([
      { name: 'window_start', type: 'TIMESTAMP' },
      { name: 'window_end', type: 'TIMESTAMP' },
      { name: 'page', type: 'STRING' },
      { name: 'revenue', type: 'DOUBLE' },
    ]);
  });

  it('types every output column', () => {
    const spec = define({
      'source.schema': {
        ts: 'epoch_millis',
        i: 'int',
        b: 'bigint',
        d: 'double',
        s: 'string',
        ok: 'boolean',
        at: 'timestamp',
      },
      'transform.window': undefined,
      'transform.groupBy': ['ok', 'i'],
      'transform.aggregates': [
        { fn: 'count', as: 'n' },
        { fn: 'sum', column: 'i', as: 'sum_i' },
        { fn: 'sum', column: 'b', as: 'sum_b' },
        { fn: 'sum', column: 'd', as: 'sum_d' },
        { fn: 'sum', column: 'ts', as: 'sum_ts' },
        { fn: 'min', column: 'i', as: 'min_i' },
        { fn: 'max', column: 'd', as: 'max_d' },
        { fn: 'min', column: 's', as: 'min_s' },
        { fn: 'max', column: 'at', as: 'max_at' },
        { fn: 'max', column: 'ts', as: 'max_ts' },
      ],
    });
    expect(batchOutputColumns(spec)?.map((c) => `${c.name} ${c.type}`)).toEqual([
      'ok BOOLEAN',
      'i INT',
      'n BIGINT',
      'sum_i BIGINT',
      'sum_b BIGINT',
      'sum_d DOUBLE',
      'sum_ts BIGINT',
      'min_i INT',
      'max_d DOUBLE',
      'min_s STRING',
      'max_at TIMESTAMP',
      'max_ts BIGINT',
    ]);
    expect(compileBatch(spec, '2026-11-25T10', KAFKA).outputColumns).toEqual(batchOutputColumns(spec));
    expect(sparkSchemaDdl({ a: 'int', b: 'boolean', c: 'epoch_millis' })).toBe('`a` INT, `b` BOOLEAN, `c` BIGINT');
  });

  it('is deterministic: the same input gives the same step, and the input is not changed', () => {
    const before = JSON.stringify(pageViews);
    const a = compileBatch(pageViews, '2026-11-25T10', KAFKA);
    const b = compileBatch(JSON.parse(before) as PipelineSpec, '2026-11-25T10', JSON.parse(JSON.stringify(KAFKA)));
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(pageViews)).toBe(before);
    expect(compileBatch(pageViews, '2026-11-25T11', KAFKA).sql).not.toBe(a.sql);
  });
});

describe('compileBatch: raw SQL and lake sources', () => {
  const lake = lakeSqlSpec();
  const EVENTS_DAY = `WITH \`events\` AS (
  SELECT *
  FROM (
    SELECT
      \`window_start\`,
      \`page\`,
      \`views\`,
      \`window_start\` AS \`event_time\`
    FROM \`raw_events\`
  ) AS \`parsed\`
  WHERE \`event_time\` >= TIMESTAMP '2026-11-25T00:00:00Z'
    AND \`event_time\` < TIMESTAMP '2026-11-26T00:00:00Z'
)`;

  it("puts the events CTE before the user query and reads the upstream's Iceberg table, that day's partitions", () => {
    const step = compileBatch(definePipeline(lake), '2026-11-25', { partitionPrefix: '2026-11-25' });
    expect(step.sql).toBe(`${EVENTS_DAY}\nSELECT page, SUM(views) AS views\nFROM events\nGROUP BY page`);
    expect(step.sources).toEqual([
      { view: 'raw_events', format: 'iceberg', table: 'lake.`page-views`.batch', partitionPrefix: '2026-11-25' },
    ]);
    expect(step.outputColumns).toBeUndefined();
  });

  it('joins a user query that has its own WITH to the events CTE', () => {
    const sql = '-- top pages\nwith t AS (SELECT page, COUNT(*) AS n FROM events GROUP BY page)\nSELECT * FROM t';
    const spec = definePipeline({ ...lake, transform: { sql } });
    expect(compileBatch(spec, '2026-11-25', { partitionPrefix: '2026-11-25' }).sql).toBe(
      `-- top pages\n${EVENTS_DAY}, t AS (SELECT page, COUNT(*) AS n FROM events GROUP BY page)\nSELECT * FROM t`,
    );
  });

  it('re-validates the spec, so raw SQL with ";" never reaches Spark', () => {
    const bad = {
      ...definePipeline(lake),
      transform: { sql: 'SELECT * FROM events; DROP VIEW events' },
    } as PipelineSpec;
    expect(() => compileBatch(bad, '2026-11-25', { partitionPrefix: '2026-11-25' })).toThrow(InvalidPipelineSpec);
    expect(() => compileBatch(bad, '2026-11-25', { partitionPrefix: '2026-11-25' })).toThrow(
      'invalid pipeline spec "daily-pages": transform.sql: ";" at line 1, column 21: must be a single SELECT query (no ";" outside string literals)',
    );
  });
});

describe('compileBatch: bad partitions and bindings', () => {
  it('rejects a partition id of the wrong partitioning', () => {
    expect(() => compileBatch(pageViews, '2026-11-25', KAFKA)).toThrow(
      new InvalidPartition('partition "2026-11-25": not a valid hour partition (YYYY-MM-DDTHH)'),
    );
  });

  it('rejects bindings that do not fit the source', () => {
    const bind = (binding: unknown) => () => compileBatch(pageViews, '2026-11-25T10', binding as typeof KAFKA);
    expect(bind({ path: '/lake' })).toThrow(
      new InvalidSourceBinding(
        'kafka source needs endingOffsets: partition → offset (non-negative integers, at least one partition)',
      ),
    );
    expect(bind({ startingOffsets: 'earliest', endingOffsets: 'latest' })).toThrow(InvalidSourceBinding);
    expect(bind({ startingOffsets: 'earliest', endingOffsets: { '0': -1 } })).toThrow(InvalidSourceBinding);
    expect(bind({ startingOffsets: 'latest', endingOffsets: { '0': 5 } })).toThrow(
      'kafka source needs startingOffsets: "earliest" or partition → offset (non-negative integers)',
    );
    expect(bind({ startingOffsets: { '0': 1 }, endingOffsets: { '0': 5, '1': 5 } })).toThrow(
      'kafka startingOffsets and endingOffsets must name the same partitions (0 vs 0,1)',
    );
    expect(bind({ startingOffsets: { '0': 6 }, endingOffsets: { '0': 5 } })).toThrow(
      'kafka partition 0: starting offset 6 is after ending offset 5',
    );
    expect(
      compileBatch(pageViews, '2026-11-25T10', { startingOffsets: { '0': 5 }, endingOffsets: { '0': 5 } }).sources[0],
    ).toEqual(expect.objectContaining({ startingOffsets: { '0': 5 }, endingOffsets: { '0': 5 } }));
    const lakeSpec = define({
      source: { kind: 'lake', pipeline: 'x', layer: 'stream', schema: kafkaSpec().source.schema, eventTime: 'ts' },
    });
    expect(() => compileBatch(lakeSpec, '2026-11-25T10', KAFKA)).toThrow(
      new InvalidSourceBinding('lake source x/stream needs a binding { partitionPrefix }'),
    );
  });

  it('produces what a step plan takes (checked by tsc)', () => {
    const step = compileBatch(pageViews, '2026-11-25T10', KAFKA);
    const plan = batchStepPlan({
      stepName: 'a',
      sources: step.sources.map((s) => ({ ...s, bootstrapServers: 'b:9092' })),
      sql: step.sql,
      table: 'lake.`page-views`.batch',
      partition: '2026-11-25T10',
    });
    expect(plan.query).toContain(step.sql);
  });
});
