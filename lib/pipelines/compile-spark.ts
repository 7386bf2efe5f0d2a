import { isoUtc, partitionBounds } from './partitions';
import {
  EVENT_TIME_COLUMN,
  isDeclarative,
  parsePipelineSpec,
  type Aggregate,
  type ColumnType,
  type DeclarativeTransform,
  type PipelineSpec,
  type Source,
} from './spec';
import { parseDuration } from './duration';
import { scanSelect } from './sql-text';
import type { SparkSource } from '../spark-source';
import { sparkTableName } from '../lake-catalog';

/*
 * Compiles a batch pipeline's computation for one partition to a Spark SQL step: the sources the
 * PySpark runner (jobs/spark_sql_runner.py) registers as views, and one query over them.
 *
 * Time semantics are UTC throughout. The partition's bounds are written as UTC instants
 * (`TIMESTAMP '2026-11-25T10:00:00Z'`), tumbling windows are aligned to the epoch, hence to UTC
 * hours and days, and the Spark activity runs with `spark.sql.session.timeZone=UTC`, which is
 * also the zone in which JSON timestamps without an offset are read.
 */

/** Spark SQL types of source and output columns, as written in DDL. */
export type SparkType = 'STRING' | 'INT' | 'BIGINT' | 'DOUBLE' | 'BOOLEAN' | 'TIMESTAMP';

/**
 * What only run time knows about a Kafka source: the offsets to read. The workflow records the
 * end offsets when a run starts, so a retry reads exactly the same records.
 */
export interface KafkaSourceBinding {
  startingOffsets: 'earliest' | Record<string, number>;
  endingOffsets: Record<string, number>;
}

/**
 * What only run time knows about a lake source: which of the upstream table's partitions to read,
 * by prefix (`2026-11-25`: that day's). It may cover more than the partition: the `events` view
 * keeps only the partition's event-time range.
 */
export interface LakeSourceBinding {
  partitionPrefix: string;
}

export type SourceBinding = KafkaSourceBinding | LakeSourceBinding;

export interface OutputColumn {
  name: string;
  type: SparkType;
}

/** One Spark SQL step: `sources` and `sql` as `SparkSqlJob` (engines/spark.ts) takes them. */
export interface CompiledBatch {
  sources: SparkSource[];
  sql: string;
  /**
   * The output's columns in order, for a declarative transform. `undefined` for raw SQL, whose
   * output is known only after it runs: validation then checks only the row count and the
   * `validate.requiredColumns` the spec lists.
   */
  outputColumns: OutputColumn[] | undefined;
}

/** The view the source is registered as; the compiled query reads only this. */
export const RAW_EVENTS_VIEW = 'raw_events';

/** A binding that does not fit the source or is malformed; permanent. */
export class InvalidSourceBinding extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSourceBinding';
  }
}

const SPARK_TYPES: Record<ColumnType, SparkType> = {
  string: 'STRING',
  int: 'INT',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
  epoch_millis: 'BIGINT',
};

/** The Spark SQL type of a declared column type (`epoch_millis` is a BIGINT). */
export function sparkType(type: ColumnType): SparkType {
  return SPARK_TYPES[type];
}

/** Spark DDL of a schema, e.g. "`user` STRING, `amount` BIGINT, `ts` BIGINT", in declaration order. */
export function sparkSchemaDdl(schema: Record<string, ColumnType>): string {
  return Object.entries(schema)
    .map(([name, type]) => `${quote(name)} ${sparkType(type)}`)
    .join(', ');
}

/**
 * Compiles `spec` for one `partition` into a Spark SQL step. Deterministic: the same spec,
 * partition and binding give the same step, byte for byte.
 *
 * The query starts with a CTE `events`: every schema column of `raw_events`, plus `event_time`
 * (TIMESTAMP; `timestamp_millis(col)` for an `epoch_millis` column), restricted to the partition's
 * range `[start, end)` in UTC. A declarative transform then groups by the tumbling window (output
 * `window_start`, `window_end`), the group-by columns, and computes the aggregates, ordered by the
 * group columns; raw SQL follows the CTE verbatim.
 *
 * @throws InvalidPipelineSpec when `spec` does not validate (it is re-validated here, so that no
 *   unchecked name reaches the SQL), InvalidPartition for a bad partition id, InvalidSourceBinding
 *   when the binding does not match the source.
 */
