import { LAKE_CATALOG } from '../lake-catalog';
import { parseDuration, type DurationUnit } from './duration';
import type { Partitioning } from './partitions';
import {
  EVENT_TIME_COLUMN,
  InvalidPipelineSpec,
  parsePipelineSpec,
  STREAM_EXTRA_COLUMNS,
  WINDOW_COLUMNS,
  type Aggregate,
  type ColumnType,
  type StreamingPipelineSpec,
} from './spec';

/*
 * Compiles a streaming pipeline to Flink SQL (Flink 2.2, submitted through the SQL Gateway): the
 * session's DDL, the one INSERT (or statement set) that COMPILE PLAN / EXECUTE PLAN take, and the
 * per-statement settings. Pure and deterministic: the same spec gives the same text, byte for byte.
 *
 * Time semantics are UTC throughout, as in the batch compiler: `table.local-time-zone` is set to
 * UTC here (not only in the cluster's config), so TUMBLE's window bounds, which Flink gives as
 * TIMESTAMP(3) in the session zone, are UTC wall-clock times, and the `partition` id of a window
 * is the UTC hour or day of its start, as lib/pipelines/partitions.ts cuts them.
 */

/**
 * Placeholders the activity replaces at run time. The first and the last stand inside SQL string
 * literals (their values never hold a `'`: broker lists, name prefixes); the catalog's stands for
 * a whole options list.
 */
export const KAFKA_BROKERS = '${KAFKA_BROKERS}';
/**
 * The lake catalog's options, as configured (lib/lake-catalog.ts `flinkCatalogOptions`): e.g.
 * `'type'='iceberg', 'catalog-type'='hadoop', 'warehouse'='file:///.../data/lake/iceberg'`.
 */
export const LAKE_CATALOG_OPTIONS = '${LAKE_CATALOG_OPTIONS}';
/** Per job generation: a restarted job must not fence, or be fenced by, its predecessor's transactions. */
export const TRANSACTIONAL_ID_PREFIX = '${TRANSACTIONAL_ID_PREFIX}';

/** The three placeholders together, as the activity substitutes them. */
export const STREAM_PLACEHOLDERS = {
  brokers: KAFKA_BROKERS,
  catalog: LAKE_CATALOG_OPTIONS,
  transactionalIdPrefix: TRANSACTIONAL_ID_PREFIX,
} as const;

/** The table of a pipeline's stream layer in its database. */
export const STREAM_TABLE = 'stream';
/** The table of the records the windows dropped as late (`sink.late`). */
export const LATE_TABLE = 'late';

/** Flink SQL types of source and output columns, as written in DDL. */
export type FlinkType = 'STRING' | 'INT' | 'BIGINT' | 'DOUBLE' | 'BOOLEAN' | 'TIMESTAMP_LTZ(3)' | 'TIMESTAMP(3)';

export interface StreamColumn {
  name: string;
  type: FlinkType;
}

/** A streaming pipeline as the Flink activity runs it. */
export interface CompiledStream {
  /**
   * Run, in order, in a fresh SQL Gateway session before COMPILE PLAN / EXECUTE PLAN (the catalog
   * and temporary tables are per session).
   */
  ddl: string[];
  /**
   * What follows `COMPILE PLAN '<file>' FOR `: one `INSERT INTO ... SELECT ...`, or
   * `STATEMENT SET BEGIN <insert>; <insert>; END` for two sinks.
   */
  insert: string;
  /** Per-statement Flink settings (executionConfig) for COMPILE PLAN and EXECUTE PLAN. */
  config: Record<string, string>;
  /** The Iceberg table, e.g. `{ catalog: 'lake', database: 'page-views-live', table: 'stream' }`; absent without a lake sink. */
  table?: { catalog: string; database: string; table: string };
  /** The late records' Iceberg table (`sink.late`); absent without it. */
  lateTable?: { catalog: string; database: string; table: string };
  /** The Kafka sink's topic; absent without a Kafka sink. */
  kafkaSink?: { topic: string };
  /** Consumer group of the Kafka source: the same in every generation (lag is measured on it). */
  groupId: string;
  sourceTopic: string;
  /** Output columns in order with their Flink SQL types (the Iceberg table's and the Kafka sink's). */
  columns: StreamColumn[];
}

