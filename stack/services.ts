import { Connection } from '@temporalio/client';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { env, sparkEventLogDir } from '../config/env';
import { flinkOverview, sqlGatewayInfo } from '../engines/flink';
import { createKafkaClient, kafkaClusterReady } from '../engines/kafka';
import { postgresReady } from '../engines/postgres';
import { sparkMasterStatus } from '../engines/spark';
import { SparkConnectClient } from '../engines/spark-connect';
import { lakeCatalogFromEnv, sparkCatalogConf } from '../lib/lake-catalog';
import { searchAttributeFlags } from '../lib/search-attributes';
import { run } from './exec';
import { installedLayout, type EngineLayout } from './install';
import type { StackPaths } from './paths';

/** Fixed local-stack endpoints, all on loopback (docs/architecture.md#local-stack). */
export const LOCAL = {
  host: '127.0.0.1',
  temporalPort: 7233,
  temporalUiPort: 8233,
  kafkaPort: 9092,
  kafkaControllerPort: 9093,
  sparkMasterPort: 7077,
  sparkMasterUiPort: 8080,
  // Spark's worker UI defaults to 8081, Flink REST's port: move it out of the way.
  sparkWorkerUiPort: 8082,
  flinkRestPort: 8081,
  flinkRpcPort: 6123,
  sqlGatewayPort: 8083,
  sparkConnectPort: 15002,
  sparkConnectUiPort: 4040,
  sparkHistoryPort: 18080,
  postgresPort: 5432,
} as const;

const h = LOCAL.host;
export const URLS = {
  temporal: `${h}:${LOCAL.temporalPort}`,
  temporalUi: `http://${h}:${LOCAL.temporalUiPort}`,
  kafka: `${h}:${LOCAL.kafkaPort}`,
  sparkMaster: `spark://${h}:${LOCAL.sparkMasterPort}`,
  sparkUi: `http://${h}:${LOCAL.sparkMasterUiPort}`,
  flink: `http://${h}:${LOCAL.flinkRestPort}`,
  sqlGateway: `http://${h}:${LOCAL.sqlGatewayPort}`,
  sparkConnect: `${h}:${LOCAL.sparkConnectPort}`,
  sparkConnectUi: `http://${h}:${LOCAL.sparkConnectUiPort}`,
  sparkHistory: `http://${h}:${LOCAL.sparkHistoryPort}`,
  postgres: `postgres://sluice@${h}:${LOCAL.postgresPort}/postgres`,
} as const;

/**
 * Resource sizes of the local engines: all four plus a worker fit a 2-core, 24 GiB machine. Three
 * can be changed through the configuration (config/env.ts).
 */
export function sizes() {
  const e = env();
  return {
    kafkaHeap: '768m',
    sparkDaemonMemory: '512m',
    // The Connect server holds `sparkConnectCores` of them for as long as it runs; the rest serve
    // `batch.engine: submit` steps, one core each.
    sparkWorkerCores: e.SLUICE_SPARK_WORKER_CORES ?? 6,
    sparkConnectCores: 2,
    sparkConnectExecutorMemory: '1g',
    sparkConnectDriverMemory: '1g',
    sparkWorkerMemory: e.SLUICE_SPARK_WORKER_MEMORY ?? '6g',
    flinkJobManagerMemory: '1024m',
    flinkTaskManagerMemory: '2560m',
    flinkTaskSlots: e.SLUICE_FLINK_TASK_SLOTS ?? 8,
  } as const;
}

export interface Ctx {
  layout: EngineLayout;
  paths: StackPaths;
}

/** One OS process of the stack. */
export interface ProcessDef {
  name: string;
  /** Ports it binds; each must be free before it starts. */
  ports: number[];
  /** Writes its configuration and formats its storage; idempotent. */
  prepare?(ctx: Ctx): Promise<void>;
  /** The signal that stops it cleanly. @default SIGTERM */
  stopSignal?: NodeJS.Signals;
  command(ctx: Ctx): { command: string; args: string[]; env?: NodeJS.ProcessEnv };
}

/** One user-facing service of `sluice stack status`, served by one or more processes. */
export interface ServiceDef {
  name:
    | 'temporal'
    | 'temporal-ui'
    | 'kafka'
    | 'spark'
    | 'spark-history'
    | 'spark-connect'
    | 'flink'
    | 'flink-sql-gateway'
    | 'postgres';
  url: string;
  processes: string[];
  healthy(): Promise<boolean>;
}

