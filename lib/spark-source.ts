/**
 * What a Spark SQL step reads, as the PySpark runner (jobs/spark_sql_runner.py) registers it: each
 * source becomes a temporary view (lib/spark-step.ts says how). Written by the batch compiler
 * (lib/pipelines/compile-spark.ts), completed by the Spark activity (brokers) and run by either engine.
 */

/** A Kafka topic read as a batch between offsets. */
export interface SparkKafkaSource {
  view: string;
  format: 'kafka';
  /** Unset: the configured brokers (the activity fills them in). */
  bootstrapServers?: string;
  topic: string;
  /** "earliest", or partition → first offset (inclusive). */
  startingOffsets: 'earliest' | Record<string, number>;
  /**
   * "latest", or partition → end offset (exclusive). Pipelines always fix them when a run starts,
   * so that a retry reads the same records.
   */
  endingOffsets: 'latest' | Record<string, number>;
  /** Spark DDL schema of the JSON values, e.g. "`user` STRING, `ts` BIGINT". */
  schema: string;
}

/** Parquet files: a path or Hadoop glob. */
export interface SparkParquetSource {
  view: string;
  format: 'parquet';
  path: string;
}

/** A lake table (a pipeline's batch or stream layer), optionally only the partitions starting with a prefix. */
export interface SparkIcebergSource {
  view: string;
  format: 'iceberg';
  /** e.g. lake.`page-views`.batch */
  table: string;
  /** e.g. 2026-11-25: that day's hourly or daily partitions. */
  partitionPrefix?: string;
}

export type SparkSource = SparkKafkaSource | SparkParquetSource | SparkIcebergSource;