const FLINK_TYPES: Record<ColumnType, FlinkType> = {
  string: 'STRING',
  int: 'INT',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP_LTZ(3)',
  epoch_millis: 'BIGINT',
};

/** The Flink SQL type of a declared column type (`epoch_millis` is a BIGINT, `timestamp` an instant). */
export function flinkType(type: ColumnType): FlinkType {
  return FLINK_TYPES[type];
}

/** The Kafka consumer group of a streaming pipeline's source. */
export function streamGroupId(pipeline: string): string {
  return `sluice-stream-${pipeline}`;
}

const [PARTITION_COLUMN, WATERMARK_COLUMN] = STREAM_EXTRA_COLUMNS;
const [WINDOW_START, WINDOW_END] = WINDOW_COLUMNS;
/** TUMBLE's third column: the window's time attribute (its end minus 1 ms), whose watermark fires it. */
const WINDOW_TIME = 'window_time';

/** Names of the session's temporary objects. */
const SOURCE_TABLE = 'src';
const KAFKA_SINK_TABLE = 'sink_kafka';
const WINDOWED_VIEW = 'windowed';

/** Java date patterns of the partition ids (`2026-11-25T10`, `2026-11-25`), for DATE_FORMAT. */
const PARTITION_PATTERN: Record<Partitioning, string> = { hour: "yyyy-MM-dd'T'HH", day: 'yyyy-MM-dd' };

/**
 * The watermark when the window fired, as UTC wall-clock time: a partition of the stream layer is
 * complete once a committed row's watermark has passed the partition's end. The one place this
 * expression is written.
 */
const FIRING_WATERMARK = `CAST(CURRENT_WATERMARK(${quote(WINDOW_TIME)}) AS TIMESTAMP(3))`;

/** Flink's largest leading precision of an interval literal (`INTERVAL '999999' SECOND(6)`). */
const MAX_INTERVAL_DIGITS = 6;

/**
 * Compiles a streaming pipeline to the SQL its Flink job runs: the Iceberg catalog, database and
 * table of its stream layer (with a lake sink), the Kafka source with its watermark, the Kafka sink
 * (with a Kafka sink), and the tumbling-window aggregation inserted into each sink.
 *
 * Output columns: `partition` (the UTC partition id of the window's start), `window_start`,
 * `window_end`, the group-by columns, the aggregates, and `watermark` (when the window fired).
 *
 * @throws InvalidPipelineSpec when `spec` does not validate or is not a streaming pipeline (it is
 *   re-validated here, so that no unchecked name reaches the SQL).
 */