const dataDir = (ctx: Ctx, ...parts: string[]) => path.join(ctx.paths.data, ...parts);

function flinkEnv(ctx: Ctx): NodeJS.ProcessEnv {
  return {
    ...process.env,
    FLINK_HOME: ctx.layout.flinkHome,
    FLINK_CONF_DIR: dataDir(ctx, 'flink', 'conf'),
    FLINK_LOG_DIR: path.join(ctx.paths.logs, 'flink'),
    FLINK_PID_DIR: dataDir(ctx, 'flink', 'pids'),
  };
}

function sparkEnv(ctx: Ctx): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SPARK_HOME: ctx.layout.sparkHome,
    SPARK_CONF_DIR: dataDir(ctx, 'spark', 'conf'),
    SPARK_LOCAL_IP: h,
    SPARK_DAEMON_MEMORY: sizes().sparkDaemonMemory,
    PYSPARK_PYTHON: ctx.layout.python,
  };
}

/**
 * PostgreSQL refuses to run as root, and sessions and CI run as root: there the server runs as the
 * `postgres` user of Debian's package, owning its data folder (anyone else runs it as themselves).
 */
function asPostgresUser(command: string, args: string[]): { command: string; args: string[] } {
  return process.getuid?.() === 0
    ? { command: 'runuser', args: ['-u', 'postgres', '--', command, ...args] }
    : { command, args };
}

const postgresDirs = (ctx: Ctx) => ({
  data: dataDir(ctx, 'postgres', 'data'),
  socket: dataDir(ctx, 'postgres', 'run'),
});

