/**
 * The lake's Iceberg catalog, described once for every engine that opens it: the Spark Connect
 * server and spark-submit steps (`spark.sql.catalog.lake.*`), Flink's SQL sessions
 * (`CREATE CATALOG lake WITH (...)`) and the tests. Locally a Hadoop catalog under a folder;
 * in docker-compose.yml a REST catalog over object storage. Both expose the same tables:
 * `lake.<pipeline>.batch` (Spark) and `lake.<pipeline>.stream` (Flink).
 */

/** A pipeline's lake tables: its batch and stream layers, a lambda's serving view, and the stream's late records. */
export type LakeLayer = 'batch' | 'stream' | 'merged' | 'late';

/** The catalog's name in every engine's SQL. */
export const LAKE_CATALOG = 'lake';

export interface LakeCatalogConfig {
  type: 'hadoop' | 'rest';
  /** A folder URI (file:///...) for hadoop; the REST catalog's warehouse (e.g. s3://lake/) for rest. */
  warehouse: string;
  /** The REST catalog's URI (rest only). */
  uri?: string;
  /** An S3-compatible endpoint (MinIO) for the warehouse's files. */
  s3Endpoint?: string;
}

/** Iceberg's own catalog properties (the same keys in Spark and Flink). */
export function icebergCatalogProperties(c: LakeCatalogConfig): Record<string, string> {
  const props: Record<string, string> = { warehouse: c.warehouse };
  if (c.type === 'rest') props.uri = c.uri ?? '';
  if (c.s3Endpoint || c.warehouse.startsWith('s3')) {
    props['io-impl'] = 'org.apache.iceberg.aws.s3.S3FileIO';
    if (c.s3Endpoint) {
      props['s3.endpoint'] = c.s3Endpoint;
      // MinIO serves buckets by path, not by virtual host.
      props['s3.path-style-access'] = 'true';
    }
  }
  return props;
}

/** The Spark settings that register the catalog as `lake` (for --conf or spark-defaults). */
export function sparkCatalogConf(c: LakeCatalogConfig): Record<string, string> {
  const prefix = `spark.sql.catalog.${LAKE_CATALOG}`;
  return {
    'spark.sql.extensions': 'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions',
    [prefix]: 'org.apache.iceberg.spark.SparkCatalog',
    [`${prefix}.type`]: c.type,
    // A long-lived server session must see the snapshots other engines commit (Flink's stream
    // layer, other steps): no per-session table cache.
    [`${prefix}.cache-enabled`]: 'false',
    ...Object.fromEntries(Object.entries(icebergCatalogProperties(c)).map(([k, v]) => [`${prefix}.${k}`, v])),
  };
}

/** The options of Flink's `CREATE CATALOG lake WITH (...)`. */
export function flinkCatalogOptions(c: LakeCatalogConfig): Record<string, string> {
  return { type: 'iceberg', 'catalog-type': c.type, ...icebergCatalogProperties(c) };
}

/** The catalog the configuration selects (SLUICE_LAKE_CATALOG, _WAREHOUSE, _CATALOG_URI, _S3_ENDPOINT). */
export function lakeCatalogFromEnv(e: {
  SLUICE_LAKE: string;
  SLUICE_LAKE_CATALOG: 'hadoop' | 'rest';
  SLUICE_LAKE_WAREHOUSE?: string;
  SLUICE_LAKE_CATALOG_URI?: string;
  SLUICE_LAKE_S3_ENDPOINT?: string;
}): LakeCatalogConfig {
  return {
    type: e.SLUICE_LAKE_CATALOG,
    warehouse: e.SLUICE_LAKE_WAREHOUSE ?? `file://${e.SLUICE_LAKE.replace(/\/+$/, '')}/iceberg`,
    uri: e.SLUICE_LAKE_CATALOG_URI,
    s3Endpoint: e.SLUICE_LAKE_S3_ENDPOINT,
  };
}

/** A backtick-quoted Spark identifier path, e.g. lake.`page-views`.batch. */
export function sparkTableName(pipeline: string, table: LakeLayer): string {
  return `${LAKE_CATALOG}.\`${pipeline.replace(/`/g, '``')}\`.${table}`;
}