export function compileStreaming(spec: StreamingPipelineSpec): CompiledStream {
  const checked = parsePipelineSpec(spec);
  if (checked.kind !== 'streaming') {
    throw new InvalidPipelineSpec([`kind: "${checked.kind}" is not a streaming pipeline`], checked.name);
  }
  const outputs = outputsOf(checked);
  const columns = outputs.map(({ name, type }) => ({ name, type }));
  const select = windowQuery(checked, outputs);
  const table = checked.sink.lake ? { catalog: LAKE_CATALOG, database: checked.name, table: STREAM_TABLE } : undefined;
  const kafkaSink = checked.sink.kafka ? { topic: checked.sink.kafka.topic } : undefined;
  const lateTable =
    checked.sink.late && table ? { catalog: LAKE_CATALOG, database: checked.name, table: LATE_TABLE } : undefined;
  const groupId = streamGroupId(checked.name);

  const ddl: string[] = [];
  if (table) ddl.push(...lakeDdl(table, columns));
  ddl.push(sourceDdl(checked, groupId));
  if (kafkaSink) ddl.push(kafkaSinkDdl(kafkaSink.topic, columns));
  if (lateTable) ddl.push(lateDdl(lateTable));

  const targets = [
    // The hint pins the Iceberg writer's parallelism, so that a savepoint restores at another job
    // parallelism (found necessary on this stack: the writer otherwise follows the job's).
    ...(table ? [`INSERT INTO ${tableName(table)} /*+ OPTIONS('write-parallelism'='1') */`] : []),
    ...(kafkaSink ? [`INSERT INTO ${quote(KAFKA_SINK_TABLE)}`] : []),
  ];
  let insert: string;
  if (targets.length === 1 && !lateTable) {
    insert = `${targets[0]}\n${select}`;
  } else {
    // Sinks of one aggregation read one view: one statement set, one job (and one source scan).
    ddl.push(`CREATE TEMPORARY VIEW ${quote(WINDOWED_VIEW)} AS\n${select}`);
    const inserts = targets.map((target) => `${target}\nSELECT * FROM ${quote(WINDOWED_VIEW)};`);
    if (lateTable) inserts.push(`${lateInsert(checked, lateTable)};`);
    insert = ['STATEMENT SET BEGIN', ...inserts, 'END'].join('\n');
  }

  const { stream } = checked;
  return {
    ddl,
    insert,
    config: {
      'execution.checkpointing.interval': `${durationMs(stream.checkpointInterval)} ms`,
      'execution.checkpointing.mode': 'EXACTLY_ONCE',
      'table.exec.source.idle-timeout': `${durationMs(stream.idleTimeout)} ms`,
      'pipeline.max-parallelism': String(stream.maxParallelism),
      'table.exec.sink.upsert-materialize': 'NONE',
      'table.local-time-zone': 'UTC',
    },
    ...(table ? { table } : {}),
    ...(kafkaSink ? { kafkaSink } : {}),
    ...(lateTable ? { lateTable } : {}),
    groupId,
    sourceTopic: checked.source.topic,
    columns,
  };
}

/** An output column with the expression that computes it in the window aggregation. */
interface Output extends StreamColumn {
  expr: string;
}

function outputsOf(spec: StreamingPipelineSpec): Output[] {
  const { schema } = spec.source;
  const { groupBy, aggregates } = spec.transform;
  const pattern = literal(PARTITION_PATTERN[spec.partitioning]);
  return [
    { name: PARTITION_COLUMN, type: 'STRING', expr: `DATE_FORMAT(${quote(WINDOW_START)}, ${pattern})` },
    // Window bounds are TIMESTAMP(3) in the session zone (UTC): Iceberg `timestamp` without zone.
    { name: WINDOW_START, type: 'TIMESTAMP(3)', expr: `CAST(${quote(WINDOW_START)} AS TIMESTAMP(3))` },
    { name: WINDOW_END, type: 'TIMESTAMP(3)', expr: `CAST(${quote(WINDOW_END)} AS TIMESTAMP(3))` },
    ...groupBy.map((name): Output => ({ name, type: flinkType(schema[name]), expr: quote(name) })),
    ...aggregates.map((a): Output => ({ name: a.as, ...aggregateOf(a, schema) })),
    { name: WATERMARK_COLUMN, type: 'TIMESTAMP(3)', expr: FIRING_WATERMARK },
  ];
}

/**
 * Counts are BIGINT; sums are BIGINT over integer columns (an INT column is widened first, since
 * Flink's SUM of INT is an INT and overflows) and DOUBLE over doubles; min and max keep the type.
 */
function aggregateOf(aggregate: Aggregate, schema: Record<string, ColumnType>): { type: FlinkType; expr: string } {
  if (aggregate.fn === 'count') return { type: 'BIGINT', expr: 'COUNT(*)' };
  const column = quote(aggregate.column);
  const type = flinkType(schema[aggregate.column]);
  if (aggregate.fn === 'sum') {
    if (type === 'DOUBLE') return { type, expr: `SUM(${column})` };
    return { type: 'BIGINT', expr: type === 'INT' ? `SUM(CAST(${column} AS BIGINT))` : `SUM(${column})` };
  }
  return { type, expr: `${aggregate.fn.toUpperCase()}(${column})` };
}

