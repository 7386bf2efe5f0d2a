import * as path from 'node:path';
import type { ActivityDeps } from '../activities/deps';
import { ConfigError, sparkEventLogDir, type Env } from '../config/env';
import { createKafkaClient } from '../engines/kafka';
import { lakeCatalogFromEnv, sparkCatalogConf } from '../lib/lake-catalog';

/**
 * Where Spark's client side lives when the configuration does not say: the `sluice` CLI passes the
 * local stack's installation (stack/install.ts `localSparkDefaults`), a deployment sets the
 * variables instead. Nothing below the CLI knows the local stack.
 */
export interface SparkDefaults {
  sparkHome: string;
  python: string;
  jars: string[];
  /** The Spark Connect protocol files. */
  connectProto?: string;
}

/**
 * Builds the activities' dependencies from the configuration.
 * @throws ConfigError naming each Spark setting that is neither configured nor defaulted
 */
export function depsFromEnv(e: Env, defaults?: SparkDefaults): ActivityDeps {
  const sparkHome = e.SLUICE_SPARK_HOME ?? defaults?.sparkHome;
  const python = e.SLUICE_PYSPARK_PYTHON ?? defaults?.python;
  const jars = e.SLUICE_SPARK_JARS !== undefined ? e.SLUICE_SPARK_JARS.split(',').filter(Boolean) : defaults?.jars;
  const connectProto = e.SLUICE_SPARK_CONNECT_PROTO ?? defaults?.connectProto;
  const missing = [
    ['SLUICE_SPARK_HOME', sparkHome],
    ['SLUICE_PYSPARK_PYTHON', python],
    ['SLUICE_SPARK_JARS', jars],
    ['SLUICE_SPARK_CONNECT_PROTO', connectProto],
  ].filter(([, v]) => v === undefined);
  if (missing.length > 0 || !sparkHome || !python || !jars || !connectProto) {
    throw new ConfigError(
      missing.map(
        ([name]) =>
          `${name}: unset (set it, or run the worker with \`sluice worker\`, which uses the local stack's engines)`,
      ),
    );
  }
  const lakeCatalog = lakeCatalogFromEnv(e);
  return {
    failpointsDir: e.SLUICE_FAILPOINTS_DIR,
    postgresUrl: e.SLUICE_POSTGRES_URL,
    kafka: createKafkaClient(e.SLUICE_KAFKA_BROKERS),
    brokers: e.SLUICE_KAFKA_BROKERS,
    spark: {
      master: e.SLUICE_SPARK_MASTER,
      uiUrl: e.SLUICE_SPARK_UI,
      historyUrl: e.SLUICE_SPARK_HISTORY_UI,
      eventLogDir: sparkEventLogDir(e),
      sparkHome,
      python,
      jars,
      workDir: path.join(path.dirname(e.SLUICE_LAKE), 'work'),
      // spark-submit steps open the same Iceberg catalog as the Connect server.
      conf: sparkCatalogConf(lakeCatalog),
    },
    sparkConnect: { address: e.SLUICE_SPARK_CONNECT, uiUrl: e.SLUICE_SPARK_CONNECT_UI, protoDir: connectProto },
    lakeCatalog,
    flink: { restUrl: e.SLUICE_FLINK_REST, gatewayUrl: e.SLUICE_FLINK_SQL_GATEWAY },
    lake: e.SLUICE_LAKE,
  };
}
