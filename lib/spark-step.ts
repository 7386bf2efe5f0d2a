import type { SparkSource } from './spark-source';

/*
 * A batch step as the SQL both engines run, word for word: the spark-submit runner
 * (jobs/spark_sql_runner.py) and the Spark Connect client execute the same setup statements,
 * then write the same query into the pipeline's Iceberg table as an overwrite of exactly the
 * step's partition (`df.writeTo(table).overwrite(partition = '<id>')`): one atomic commit that
 * replaces the partition — also when the new result is empty, which a dynamic partition overwrite
 * (`overwritePartitions()`, replacing only the partitions the rows name) would leave untouched.
 * The commit's snapshot summary records the step, so a retry finds what committed.
 */

/** The column of every lake table that holds the partition id (e.g. 2026-11-20T05). */
export const PARTITION_COLUMN = 'partition';
/** Snapshot summary keys a step's commit carries. */
export const STEP_PROPERTY = 'sluice.step';
/** Set by the Connect path: the operation that committed. */
export const OPERATION_PROPERTY = 'sluice.operation';

export interface BatchStepPlan {
  /** Run in order before the write; each may be run again (temporary views, IF NOT EXISTS). */
  setup: string[];
  /** The rows of the partition, with its partition column. */
  query: string;
  /** The rows the write replaces: exactly the partition (a SQL condition). */
  overwrite: string;
  /** The Iceberg table, e.g. lake.`page-views`.batch. */
  table: string;
  /** Write options: the snapshot summary properties of the commit. */
  options: Record<string, string>;
}

/** A SQL string literal. */
export const sqlString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const ident = (s: string) => `\`${s.replace(/`/g, '``')}\``;

/**
 * The SQL of one step. `sources` must be resolved (Kafka brokers filled in); `stepName` is
 * deterministic per workflow run and submission.
 */
export function batchStepPlan(step: {
  stepName: string;
  sources: SparkSource[];
  sql: string;
  table: string;
  partition: string;
}): BatchStepPlan {
  const setup = step.sources.flatMap(sourceViews);
  const query = `SELECT *, ${sqlString(step.partition)} AS ${ident(PARTITION_COLUMN)} FROM (\n${step.sql}\n) AS \`step\``;
  const namespace = step.table.slice(0, step.table.lastIndexOf('.'));
  setup.push(
    `CREATE NAMESPACE IF NOT EXISTS ${namespace}`,
    // The table takes the first step's columns; LIMIT 0 writes no rows (and reads none).
    `CREATE TABLE IF NOT EXISTS ${step.table} USING iceberg PARTITIONED BY (${ident(PARTITION_COLUMN)}) ` +
      `TBLPROPERTIES ('format-version' = '2') AS SELECT * FROM (${query}) AS \`empty\` LIMIT 0`,
  );
  return {
    setup,
    query,
    overwrite: `${ident(PARTITION_COLUMN)} = ${sqlString(step.partition)}`,
    table: step.table,
    options: { [`snapshot-property.${STEP_PROPERTY}`]: step.stepName },
  };
}

/** The temporary view(s) a source is registered as. */
function sourceViews(src: SparkSource): string[] {
  const view = ident(src.view);
  if (src.format === 'kafka') {
    if (!src.bootstrapServers) throw new Error(`source ${src.view}: Kafka brokers unresolved`);
    const offsets = (o: 'earliest' | 'latest' | Record<string, number>) =>
      typeof o === 'string'
        ? o
        : JSON.stringify({ [src.topic]: Object.fromEntries(Object.entries(o).map(([p, n]) => [p, n])) });
    const raw = ident(`_kafka_${src.view}`);
    const options = {
      'kafka.bootstrap.servers': src.bootstrapServers,
      subscribe: src.topic,
      startingOffsets: offsets(src.startingOffsets),
      endingOffsets: offsets(src.endingOffsets),
      // Offsets outside the topic's retention fail the step instead of reading less.
      failOnDataLoss: 'true',
      // Only committed records: an intake's or a produce's aborted transaction (its writer was
      // killed mid-batch) is never counted. Spark's default is read_uncommitted.
      'kafka.isolation.level': 'read_committed',
    };
    return [
      `CREATE OR REPLACE TEMPORARY VIEW ${raw} USING kafka OPTIONS (${Object.entries(options)
        .map(([k, v]) => `${sqlString(k)} ${sqlString(v)}`)
        .join(', ')})`,
      // FAILFAST: a record that does not match the schema fails the step, naming it.
      `CREATE OR REPLACE TEMPORARY VIEW ${view} AS SELECT \`r\`.*, \`partition\` AS \`_kafka_partition\`, ` +
        `\`offset\` AS \`_kafka_offset\` FROM (SELECT from_json(CAST(\`value\` AS STRING), ${sqlString(src.schema)}, ` +
        `map('mode', 'FAILFAST')) AS \`r\`, \`partition\`, \`offset\` FROM ${raw}) AS \`parsed\``,
    ];
  }
  if (src.format === 'iceberg') {
    const filter = src.partitionPrefix
      ? ` WHERE startswith(${ident(PARTITION_COLUMN)}, ${sqlString(src.partitionPrefix)})`
      : '';
    return [`CREATE OR REPLACE TEMPORARY VIEW ${view} AS SELECT * FROM ${src.table}${filter}`];
  }
  return [`CREATE OR REPLACE TEMPORARY VIEW ${view} USING parquet OPTIONS (path ${sqlString(src.path)})`];
}