function windowQuery(spec: StreamingPipelineSpec, outputs: Output[]): string {
  const window = parseDuration(spec.transform.window.tumbling)!;
  const groups = [WINDOW_START, WINDOW_END, WINDOW_TIME, ...spec.transform.groupBy].map(quote);
  return [
    'SELECT',
    outputs.map((o) => `  ${o.expr === quote(o.name) ? o.expr : `${o.expr} AS ${quote(o.name)}`}`).join(',\n'),
    `FROM TABLE(TUMBLE(TABLE ${quote(SOURCE_TABLE)}, DESCRIPTOR(${quote(EVENT_TIME_COLUMN)}), ${interval(window.n, window.unit)}))`,
    `GROUP BY ${groups.join(', ')}`,
  ].join('\n');
}

function lakeDdl(table: { catalog: string; database: string; table: string }, columns: StreamColumn[]): string[] {
  return [
    `CREATE CATALOG IF NOT EXISTS ${quote(table.catalog)} WITH (${LAKE_CATALOG_OPTIONS})`,
    `CREATE DATABASE IF NOT EXISTS ${quote(table.catalog)}.${quote(table.database)}`,
    [
      `CREATE TABLE IF NOT EXISTS ${tableName(table)} (`,
      columnsDdl(columns),
      `) PARTITIONED BY (${quote(PARTITION_COLUMN)}) WITH (${flinkOptions({ 'format-version': '2' })})`,
    ].join('\n'),
  ];
}