export function compileBatch(spec: PipelineSpec, partition: string, binding: SourceBinding): CompiledBatch {
  const checked = parsePipelineSpec(spec);
  const { start, end } = partitionBounds(checked.partitioning, partition);
  const events = eventsCte(checked.source, start, end);
  const { transform } = checked;
  if (isDeclarative(transform)) {
    return {
      sources: [sourceOf(checked.source, binding)],
      sql: `${events}\n${declarativeQuery(transform)}`,
      outputColumns: outputColumnsOf(transform, checked.source.schema),
    };
  }
  return {
    sources: [sourceOf(checked.source, binding)],
    sql: withUserSql(events, transform.sql),
    outputColumns: undefined,
  };
}

/**
 * The output columns a spec's batch step produces: known for a declarative transform, undefined
 * for raw SQL. Counts are BIGINT; sums are BIGINT over integer columns and DOUBLE over doubles;
 * min and max keep the column's type.
 */
export function batchOutputColumns(spec: PipelineSpec): OutputColumn[] | undefined {
  return isDeclarative(spec.transform) ? outputColumnsOf(spec.transform, spec.source.schema) : undefined;
}

function outputColumnsOf(transform: DeclarativeTransform, schema: Record<string, ColumnType>): OutputColumn[] {
  const window: OutputColumn[] = transform.window
    ? [
        { name: 'window_start', type: 'TIMESTAMP' },
        { name: 'window_end', type: 'TIMESTAMP' },
      ]
    : [];
  return [
    ...window,
    ...transform.groupBy.map((name) => ({ name, type: sparkType(schema[name]) })),
    ...transform.aggregates.map((a) => ({ name: a.as, type: aggregateType(a, schema) })),
  ];
}

function aggregateType(aggregate: Aggregate, schema: Record<string, ColumnType>): SparkType {
  if (aggregate.fn === 'count') return 'BIGINT';
  const type = sparkType(schema[aggregate.column]);
  if (aggregate.fn === 'sum') return type === 'DOUBLE' ? 'DOUBLE' : 'BIGINT';
  return type;
}

function sourceOf(source: Source, binding: SourceBinding): SparkSource {
  if (source.kind === 'kafka') {
    const offsets = kafkaOffsets(binding);
    return {
      view: RAW_EVENTS_VIEW,
      format: 'kafka',
      topic: source.topic,
      startingOffsets: offsets.startingOffsets,
      endingOffsets: offsets.endingOffsets,
      schema: sparkSchemaDdl(source.schema),
    };
  }
  const prefix =
    binding !== null && typeof binding === 'object'
      ? (binding as { partitionPrefix?: unknown }).partitionPrefix
      : undefined;
  if (typeof prefix !== 'string') {
    throw new InvalidSourceBinding(
      `lake source ${source.pipeline}/${source.layer} needs a binding { partitionPrefix }`,
    );
  }
  return {
    view: RAW_EVENTS_VIEW,
    format: 'iceberg',
    table: sparkTableName(source.pipeline, source.layer),
    partitionPrefix: prefix,
  };
}

