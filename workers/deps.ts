import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Env } from '../config/env';
import { createKafkaClient, type KafkaClient } from '../activities/kafka';
import type { SparkConfig } from '../activities/spark';
import { installedLayout } from '../stack/install';
import { PROJECT_ROOT } from '../stack/paths';

/** The engine clients and settings the activities are built from (STYLE.md: activities get their clients). */
export interface ActivityDeps {
  kafka: KafkaClient;
  brokers: string[];
  spark: SparkConfig;
  flink: { restUrl: string; gatewayUrl: string };
  lake: string;
  /** A Temporal client for activities that read other workflows (the pool's liveness check). */
  temporal?: () => Client;
}

/**
 * Builds the activities' dependencies from the configuration. Spark's home, Python and jars default
 * to the local stack's installation; a deployment sets SLUICE_SPARK_HOME & co. instead.
 */
export function depsFromEnv(e: Env): ActivityDeps {
  const needLayout = !e.SLUICE_SPARK_HOME || !e.SLUICE_PYSPARK_PYTHON || e.SLUICE_SPARK_JARS === undefined;
  const layout = needLayout ? installedLayout() : undefined;
  return {
    kafka: createKafkaClient(e.SLUICE_KAFKA_BROKERS),
    brokers: e.SLUICE_KAFKA_BROKERS,
    spark: {
      master: e.SLUICE_SPARK_MASTER,
      uiUrl: e.SLUICE_SPARK_UI,
      sparkHome: e.SLUICE_SPARK_HOME ?? layout!.sparkHome,
      python: e.SLUICE_PYSPARK_PYTHON ?? layout!.python,
      jars: e.SLUICE_SPARK_JARS !== undefined ? e.SLUICE_SPARK_JARS.split(',').filter(Boolean) : layout!.sparkKafkaJars,
      workDir: path.join(path.dirname(e.SLUICE_LAKE), 'work'),
    },
    flink: { restUrl: e.SLUICE_FLINK_REST, gatewayUrl: e.SLUICE_FLINK_SQL_GATEWAY },
    lake: e.SLUICE_LAKE,
  };
}

export { PROJECT_ROOT };
