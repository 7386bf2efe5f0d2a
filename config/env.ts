import * as path from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT } from '../lib/project-root';
import { parseOrThrow } from '../lib/zod-issues';

const hostPort = z.string().regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:7233');
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. http://127.0.0.1:8081' });
const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
  )
  .pipe(z.array(hostPort).min(1, 'expected at least one broker host:port'));
const positiveInt = z.coerce.number().int().positive();

/**
 * Every setting of the worker and the CLI, read from environment variables once at start.
 * Defaults match the local stack (`sluice stack up`); docker-compose.yml sets the same variables
 * for a real deployment. Unknown `SLUICE_*` variables are rejected, so a typo is not silently ignored.
 */
export const EnvSchema = z.object({
  /** Temporal frontend. @default 127.0.0.1:7233 */
  TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233'),
  /** @default default */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** mTLS client certificate and key (PEM files); both or neither. */
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  /** CA bundle that signed the server's certificate (PEM file). */
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  /** Override of the server name checked against the server's certificate. */
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  /** API key (Temporal Cloud); implies TLS. */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  /**
   * Task queue the worker polls and clients start workflows on; pool schedulers run on
   * `<SLUICE_TASK_QUEUE>-pools` (see {@link poolTaskQueue}). @default sluice
   */
  SLUICE_TASK_QUEUE: z.string().min(1).default('sluice'),
  /** Comma-separated Kafka bootstrap brokers. @default 127.0.0.1:9092 */
  SLUICE_KAFKA_BROKERS: brokerList.default(['127.0.0.1:9092']),
  /**
   * The PostgreSQL that `postgres` intake sources read when their spec names no `url` (a spec's
   * url carries no password: PGPASSWORD, ~/.pgpass or this variable do). @default postgres://sluice@127.0.0.1:5432/postgres
   */
  SLUICE_POSTGRES_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/[^\s]+$/, 'expected postgres://user@host:port/database')
    .default('postgres://sluice@127.0.0.1:5432/postgres'),
  /** Spark master for spark-submit. @default spark://127.0.0.1:7077 */
  SLUICE_SPARK_MASTER: z
    .string()
    .regex(/^(spark:\/\/.+:\d+|local(\[[\d*]+\])?)$/, 'expected spark://host:port or local[N]')
    .default('spark://127.0.0.1:7077'),
  /** Spark master web UI / JSON API (application state). @default http://127.0.0.1:8080 */
  SLUICE_SPARK_UI: httpUrl.default('http://127.0.0.1:8080'),
  /** Folder with bin/spark-submit; unset: the local stack's pyspark install. */
  SLUICE_SPARK_HOME: z.string().min(1).optional(),
  /** Python for the PySpark runner; unset: the local stack's venv. */
  SLUICE_PYSPARK_PYTHON: z.string().min(1).optional(),
  /** Extra jars for spark-submit (comma-separated); unset: the local stack's Kafka source jars. */
  SLUICE_SPARK_JARS: z.string().optional(),
  /** Flink JobManager REST API. @default http://127.0.0.1:8081 */
  SLUICE_FLINK_REST: httpUrl.default('http://127.0.0.1:8081'),
  /** Flink SQL Gateway REST API. @default http://127.0.0.1:8083 */
  SLUICE_FLINK_SQL_GATEWAY: httpUrl.default('http://127.0.0.1:8083'),
  /** The lake: <pipeline>/<layer>/<partition>/ of Parquet files. @default <project>/data/lake */
  SLUICE_LAKE: z
    .string()
    .min(1)
    .default(path.join(PROJECT_ROOT, 'data', 'lake'))
    .transform((p) => path.resolve(p)),
  /** Spark's history server: the jobs of finished spark-submit steps. @default http://127.0.0.1:18080 */
  SLUICE_SPARK_HISTORY_UI: httpUrl.default('http://127.0.0.1:18080'),
  /** Where spark-submit steps write their event logs (what the history server reads). @default file://<SLUICE_LAKE>/../spark-events */
  SLUICE_SPARK_EVENT_LOG_DIR: z.string().min(1).optional(),
  /** Spark Connect server (gRPC host:port) that runs `batch.engine: connect` steps and reads the lake. @default 127.0.0.1:15002 */
  SLUICE_SPARK_CONNECT: hostPort.default('127.0.0.1:15002'),
  /** The Spark Connect driver's web UI and REST API (jobs by tag). @default http://127.0.0.1:4040 */
  SLUICE_SPARK_CONNECT_UI: httpUrl.default('http://127.0.0.1:4040'),
  /** Folder of the Spark Connect protocol files (spark/connect/*.proto); unset: the local stack's. */
  SLUICE_SPARK_CONNECT_PROTO: z.string().min(1).optional(),
  /**
   * The lake's Iceberg catalog: `hadoop` (tables under a warehouse folder, the local stack) or
   * `rest` (an Iceberg REST catalog, docker-compose.yml). @default hadoop
   */
  SLUICE_LAKE_CATALOG: z.enum(['hadoop', 'rest']).default('hadoop'),
  /** The catalog's warehouse: a folder URI (hadoop) or the REST catalog's warehouse, e.g. s3://lake/. @default file://<SLUICE_LAKE>/iceberg */
  SLUICE_LAKE_WAREHOUSE: z.string().min(1).optional(),
  /** The REST catalog's URI (required when SLUICE_LAKE_CATALOG=rest), e.g. http://iceberg-rest:8181. */
  SLUICE_LAKE_CATALOG_URI: httpUrl.optional(),
  /** An S3-compatible endpoint for the warehouse's files (MinIO), e.g. http://minio:9000; unset: AWS S3 or local files. */
  SLUICE_LAKE_S3_ENDPOINT: httpUrl.optional(),
  /** Worker: concurrent activity executions. @default 20 */
  SLUICE_WORKER_MAX_ACTIVITIES: positiveInt.default(20),
  /** Worker: concurrent workflow task executions. @default 10 */
  SLUICE_WORKER_MAX_WORKFLOW_TASKS: positiveInt.default(10),
  /** Worker: sticky cache size (0 forces a replay on every task). @default 300 */
  SLUICE_WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(300),
  /** Crash tests only: a directory whose `<activityType>.hold` files hold activities (workers/failpoints.ts). */
  SLUICE_FAILPOINTS_DIR: z.string().optional(),
  /** Where the local stack is installed and writes its state (the stack's own settings). */
  SLUICE_CACHE_DIR: z.string().optional(),
  SLUICE_STACK_DIR: z.string().optional(),
  SLUICE_STACK_TIMEOUT_MS: positiveInt.optional(),
  SLUICE_SPARK_WORKER_CORES: positiveInt.optional(),
  SLUICE_SPARK_WORKER_MEMORY: z
    .string()
    .regex(/^\d+[mg]$/, 'expected a size such as 4g or 512m')
    .optional(),
  SLUICE_FLINK_TASK_SLOTS: positiveInt.optional(),
  SLUICE_MAVEN_REPO: httpUrl.optional(),
  /** Print stack traces of CLI errors. */
  SLUICE_DEBUG: z.string().optional(),
});