function kafkaOffsets(binding: SourceBinding): KafkaSourceBinding {
  const b = (binding ?? {}) as Partial<KafkaSourceBinding>;
  const isOffsets = (o: unknown): o is Record<string, number> =>
    o !== null &&
    typeof o === 'object' &&
    !Array.isArray(o) &&
    Object.entries(o).every(([p, n]) => /^(0|[1-9][0-9]*)$/.test(p) && Number.isSafeInteger(n) && n >= 0);
  if (!isOffsets(b.endingOffsets) || Object.keys(b.endingOffsets).length === 0) {
    throw new InvalidSourceBinding(
      'kafka source needs endingOffsets: partition → offset (non-negative integers, at least one partition)',
    );
  }
  const ending = b.endingOffsets;
  if (b.startingOffsets === 'earliest') return { startingOffsets: 'earliest', endingOffsets: ending };
  if (!isOffsets(b.startingOffsets)) {
    throw new InvalidSourceBinding(
      'kafka source needs startingOffsets: "earliest" or partition → offset (non-negative integers)',
    );
  }
  const starting = b.startingOffsets;
  const startKeys = Object.keys(starting).sort().join(',');
  const endKeys = Object.keys(ending).sort().join(',');
  if (startKeys !== endKeys) {
    throw new InvalidSourceBinding(
      `kafka startingOffsets and endingOffsets must name the same partitions (${startKeys} vs ${endKeys})`,
    );
  }
  for (const p of Object.keys(ending)) {
    if (starting[p] > ending[p]) {
      throw new InvalidSourceBinding(
        `kafka partition ${p}: starting offset ${starting[p]} is after ending offset ${ending[p]}`,
      );
    }
  }
  return { startingOffsets: starting, endingOffsets: ending };
}

/** `WITH `events` AS (...)`: schema columns plus event_time, restricted to [start, end). */
function eventsCte(source: Source, start: number, end: number): string {
  const timeColumn = quote(source.eventTime);
  const eventTime = source.schema[source.eventTime] === 'epoch_millis' ? `timestamp_millis(${timeColumn})` : timeColumn;
  const columns = [...Object.keys(source.schema).map(quote), `${eventTime} AS ${quote(EVENT_TIME_COLUMN)}`];
  return [
    'WITH `events` AS (',
    '  SELECT *',
    '  FROM (',
    '    SELECT',
    columns.map((c) => `      ${c}`).join(',\n'),
    `    FROM ${quote(RAW_EVENTS_VIEW)}`,
    '  ) AS `parsed`',
    `  WHERE ${quote(EVENT_TIME_COLUMN)} >= TIMESTAMP '${isoUtc(start)}'`,
    `    AND ${quote(EVENT_TIME_COLUMN)} < TIMESTAMP '${isoUtc(end)}'`,
    ')',
  ].join('\n');
}

function declarativeQuery(transform: DeclarativeTransform): string {
  const { window, groupBy, aggregates } = transform;
  const select = [
    ...(window ? ['window.start AS `window_start`', 'window.end AS `window_end`'] : []),
    ...groupBy.map(quote),
    ...aggregates.map(
      (a) => `${a.fn === 'count' ? 'COUNT(*)' : `${a.fn.toUpperCase()}(${quote(a.column)})`} AS ${quote(a.as)}`,
    ),
  ];
  const groups = [
    ...(window ? [`window(${quote(EVENT_TIME_COLUMN)}, '${parseDuration(window.tumbling)!.text}')`] : []),
    ...groupBy.map(quote),
  ];
  const order = [...(window ? ['window_start'] : []), ...groupBy].map(quote);
  const lines = ['SELECT', select.map((s) => `  ${s}`).join(',\n'), 'FROM `events`'];
  if (groups.length > 0) lines.push(`GROUP BY ${groups.join(', ')}`, `ORDER BY ${order.join(', ')}`);
  return lines.join('\n');
}

/**
 * `WITH events AS (...) <user sql>`. A user query that starts with its own WITH joins our CTE
 * list (`WITH events AS (...), mine AS (...) SELECT ...`), since Spark takes one WITH per query.
 */
function withUserSql(events: string, userSql: string): string {
  const sql = userSql.trim();
  const scan = scanSelect(sql);
  if (scan.ok && scan.leading.keyword === 'WITH') {
    const { index } = scan.leading;
    return `${sql.slice(0, index)}${events},${sql.slice(index + 'WITH'.length)}`;
  }
  return `${events}\n${sql}`;
}

/** Backtick-quotes an identifier (names are validated identifiers; a backtick is doubled anyway). */
function quote(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}