export const PROCESSES: ProcessDef[] = [
  {
    name: 'temporal',
    ports: [LOCAL.temporalPort, LOCAL.temporalUiPort],
    async prepare(ctx) {
      fs.mkdirSync(dataDir(ctx, 'temporal'), { recursive: true });
    },
    command: (ctx) => ({
      command: ctx.layout.temporalBin,
      args: [
        'server',
        'start-dev',
        '--ip',
        h,
        '--port',
        String(LOCAL.temporalPort),
        '--ui-port',
        String(LOCAL.temporalUiPort),
        '--db-filename',
        dataDir(ctx, 'temporal', 'temporal.db'),
        '--log-level',
        'warn',
        ...searchAttributeFlags(),
      ],
    }),
  },
  {
    name: 'kafka',
    ports: [LOCAL.kafkaPort, LOCAL.kafkaControllerPort],
    async prepare(ctx) {
      const dir = dataDir(ctx, 'kafka');
      const logDirs = path.join(dir, 'logs');
      fs.mkdirSync(logDirs, { recursive: true });
      const props = path.join(dir, 'server.properties');
      fs.writeFileSync(
        props,
        [
          'process.roles=broker,controller',
          'node.id=1',
          `controller.quorum.voters=1@${h}:${LOCAL.kafkaControllerPort}`,
          `listeners=PLAINTEXT://${h}:${LOCAL.kafkaPort},CONTROLLER://${h}:${LOCAL.kafkaControllerPort}`,
          `advertised.listeners=PLAINTEXT://${h}:${LOCAL.kafkaPort}`,
          'controller.listener.names=CONTROLLER',
          'inter.broker.listener.name=PLAINTEXT',
          'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
          `log.dirs=${logDirs}`,
          'num.partitions=1',
          'offsets.topic.replication.factor=1',
          'transaction.state.log.replication.factor=1',
          'transaction.state.log.min.isr=1',
          'share.coordinator.state.topic.replication.factor=1',
          'share.coordinator.state.topic.min.isr=1',
          'group.initial.rebalance.delay.ms=0',
          'auto.create.topics.enable=true',
          '',
        ].join('\n'),
      );
      fs.writeFileSync(
        path.join(dir, 'log4j2.properties'),
        [
          'status = warn',
          'appender.out.type = Console',
          'appender.out.name = OUT',
          'appender.out.layout.type = PatternLayout',
          'appender.out.layout.pattern = [%d] %p %m (%c)%n',
          'rootLogger.level = info',
          'rootLogger.appenderRef.out.ref = OUT',
          'logger.kafka.name = kafka',
          'logger.kafka.level = info',
          'logger.apache.name = org.apache.kafka',
          'logger.apache.level = warn',
          '',
        ].join('\n'),
      );
      if (!fs.existsSync(path.join(logDirs, 'meta.properties'))) {
        // A KRaft cluster id is 16 random bytes, base64url without padding; one that starts with '-'
        // (1 in 64) is taken for an option by the storage tool ("--cluster-id: expected one
        // argument"), so draw again, as Kafka's own Uuid.randomUuid does.
        let clusterId: string;
        do clusterId = crypto.randomBytes(16).toString('base64url');
        while (clusterId.startsWith('-'));
        await run(
          'java',
          [
            ...kafkaJvm(ctx, dir),
            'kafka.tools.StorageTool',
            'format',
            '-t',
            clusterId,
            '-c',
            props,
            '--ignore-formatted',
          ],
          { logFile: path.join(ctx.paths.logs, 'kafka.log') },
        );
      }
    },
    command: (ctx) => {
      const dir = dataDir(ctx, 'kafka');
      return {
        command: 'java',
        args: [
          `-Xms256m`,
          `-Xmx${sizes().kafkaHeap}`,
          '-XX:+UseG1GC',
          ...kafkaJvm(ctx, dir),
          'kafka.Kafka',
          path.join(dir, 'server.properties'),
        ],
      };
    },
  },
  {
    name: 'spark-master',
    ports: [LOCAL.sparkMasterPort, LOCAL.sparkMasterUiPort],
    async prepare(ctx) {
      const conf = dataDir(ctx, 'spark', 'conf');
      fs.mkdirSync(conf, { recursive: true });
      fs.writeFileSync(
        path.join(conf, 'spark-defaults.conf'),
        [
          'spark.ui.showConsoleProgress false',
          'spark.sql.session.timeZone UTC',
          'spark.sql.parquet.outputTimestampType TIMESTAMP_MICROS',
          // The master keeps finished applications for the API that tests and the Spark activity read.
          'spark.deploy.retainedApplications 500',
          // Executors that fail while a worker restarts must not make the master remove the Spark
          // Connect server's application (its SparkContext would stop, the server would not).
          'spark.deploy.maxExecutorRetries -1',
          '',
        ].join('\n'),
      );
    },
    command: (ctx) => ({
      command: path.join(ctx.layout.sparkHome, 'bin', 'spark-class'),
      args: [
        'org.apache.spark.deploy.master.Master',
        '--host',
        h,
        '--port',
        String(LOCAL.sparkMasterPort),
        '--webui-port',
        String(LOCAL.sparkMasterUiPort),
      ],
      env: sparkEnv(ctx),
    }),
  },
  {
    name: 'spark-worker',
    ports: [LOCAL.sparkWorkerUiPort],
    async prepare(ctx) {
      fs.mkdirSync(dataDir(ctx, 'spark', 'work'), { recursive: true });
    },
    command: (ctx) => ({
      command: path.join(ctx.layout.sparkHome, 'bin', 'spark-class'),
      args: [
        'org.apache.spark.deploy.worker.Worker',
        '--host',
        h,
        '--webui-port',
        String(LOCAL.sparkWorkerUiPort),
        '--cores',
        String(sizes().sparkWorkerCores),
        '--memory',
        sizes().sparkWorkerMemory,
        '--work-dir',
        dataDir(ctx, 'spark', 'work'),
        URLS.sparkMaster,
      ],
      env: sparkEnv(ctx),
    }),
  },
  {
    name: 'spark-history',
    ports: [LOCAL.sparkHistoryPort],
    async prepare() {
      fs.mkdirSync(eventLogFolder(), { recursive: true });
    },
    command: (ctx) => ({
      command: path.join(ctx.layout.sparkHome, 'bin', 'spark-class'),
      args: ['org.apache.spark.deploy.history.HistoryServer'],
      env: {
        ...sparkEnv(ctx),
        SPARK_HISTORY_OPTS: [
          `-Dspark.history.fs.logDirectory=${sparkEventLogDir(env())}`,
          `-Dspark.history.ui.port=${LOCAL.sparkHistoryPort}`,
          // A finished step shows up within seconds, not the default 10 s.
          '-Dspark.history.fs.update.interval=2s',
        ].join(' '),
      },
    }),
  },
  {
    name: 'spark-connect',
    ports: [LOCAL.sparkConnectPort, LOCAL.sparkConnectUiPort],
    async prepare(ctx) {
      // FAIR scheduling in the one pool every session uses: concurrent steps share the executors
      // task by task, so Spark never makes one step wait for another; how many steps run at once
      // is the Sluice pool's grant.
      fs.writeFileSync(
        dataDir(ctx, 'spark', 'fair-scheduler.xml'),
        '<?xml version="1.0"?>\n<allocations>\n  <pool name="default"><schedulingMode>FAIR</schedulingMode><weight>1</weight><minShare>0</minShare></pool>\n</allocations>\n',
      );
    },
    command: (ctx) => ({
      command: path.join(ctx.layout.sparkHome, 'bin', 'spark-submit'),
      args: sparkConnectArgs(ctx),
      env: sparkEnv(ctx),
    }),
  },
  {
    name: 'flink-jobmanager',
    ports: [LOCAL.flinkRestPort, LOCAL.flinkRpcPort],
    prepare: writeFlinkConf,
    command: (ctx) => ({
      command: path.join(ctx.layout.flinkHome, 'bin', 'jobmanager.sh'),
      args: ['start-foreground'],
      env: flinkEnv(ctx),
    }),
  },
  {
    name: 'flink-taskmanager',
    ports: [],
    prepare: writeFlinkConf,
    command: (ctx) => ({
      command: path.join(ctx.layout.flinkHome, 'bin', 'taskmanager.sh'),
      args: ['start-foreground'],
      env: flinkEnv(ctx),
    }),
  },
  {
    name: 'flink-sql-gateway',
    ports: [LOCAL.sqlGatewayPort],
    prepare: writeFlinkConf,
    command: (ctx) => ({
      command: path.join(ctx.layout.flinkHome, 'bin', 'sql-gateway.sh'),
      args: ['start-foreground'],
      env: flinkEnv(ctx),
    }),
  },
  {
    name: 'postgres',
    ports: [LOCAL.postgresPort],
    // SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) would wait for every client to leave.
    stopSignal: 'SIGINT',
    async prepare(ctx) {
      const d = postgresDirs(ctx);
      // Its parent must stay traversable by the postgres user (a recursive mkdir would give it 0700).
      fs.mkdirSync(path.dirname(d.data), { recursive: true, mode: 0o755 });
      fs.chmodSync(path.dirname(d.data), 0o755);
      for (const dir of [d.data, d.socket]) {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        if (process.getuid?.() === 0) {
          const owner = (await run('id', ['-u', 'postgres'])).trim();
          const group = (await run('id', ['-g', 'postgres'])).trim();
          fs.chownSync(dir, Number(owner), Number(group));
        }
      }
      if (!fs.existsSync(path.join(d.data, 'PG_VERSION'))) {
        // Trust on loopback: the local stack's database, like its other engines, has no password.
        const initdb = asPostgresUser(path.join(ctx.layout.postgresBin, 'initdb'), [
          '-D',
          d.data,
          '-A',
          'trust',
          '-U',
          'sluice',
          '-E',
          'UTF8',
          '--locale',
          'C',
        ]);
        await run(initdb.command, initdb.args, { logFile: path.join(ctx.paths.logs, 'postgres.log') });
      }
    },
    command: (ctx) => {
      const d = postgresDirs(ctx);
      return asPostgresUser(path.join(ctx.layout.postgresBin, 'postgres'), [
        '-D',
        d.data,
        '-p',
        String(LOCAL.postgresPort),
        '-k',
        d.socket,
        '-c',
        `listen_addresses=${h}`,
        // Logical decoding: the intakes' `postgres` sources read a replication slot.
        '-c',
        'wal_level=logical',
        '-c',
        'max_replication_slots=32',
        '-c',
        'max_wal_senders=16',
        '-c',
        'TimeZone=UTC',
      ]);
    },
  },
];

