import {
  compileStreaming,
  definePipeline,
  InvalidPipelineSpec,
  KAFKA_BROKERS,
  LAKE_CATALOG_OPTIONS,
  STREAM_PLACEHOLDERS,
  TRANSACTIONAL_ID_PREFIX,
  type CompiledStream,
  type StreamingPipelineSpecInput,
} from '../../../lib/pipelines';
import { changed, kafkaSpec, streamingSpec } from './helpers';

/** page-views-live (lake and Kafka sinks) with fields changed by dotted path. */
const define = (changes: Record<string, unknown> = {}) =>
  definePipeline(changed(changes, streamingSpec()) as StreamingPipelineSpecInput);

const lakeOnly = () => compileStreaming(define({ sink: { lake: true } }));
const kafkaOnly = () => compileStreaming(define({ sink: { lake: false, kafka: { topic: 'totals' } } }));
const both = () => compileStreaming(define());

/** The DDL statement that starts with `prefix` (exactly one must). */
function statement(compiled: CompiledStream, prefix: string): string {
  const found = compiled.ddl.filter((s) => s.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0];
}

/** The window aggregation's SELECT: the INSERT's with one sink, the view's with two. */
function aggregation(compiled: CompiledStream): string {
  return compiled.ddl.find((s) => s.startsWith('CREATE TEMPORARY VIEW')) ?? compiled.insert;
}

