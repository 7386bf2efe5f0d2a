import type { Client } from '@temporalio/client';
import type { KafkaClient } from '../engines/kafka';
import type { SparkConfig } from '../engines/spark';
import type { SparkConnectConfig } from '../engines/spark-connect';
import type { LakeCatalogConfig } from '../lib/lake-catalog';

/**
 * What the activities are built from: engine clients and settings (docs/architecture.md#layers: activities get their
 * clients, so tests pass real or fake ones). The worker builds it from the configuration
 * (workers/deps.ts); nothing here knows where the settings came from.
 */
export interface ActivityDeps {
  kafka: KafkaClient;
  brokers: string[];
  spark: SparkConfig;
  /** The Spark Connect server: `batch.engine: connect` steps, and every read of the lake's tables. */
  sparkConnect: SparkConnectConfig;
  /** The lake's Iceberg catalog (engines open it as `lake`). */
  lakeCatalog: LakeCatalogConfig;
  /** `requestTimeoutMs`: per request to the SQL Gateway (@default 30_000). */
  flink: { restUrl: string; gatewayUrl: string; requestTimeoutMs?: number };
  /** The lake's root folder. */
  lake: string;
  /** The database `postgres` intake sources read when their spec names none (SLUICE_POSTGRES_URL). */
  postgresUrl: string;
  /** A Temporal client for activities that read other workflows (the pool's liveness check). */
  temporal?: () => Client;
  /** Crash tests only: where failpoints are armed (lib/failpoints.ts). */
  failpointsDir?: string;
}