/** The folder spark-submit steps write event logs to (the worker's default, config/env.ts). */
function eventLogFolder(): string {
  const dir = sparkEventLogDir(env());
  if (!dir.startsWith('file://'))
    throw new Error(`SLUICE_SPARK_EVENT_LOG_DIR: the local stack needs a file:// folder (got ${dir})`);
  return dir.slice('file://'.length);
}

/** The Spark Connect server: an application of the standalone cluster that stays up, warm. */
function sparkConnectArgs(ctx: Ctx): string[] {
  const s = sizes();
  const conf: Record<string, string | number> = {
    'spark.cores.max': s.sparkConnectCores,
    'spark.executor.cores': 1,
    'spark.executor.memory': s.sparkConnectExecutorMemory,
    'spark.scheduler.mode': 'FAIR',
    'spark.scheduler.allocation.file': dataDir(ctx, 'spark', 'fair-scheduler.xml'),
    'spark.connect.grpc.binding.address': h,
    'spark.connect.grpc.binding.port': LOCAL.sparkConnectPort,
    'spark.ui.port': LOCAL.sparkConnectUiPort,
    // The UI's REST API is how Sluice and its tests see a step's jobs: keep enough of them.
    'spark.ui.retainedJobs': 5000,
    'spark.sql.ui.retainedExecutions': 5000,
    // Small partitions: Spark's default of 200 shuffle partitions would be 200 tasks per step.
    'spark.sql.shuffle.partitions': 4,
    ...sparkCatalogConf(lakeCatalogFromEnv(env())),
  };
  return [
    '--master',
    URLS.sparkMaster,
    '--name',
    'sluice-spark-connect',
    '--driver-memory',
    s.sparkConnectDriverMemory,
    '--class',
    'org.apache.spark.sql.connect.service.SparkConnectServer',
    ...(ctx.layout.sparkJars.length > 0 ? ['--jars', ctx.layout.sparkJars.join(',')] : []),
    ...Object.entries(conf).flatMap(([k, v]) => ['--conf', `${k}=${v}`]),
    ctx.layout.sparkConnectJar,
  ];
}