export type Env = z.output<typeof EnvSchema>;

/** The event log folder of spark-submit steps: the configured one, else `spark-events` beside the lake. */
export function sparkEventLogDir(env: Pick<Env, 'SLUICE_SPARK_EVENT_LOG_DIR' | 'SLUICE_LAKE'>): string {
  return env.SLUICE_SPARK_EVENT_LOG_DIR ?? `file://${path.join(path.dirname(env.SLUICE_LAKE), 'spark-events')}`;
}

/** The task queue of the pool schedulers: `<SLUICE_TASK_QUEUE>-pools` (workers/worker.ts says why). */
export function poolTaskQueue(env: Pick<Env, 'SLUICE_TASK_QUEUE'>): string {
  return `${env.SLUICE_TASK_QUEUE}-pools`;
}

/** A configuration error: its message names each wrong variable and what is wrong with it. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment. Empty strings count as unset (compose files often carry `VAR=`).
 * @throws ConfigError naming every wrong or unknown variable
 */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const known = new Set(Object.keys(EnvSchema.shape));
  const relevant: Record<string, string> = {};
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined || value === '') continue;
    if (known.has(key)) relevant[key] = value;
    else if (key.startsWith('SLUICE_')) unknown.push(`${key}: unknown variable${suggest(key, known)}`);
  }
  // Checked on the raw values, so that it is reported together with every other problem.
  const crossField =
    Boolean(relevant.TEMPORAL_TLS_CERT) !== Boolean(relevant.TEMPORAL_TLS_KEY)
      ? ['TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY: set both (mTLS needs the certificate and its key) or neither']
      : [];
  if (relevant.SLUICE_LAKE_CATALOG === 'rest' && !relevant.SLUICE_LAKE_CATALOG_URI) {
    crossField.push('SLUICE_LAKE_CATALOG_URI: required when SLUICE_LAKE_CATALOG=rest (the REST catalog to use)');
  }
  const env = parseOrThrow(EnvSchema, relevant, (_lines, error) => {
    const wrong = error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '(environment)');
      return `${name}: ${issue.message} (got ${JSON.stringify(relevant[name] ?? null)})`;
    });
    return new ConfigError([...unknown, ...wrong, ...crossField]);
  });
  if (unknown.length > 0 || crossField.length > 0) throw new ConfigError([...unknown, ...crossField]);
  return env;
}

function suggest(key: string, known: Set<string>): string {
  let best: string | undefined;
  let bestDistance = 4;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best ? ` (did you mean ${best}?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

let cached: Env | undefined;
/** The process's configuration, parsed on first use. */
export function env(): Env {
  return (cached ??= parseEnv());
}