function lateDdl(table: { catalog: string; database: string; table: string }): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${tableName(table)} (`,
    columnsDdl([
      { name: PARTITION_COLUMN, type: 'STRING' },
      { name: EVENT_TIME_COLUMN, type: 'TIMESTAMP(3)' },
      { name: WATERMARK_COLUMN, type: 'TIMESTAMP(3)' },
    ]),
    `) PARTITIONED BY (${quote(PARTITION_COLUMN)}) WITH (${flinkOptions({ 'format-version': '2' })})`,
  ].join('\n');
}

/**
 * Every record whose tumbling window has already fired when it reaches the source's operators:
 * the last millisecond of its window (epoch-aligned, as TUMBLE's) is at or before the current
 * watermark, so the window aggregation drops it. At parallelism 1 this is exactly the window
 * operator's decision; wider, a source subtask's watermark can run ahead of the window
 * operator's (the minimum over its inputs), and a record counted here may still be counted there.
 */
function lateInsert(spec: StreamingPipelineSpec, table: { catalog: string; database: string; table: string }): string {
  const size = parseDuration(spec.transform.window.tumbling)!.ms;
  const time = quote(EVENT_TIME_COLUMN);
  // Epoch milliseconds of the event time: the raw column for epoch_millis sources; for timestamp
  // sources, its UTC seconds and milliseconds (the session zone is UTC).
  const ms =
    spec.source.schema[spec.source.eventTime] === 'epoch_millis'
      ? quote(spec.source.eventTime)
      : `(UNIX_TIMESTAMP(DATE_FORMAT(${time}, 'yyyy-MM-dd HH:mm:ss')) * 1000 + CAST(DATE_FORMAT(${time}, 'SSS') AS BIGINT))`;
  const windowLastMs = `${ms} - MOD(${ms}, ${size}) + ${size - 1}`;
  return [
    `INSERT INTO ${tableName(table)} /*+ OPTIONS('write-parallelism'='1') */`,
    `SELECT DATE_FORMAT(${time}, ${literal(PARTITION_PATTERN[spec.partitioning])}) AS ${quote(PARTITION_COLUMN)},`,
    `  CAST(${time} AS TIMESTAMP(3)) AS ${time},`,
    `  CAST(CURRENT_WATERMARK(${time}) AS TIMESTAMP(3)) AS ${quote(WATERMARK_COLUMN)}`,
    `FROM ${quote(SOURCE_TABLE)}`,
    `WHERE TO_TIMESTAMP_LTZ(${windowLastMs}, 3) <= CURRENT_WATERMARK(${time})`,
  ].join('\n');
}

function sourceDdl(spec: StreamingPipelineSpec, groupId: string): string {
  const { source, stream } = spec;
  const timeColumn = quote(source.eventTime);
  const eventTime =
    source.schema[source.eventTime] === 'epoch_millis' ? `TO_TIMESTAMP_LTZ(${timeColumn}, 3)` : timeColumn;
  const lines = [
    ...Object.entries(source.schema).map(([name, type]) => `  ${quote(name)} ${flinkType(type)}`),
    `  ${quote(EVENT_TIME_COLUMN)} AS ${eventTime}`,
    `  WATERMARK FOR ${quote(EVENT_TIME_COLUMN)} AS ${quote(EVENT_TIME_COLUMN)} - ${latenessInterval(stream.allowedLateness)}`,
  ];
  return [
    `CREATE TEMPORARY TABLE ${quote(SOURCE_TABLE)} (`,
    lines.join(',\n'),
    `) WITH (${flinkOptions({
      connector: 'kafka',
      topic: source.topic,
      'properties.bootstrap.servers': KAFKA_BROKERS,
      'properties.group.id': groupId,
      'scan.startup.mode': 'earliest-offset',
      'properties.auto.offset.reset': 'earliest',
      // Never read the records of aborted transactions (a transactional producer's retries).
      'properties.isolation.level': 'read_committed',
      format: 'json',
      'json.ignore-parse-errors': 'true',
      'json.timestamp-format.standard': 'ISO-8601',
    })})`,
  ].join('\n');
}

function kafkaSinkDdl(topic: string, columns: StreamColumn[]): string {
  return [
    `CREATE TEMPORARY TABLE ${quote(KAFKA_SINK_TABLE)} (`,
    columnsDdl(columns),
    `) WITH (${flinkOptions({
      connector: 'kafka',
      topic,
      'properties.bootstrap.servers': KAFKA_BROKERS,
      format: 'json',
      'sink.delivery-guarantee': 'exactly-once',
      'sink.transactional-id-prefix': TRANSACTIONAL_ID_PREFIX,
      // 10 minutes: within the broker's transaction.max.timeout.ms (15 minutes by default), which
      // refuses a longer one. A transaction stays open until the checkpoint after it completes.
      'properties.transaction.timeout.ms': '600000',
      'sink.parallelism': '1',
    })})`,
  ].join('\n');
}

function columnsDdl(columns: StreamColumn[]): string {
  return columns.map((c) => `  ${quote(c.name)} ${c.type}`).join(',\n');
}

/** `'k'='v', ...` in the order given. */
/** A Flink `WITH (...)` options list: `'k'='v', ...`. */
export function flinkOptions(entries: Record<string, string>): string {
  return Object.entries(entries)
    .map(([key, value]) => `${literal(key)}=${literal(value)}`)
    .join(', ');
}

function tableName(table: { catalog: string; database: string; table: string }): string {
  return [table.catalog, table.database, table.table].map(quote).join('.');
}

/**
 * The watermark's delay in seconds (`INTERVAL '300' SECOND(3)` for 5 minutes), or in the
 * duration's own unit when the seconds would not fit an interval literal.
 */
function latenessInterval(text: string): string {
  const lateness = parseDuration(text)!;
  const seconds = lateness.ms / 1000;
  return String(seconds).length <= MAX_INTERVAL_DIGITS
    ? interval(seconds, 'second')
    : interval(lateness.n, lateness.unit);
}

/**
 * `INTERVAL '<n>' <UNIT>`, with a leading precision past two digits: Flink's default is 2, and
 * `INTERVAL '900' SECOND` fails validation ("exceeds precision of SECOND(2) field").
 */
function interval(n: number, unit: DurationUnit): string {
  const digits = String(n).length;
  return `INTERVAL '${n}' ${unit.toUpperCase()}${digits > 2 ? `(${digits})` : ''}`;
}

function durationMs(text: string): number {
  return parseDuration(text)!.ms;
}

/** A SQL string literal. */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Backtick-quotes an identifier (names are validated identifiers; a backtick is doubled anyway). */
function quote(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}