function kafkaJvm(ctx: Ctx, dir: string): string[] {
  return [
    `-Dlog4j2.configurationFile=${path.join(dir, 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${path.join(ctx.paths.logs, 'kafka')}`,
    '-cp',
    `${ctx.layout.kafkaLibs}/*`,
  ];
}

/** Flink reads one config.yaml for the JobManager, TaskManager and SQL gateway. */
async function writeFlinkConf(ctx: Ctx): Promise<void> {
  const conf = dataDir(ctx, 'flink', 'conf');
  fs.mkdirSync(conf, { recursive: true });
  const dist = path.join(ctx.layout.flinkHome, 'conf');
  for (const f of fs.readdirSync(dist)) {
    if (f !== 'config.yaml') fs.copyFileSync(path.join(dist, f), path.join(conf, f));
  }
  // Keep the distribution's JVM flags (the --add-opens Flink needs on Java 17).
  const javaOpts = /^\s*all:\s*(.+)$/m.exec(fs.readFileSync(path.join(dist, 'config.yaml'), 'utf8'))?.[1] ?? '';
  const state = dataDir(ctx, 'flink');
  const settings: Record<string, string | number> = {
    'env.java.opts.all': javaOpts,
    'jobmanager.rpc.address': h,
    'jobmanager.rpc.port': LOCAL.flinkRpcPort,
    'jobmanager.bind-host': h,
    'jobmanager.memory.process.size': sizes().flinkJobManagerMemory,
    'taskmanager.bind-host': h,
    'taskmanager.host': h,
    'taskmanager.numberOfTaskSlots': sizes().flinkTaskSlots,
    'taskmanager.memory.process.size': sizes().flinkTaskManagerMemory,
    'parallelism.default': 1,
    'rest.address': h,
    'rest.bind-address': h,
    'rest.port': LOCAL.flinkRestPort,
    'sql-gateway.endpoint.rest.address': h,
    'sql-gateway.endpoint.rest.bind-address': h,
    'sql-gateway.endpoint.rest.port': LOCAL.sqlGatewayPort,
    'execution.checkpointing.dir': `file://${path.join(state, 'checkpoints')}`,
    'execution.checkpointing.savepoint-dir': `file://${path.join(state, 'savepoints')}`,
    // Streaming pipelines restart from their latest checkpoint after a failure or a JobManager
    // restart: keep checkpoints when a job is cancelled or fails (Flink deletes them by default).
    'execution.checkpointing.externalized-checkpoint-retention': 'RETAIN_ON_CANCELLATION',
    'execution.checkpointing.num-retained': 3,
    // A lost TaskManager is Flink's to recover (restart strategy); noticed within seconds, not 50 s.
    // Bounded, so that a job Flink cannot restart ends FAILED and Sluice's own restart policy
    // (resubmission from the newest checkpoint, `stream.restart`) takes over: 20 × 3 s covers a
    // TaskManager that comes back within a minute.
    'restart-strategy.type': 'fixed-delay',
    'restart-strategy.fixed-delay.attempts': 20,
    'restart-strategy.fixed-delay.delay': '3 s',
    'heartbeat.timeout': 15000,
    'heartbeat.interval': 3000,
    'io.tmp.dirs': path.join(state, 'tmp'),
    'web.tmpdir': path.join(state, 'web'),
    // A savepoint's result stays readable by its trigger id for a day (Flink's default is 5 min):
    // a stop retried long after a worker died still finds the savepoint it took.
    'rest.async.store-duration': '24 h',
    'table.local-time-zone': 'UTC',
  };
  fs.mkdirSync(path.join(state, 'tmp'), { recursive: true });
  const yaml = Object.entries(settings)
    .map(([k, v]) => `${k}: ${typeof v === 'number' ? v : JSON.stringify(v)}`)
    .join('\n');
  fs.writeFileSync(path.join(conf, 'config.yaml'), `# written by sluice stack up\n${yaml}\n`);
}