/** `name TYPE` of each column a CREATE TABLE declares, in order (computed columns and watermark excluded). */
function declaredColumns(ddl: string): string[] {
  return [...ddl.matchAll(/^ {2}`([^`]+)` ([A-Z_]+(?:\(\d\))?),?$/gm)].map(([, name, type]) => `${name} ${type}`);
}

const SOURCE = 'CREATE TEMPORARY TABLE `src`';
const LAKE_TABLE = 'CREATE TABLE IF NOT EXISTS `lake`.`page-views-live`.`stream`';
const KAFKA_SINK = 'CREATE TEMPORARY TABLE `sink_kafka`';

describe('compileStreaming: the Kafka source', () => {
  it('declares every source column in its Flink type, identifiers in backticks', () => {
    const spec = define({
      'source.schema': {
        s: 'string',
        i: 'int',
        b: 'bigint',
        d: 'double',
        ok: 'boolean',
        at: 'timestamp',
        ts: 'epoch_millis',
      },
      'transform.groupBy': ['s'],
      'transform.aggregates': [{ fn: 'count', as: 'n' }],
    });
    expect(declaredColumns(statement(compileStreaming(spec), SOURCE))).toEqual([
      's STRING',
      'i INT',
      'b BIGINT',
      'd DOUBLE',
      'ok BOOLEAN',
      'at TIMESTAMP_LTZ(3)',
      'ts BIGINT',
    ]);
    // `user` is a reserved word in Flink SQL: only the backticks make it a column name.
    expect(statement(both(), SOURCE)).toContain('  `user` STRING,');
  });

  it('derives event_time from an epoch_millis column, or takes a timestamp column as it is', () => {
    expect(statement(both(), SOURCE)).toContain('`event_time` AS TO_TIMESTAMP_LTZ(`ts`, 3),');
    const atTimestamp = define({
      'source.schema': { page: 'string', at: 'timestamp' },
      'source.eventTime': 'at',
      'transform.aggregates': [{ fn: 'count', as: 'views' }],
    });
    expect(statement(compileStreaming(atTimestamp), SOURCE)).toContain('`event_time` AS `at`,');
  });

  it('holds the watermark back by the allowed lateness, in seconds', () => {
    expect(statement(both(), SOURCE)).toContain("WATERMARK FOR `event_time` AS `event_time` - INTERVAL '5' SECOND\n");
    const lateness = (text: string) => statement(compileStreaming(define({ 'stream.allowedLateness': text })), SOURCE);
    expect(lateness('2 minutes')).toContain("`event_time` - INTERVAL '120' SECOND(3)\n");
    expect(lateness('1 day')).toContain("`event_time` - INTERVAL '86400' SECOND(5)\n");
    // Past six digits of seconds, Flink's largest interval precision, the duration's own unit.
    expect(lateness('12 days')).toContain("`event_time` - INTERVAL '12' DAY\n");
  });

  it('reads the topic as the pipeline’s consumer group, committed records only, JSON', () => {
    const compiled = both();
    const source = statement(compiled, SOURCE);
    expect(compiled.groupId).toBe('sluice-stream-page-views-live');
    expect(compiled.sourceTopic).toBe('page-views');
    for (const option of [
      "'connector'='kafka'",
      "'topic'='page-views'",
      `'properties.bootstrap.servers'='${KAFKA_BROKERS}'`,
      "'properties.group.id'='sluice-stream-page-views-live'",
      "'scan.startup.mode'='earliest-offset'",
      "'properties.isolation.level'='read_committed'",
      "'format'='json'",
      "'json.ignore-parse-errors'='true'",
      "'json.timestamp-format.standard'='ISO-8601'",
    ]) {
      expect(source).toContain(option);
    }
  });
});

describe('compileStreaming: the window aggregation', () => {
  it('groups by the tumbling window and the group-by columns', () => {
    const { insert, ddl } = lakeOnly();
    expect(insert).toContain("FROM TABLE(TUMBLE(TABLE `src`, DESCRIPTOR(`event_time`), INTERVAL '15' MINUTE))");
    expect(insert).toContain('GROUP BY `window_start`, `window_end`, `window_time`, `page`');
    expect(ddl.join('\n')).not.toContain('TUMBLE');
  });

  it('writes windows longer than 99 units with a leading precision', () => {
    const window = (tumbling: string) =>
      compileStreaming(define({ 'transform.window.tumbling': tumbling, partitioning: 'day' }));
    expect(aggregation(window('720 minutes'))).toContain("INTERVAL '720' MINUTE(3))");
    expect(aggregation(window('90 seconds'))).toContain("INTERVAL '90' SECOND))");
    expect(aggregation(window('1 day'))).toContain("INTERVAL '1' DAY))");
  });

  it('computes each output column, the partition id of the window start (UTC) first and the watermark last', () => {
    const { insert } = lakeOnly();
    expect(insert).toContain("DATE_FORMAT(`window_start`, 'yyyy-MM-dd''T''HH') AS `partition`");
    expect(insert).toContain('CAST(`window_start` AS TIMESTAMP(3)) AS `window_start`');
    expect(insert).toContain('CAST(`window_end` AS TIMESTAMP(3)) AS `window_end`');
    expect(insert).toContain('COUNT(*) AS `views`');
    expect(insert).toContain('SUM(`amount`) AS `total_amount`');
    expect(insert).toContain('MAX(`amount`) AS `max_amount`');
    expect(insert).toContain('CAST(CURRENT_WATERMARK(`window_time`) AS TIMESTAMP(3)) AS `watermark`');
    const daily = compileStreaming(define({ partitioning: 'day' }));
    expect(aggregation(daily)).toContain("DATE_FORMAT(`window_start`, 'yyyy-MM-dd') AS `partition`");
  });

  it('types the aggregates: counts and integer sums BIGINT, double sums DOUBLE, min and max as their column', () => {
    const spec = define({
      'source.schema': { page: 'string', n: 'int', price: 'double', at: 'timestamp', ts: 'epoch_millis' },
      'transform.aggregates': [
        { fn: 'count', as: 'c' },
        { fn: 'sum', column: 'n', as: 'sum_n' },
        { fn: 'sum', column: 'price', as: 'sum_price' },
        { fn: 'sum', column: 'ts', as: 'sum_ts' },
        { fn: 'min', column: 'at', as: 'first_at' },
        { fn: 'max', column: 'page', as: 'last_page' },
        { fn: 'min', column: 'n', as: 'min_n' },
      ],
    });
    const compiled = compileStreaming(spec);
    expect(compiled.columns.map((c) => `${c.name} ${c.type}`)).toEqual([
      'partition STRING',
      'window_start TIMESTAMP(3)',
      'window_end TIMESTAMP(3)',
      'page STRING',
      'c BIGINT',
      'sum_n BIGINT',
      'sum_price DOUBLE',
      'sum_ts BIGINT',
      'first_at TIMESTAMP_LTZ(3)',
      'last_page STRING',
      'min_n INT',
      'watermark TIMESTAMP(3)',
    ]);
    // Flink's SUM of an INT is an INT: the column is widened before it is summed.
    expect(aggregation(compiled)).toContain('SUM(CAST(`n` AS BIGINT)) AS `sum_n`');
  });
});

describe('compileStreaming: sinks', () => {
  it('lake only: the Iceberg catalog, database and table, and one INSERT with the write-parallelism hint', () => {
    const compiled = lakeOnly();
    expect(compiled.ddl[0]).toBe(`CREATE CATALOG IF NOT EXISTS \`lake\` WITH (${LAKE_CATALOG_OPTIONS})`);
    expect(compiled.ddl[1]).toBe('CREATE DATABASE IF NOT EXISTS `lake`.`page-views-live`');
    expect(compiled.ddl[2].startsWith(LAKE_TABLE)).toBe(true);
    expect(compiled.ddl[2]).toContain(") PARTITIONED BY (`partition`) WITH ('format-version'='2')");
    expect(compiled.ddl[3].startsWith(SOURCE)).toBe(true);
    expect(compiled.ddl).toHaveLength(4);
    expect(compiled.insert).toMatch(
      /^INSERT INTO `lake`\.`page-views-live`\.`stream` \/\*\+ OPTIONS\('write-parallelism'='1'\) \*\/\nSELECT\n/,
    );
    expect(compiled.table).toEqual({ catalog: 'lake', database: 'page-views-live', table: 'stream' });
    expect(compiled.kafkaSink).toBeUndefined();
    expect(JSON.stringify(compiled)).not.toContain(TRANSACTIONAL_ID_PREFIX);
  });

  it('Kafka only: an exactly-once Kafka sink table and one INSERT into it, no catalog', () => {
    const compiled = kafkaOnly();
    expect(compiled.ddl).toHaveLength(2);
    expect(compiled.ddl[0].startsWith(SOURCE)).toBe(true);
    const sink = statement(compiled, KAFKA_SINK);
    for (const option of [
      "'connector'='kafka'",
      "'topic'='totals'",
      `'properties.bootstrap.servers'='${KAFKA_BROKERS}'`,
      "'format'='json'",
      "'sink.delivery-guarantee'='exactly-once'",
      `'sink.transactional-id-prefix'='${TRANSACTIONAL_ID_PREFIX}'`,
      "'properties.transaction.timeout.ms'='600000'",
      "'sink.parallelism'='1'",
    ]) {
      expect(sink).toContain(option);
    }
    expect(compiled.insert).toMatch(/^INSERT INTO `sink_kafka`\nSELECT\n/);
    expect(compiled.insert).not.toContain('OPTIONS');
    expect(compiled.table).toBeUndefined();
    expect(compiled.kafkaSink).toEqual({ topic: 'totals' });
    expect(JSON.stringify(compiled)).not.toContain(LAKE_CATALOG_OPTIONS);
    expect(compiled.ddl.join('\n')).not.toContain('CATALOG');
  });

  it('both: one temporary view of the aggregation, read by a statement set of two INSERTs', () => {
    const compiled = both();
    const view = statement(compiled, 'CREATE TEMPORARY VIEW `windowed` AS\nSELECT\n');
    expect(view).toContain('FROM TABLE(TUMBLE(');
    // The view reads the source table, so it comes after it.
    expect(compiled.ddl.indexOf(view)).toBeGreaterThan(compiled.ddl.indexOf(statement(compiled, SOURCE)));
    const lines = compiled.insert.split('\n');
    expect(lines[0]).toBe('STATEMENT SET BEGIN');
    expect(lines[lines.length - 1]).toBe('END');
    expect(compiled.insert).toContain(
      "INSERT INTO `lake`.`page-views-live`.`stream` /*+ OPTIONS('write-parallelism'='1') */\nSELECT * FROM `windowed`;",
    );
    expect(compiled.insert).toContain('INSERT INTO `sink_kafka`\nSELECT * FROM `windowed`;');
    expect(compiled.insert).not.toContain('TUMBLE');
    expect(compiled.table).toBeDefined();
    expect(compiled.kafkaSink).toEqual({ topic: 'page-views-live-totals' });
  });

  it('declares every output column, in order and type, in the lake table and the Kafka sink', () => {
    const compiled = both();
    const columns = compiled.columns.map((c) => `${c.name} ${c.type}`);
    expect(columns).toHaveLength(8);
    expect(declaredColumns(statement(compiled, LAKE_TABLE))).toEqual(columns);
    expect(declaredColumns(statement(compiled, KAFKA_SINK))).toEqual(columns);
    // ... and the aggregation computes them in that order.
    const aliases = [...compiled.ddl.join('\n').matchAll(/^ {2}(?:.* AS )?`([^`]+)`,?$/gm)].map(([, name]) => name);
    expect(aliases.slice(-columns.length)).toEqual(compiled.columns.map((c) => c.name));
  });

  it('puts each placeholder only where the activity fills it in', () => {
    const compiled = both();
    expect(Object.values(STREAM_PLACEHOLDERS)).toEqual([KAFKA_BROKERS, LAKE_CATALOG_OPTIONS, TRANSACTIONAL_ID_PREFIX]);
    const using = (placeholder: string) =>
      compiled.ddl.filter((s) => s.includes(placeholder)).map((s) => s.split(' (')[0]);
    expect(using(KAFKA_BROKERS)).toEqual([SOURCE, KAFKA_SINK]);
    expect(using(LAKE_CATALOG_OPTIONS)).toEqual(['CREATE CATALOG IF NOT EXISTS `lake` WITH']);
    expect(using(TRANSACTIONAL_ID_PREFIX)).toEqual([KAFKA_SINK]);
    expect(compiled.insert).not.toMatch(/\$\{/);
  });
});

describe('compileStreaming: settings and contract', () => {
  it('sets checkpointing, idle timeout, max parallelism and the UTC zone, and nothing per generation', () => {
    expect(both().config).toEqual({
      'execution.checkpointing.interval': '10000 ms',
      'execution.checkpointing.mode': 'EXACTLY_ONCE',
      'table.exec.source.idle-timeout': '2000 ms',
      'pipeline.max-parallelism': '8',
      'table.exec.sink.upsert-materialize': 'NONE',
      'table.local-time-zone': 'UTC',
    });
    const tuned = compileStreaming(
      define({
        'stream.checkpointInterval': '1 minute',
        'stream.idleTimeout': '30 seconds',
        'stream.maxParallelism': 64,
      }),
    );
    expect(tuned.config).toMatchObject({
      'execution.checkpointing.interval': '60000 ms',
      'table.exec.source.idle-timeout': '30000 ms',
      'pipeline.max-parallelism': '64',
    });
  });

  it('is deterministic and keeps the group id across every other change', () => {
    expect(both()).toEqual(both());
    expect(compileStreaming(define({ 'stream.parallelism': 4 })).groupId).toBe(both().groupId);
  });

  it('re-validates its input and refuses a batch spec', () => {
    const bad = { ...define(), source: { ...define().source, topic: "x'; DROP" } };
    expect(() => compileStreaming(bad)).toThrow(InvalidPipelineSpec);
    expect(() => compileStreaming(definePipeline(kafkaSpec()) as never)).toThrow(
      'invalid pipeline spec "page-views": kind: "batch" is not a streaming pipeline',
    );
  });
});