const quietly = async (check: () => Promise<boolean>): Promise<boolean> => {
  try {
    return await check();
  } catch {
    return false;
  }
};

export const SERVICES: ServiceDef[] = [
  {
    name: 'temporal',
    url: URLS.temporal,
    processes: ['temporal'],
    healthy: () =>
      quietly(async () => {
        const connection = await Connection.connect({ address: URLS.temporal, connectTimeout: 2000 });
        try {
          await connection.workflowService.getSystemInfo({});
          return true;
        } finally {
          await connection.close();
        }
      }),
  },
  {
    name: 'temporal-ui',
    url: URLS.temporalUi,
    processes: ['temporal'],
    healthy: () => quietly(async () => (await fetch(URLS.temporalUi, { signal: AbortSignal.timeout(2000) })).ok),
  },
  {
    name: 'kafka',
    url: URLS.kafka,
    processes: ['kafka'],
    healthy: () =>
      quietly(() =>
        kafkaClusterReady(
          createKafkaClient([URLS.kafka], {
            clientId: 'sluice-health',
            retries: 0,
            connectionTimeoutMs: 2000,
            silent: true,
          }),
        ),
      ),
  },
  {
    name: 'spark',
    url: URLS.sparkUi,
    processes: ['spark-master', 'spark-worker'],
    healthy: () =>
      quietly(async () => {
        const master = await sparkMasterStatus(URLS.sparkUi);
        return master.status === 'ALIVE' && (master.aliveworkers ?? 0) > 0;
      }),
  },
  {
    name: 'spark-history',
    url: URLS.sparkHistory,
    processes: ['spark-history'],
    healthy: () =>
      quietly(
        async () =>
          (await fetch(`${URLS.sparkHistory}/api/v1/applications?limit=1`, { signal: AbortSignal.timeout(2000) })).ok,
      ),
  },
  {
    name: 'spark-connect',
    url: URLS.sparkConnect,
    processes: ['spark-connect'],
    healthy: () =>
      quietly(async () => {
        const client = new SparkConnectClient({
          address: URLS.sparkConnect,
          uiUrl: URLS.sparkConnectUi,
          protoDir: installedLayout().sparkConnectProto,
        });
        try {
          // A query, not only a version call: a server whose SparkContext stopped still answers those.
          return await client.answersQuery(2000);
        } finally {
          client.close();
        }
      }),
  },
  {
    name: 'flink',
    url: URLS.flink,
    processes: ['flink-jobmanager', 'flink-taskmanager'],
    healthy: () => quietly(async () => ((await flinkOverview(URLS.flink)).taskmanagers ?? 0) > 0),
  },
  {
    name: 'flink-sql-gateway',
    url: URLS.sqlGateway,
    processes: ['flink-sql-gateway'],
    healthy: () => quietly(async () => (await sqlGatewayInfo(URLS.sqlGateway)) !== null),
  },
  {
    name: 'postgres',
    url: URLS.postgres,
    processes: ['postgres'],
    healthy: () => quietly(() => postgresReady(URLS.postgres)),
  },
];
