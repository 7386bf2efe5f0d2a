import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where spark-submit runs and which cluster it submits to. */
export interface SparkConfig {
  /** spark://host:port or local[N]. */
  master: string;
  /** The master's web UI, whose /json/ lists applications. */
  uiUrl: string;
  /** Folder holding bin/spark-submit. */
  sparkHome: string;
  /** Python interpreter of the PySpark runner (driver and executors). */
  python: string;
  /** Extra jars (the Kafka source). */
  jars: string[];
  /** Job specs and spark-submit logs are written here, one file per application. */
  workDir: string;
}

export type SparkSource =
  | {
      view: string;
      format: 'kafka';
      /** Unset: the configured brokers (the activity fills it in). */
      bootstrapServers?: string;
      topic: string;
      /** "earliest", or partition → offset (inclusive). */
      startingOffsets: 'earliest' | Record<string, number>;
      /** "latest", or partition → offset (exclusive). */
      endingOffsets: 'latest' | Record<string, number>;
      /** Spark DDL schema of the JSON values, e.g. "user STRING, amount BIGINT, ts BIGINT". */
      schema: string;
    }
  | { view: string; format: 'parquet'; path: string };

export interface SparkSqlJob {
  /** Application name: deterministic per workflow run and step, so a retry can find it. */
  appName: string;
  sources: SparkSource[];
  sql: string;
  output: { path: string; partitionBy?: string[] };
  /** Extra --conf settings. */
  conf?: Record<string, string>;
}

export interface SparkResult {
  rows: number;
  columns: { name: string; type: string }[];
  output: string;
  applicationId: string;
  logFile: string;
}

/** A Spark failure that a retry cannot fix (bad SQL, missing input): carries the engine's message. */
export class SparkJobRejected extends Error {
  constructor(
    message: string,
    readonly logFile: string,
  ) {
    super(message);
    this.name = 'SparkJobRejected';
  }
}

/** A Spark failure that may pass on retry (lost executor, master unreachable, killed driver). */
export class SparkJobFailed extends Error {
  constructor(
    message: string,
    readonly logFile: string,
  ) {
    super(message);
    this.name = 'SparkJobFailed';
  }
}

export interface SparkApp {
  id: string;
  name: string;
  state: string;
  starttime: number;
  duration?: number;
}

/** Applications the standalone master knows, running and completed. */
export async function listSparkApps(uiUrl: string): Promise<{ active: SparkApp[]; completed: SparkApp[] }> {
  const res = await fetch(`${uiUrl.replace(/\/$/, '')}/json/`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`Spark master ${uiUrl}: HTTP ${res.status}`);
  const body = (await res.json()) as { activeapps?: SparkApp[]; completedapps?: SparkApp[] };
  return { active: body.activeapps ?? [], completed: body.completedapps ?? [] };
}

const RUNNER = path.resolve(
  __dirname,
  __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..',
  'jobs',
  'spark_sql_runner.py',
);

/** Engine messages that mean the job itself is wrong, not the cluster. */
const PERMANENT = [
  /AnalysisException/,
  /ParseException/,
  /PATH_NOT_FOUND/,
  /TABLE_OR_VIEW_NOT_FOUND/,
  /UNRESOLVED_COLUMN/,
  /ValueError/,
  /FileNotFoundError/,
  /OffsetOutOfRange|failOnDataLoss/,
];

/**
 * Runs one SQL step with spark-submit (client deploy mode: the driver is this child process) and
 * waits for it. `onProgress` is called every few seconds with the application id once the master
 * knows it. Aborting the signal kills the driver and asks the master to kill the application.
 */
export async function submitSparkSql(
  cfg: SparkConfig,
  job: SparkSqlJob,
  opts: { signal?: AbortSignal; onProgress?: (info: { applicationId?: string }) => void } = {},
): Promise<SparkResult> {
  const jobsDir = path.join(cfg.workDir, 'spark-jobs');
  fs.mkdirSync(jobsDir, { recursive: true });
  const safe = job.appName.replace(/[^A-Za-z0-9_.-]/g, '_');
  const jobFile = path.join(jobsDir, `${safe}.json`);
  const logFile = path.join(jobsDir, `${safe}.log`);
  fs.writeFileSync(jobFile, JSON.stringify(job, null, 2));

  const conf: Record<string, string> = {
    'spark.cores.max': '1',
    'spark.executor.cores': '1',
    'spark.executor.memory': '768m',
    'spark.driver.memory': '768m',
    'spark.sql.session.timeZone': 'UTC',
    'spark.sql.parquet.outputTimestampType': 'TIMESTAMP_MICROS',
    'spark.sql.shuffle.partitions': '4',
    'spark.ui.enabled': 'false',
    'spark.ui.showConsoleProgress': 'false',
    ...job.conf,
  };
  const args = [
    '--master',
    cfg.master,
    '--deploy-mode',
    'client',
    '--name',
    job.appName,
    ...(cfg.jars.length > 0 ? ['--jars', cfg.jars.join(',')] : []),
    ...Object.entries(conf).flatMap(([k, v]) => ['--conf', `${k}=${v}`]),
    RUNNER,
    jobFile,
  ];
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `\n==== ${new Date().toISOString()} spark-submit ${args.join(' ')}\n`);
  const child = spawn(path.join(cfg.sparkHome, 'bin', 'spark-submit'), args, {
    env: { ...process.env, SPARK_HOME: cfg.sparkHome, PYSPARK_PYTHON: cfg.python, PYSPARK_DRIVER_PYTHON: cfg.python },
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);

  let applicationId: string | undefined;
  const poll = setInterval(() => {
    void (async () => {
      if (!applicationId) {
        applicationId = await findAppId(cfg.uiUrl, job.appName).catch(() => undefined);
      }
      opts.onProgress?.({ applicationId });
    })();
  }, 3000);
  const onAbort = () => {
    child.kill('SIGTERM');
    if (applicationId) void killSparkApp(cfg.uiUrl, applicationId).catch(() => undefined);
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    });
    const log = fs.readFileSync(logFile, 'utf8');
    const lastRun = log.slice(log.lastIndexOf('\n==== '));
    const resultLine = lastRun.split('\n').find((l) => l.startsWith('SLUICE_RESULT '));
    if (code === 0 && resultLine) {
      return { ...(JSON.parse(resultLine.slice('SLUICE_RESULT '.length)) as Omit<SparkResult, 'logFile'>), logFile };
    }
    if (opts.signal?.aborted) throw new SparkJobFailed(`Spark application ${job.appName} was cancelled`, logFile);
    const message = engineError(lastRun) ?? `spark-submit exited with code ${code}`;
    const Err = PERMANENT.some((re) => re.test(message)) ? SparkJobRejected : SparkJobFailed;
    throw new Err(`${message} (log: ${logFile})`, logFile);
  } finally {
    clearInterval(poll);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** The most telling line of a failed run: Python's final exception line, else Spark's ERROR line. */
function engineError(log: string): string | undefined {
  const lines = log.split('\n').map((l) => l.trim());
  const exception = [...lines].reverse().find((l) => /^[\w.]+(Exception|Error)\b.*:/.test(l));
  if (exception) return exception;
  return lines.find((l) => / ERROR /.test(l));
}

export async function findAppId(uiUrl: string, appName: string): Promise<string | undefined> {
  const { active, completed } = await listSparkApps(uiUrl);
  return [...active, ...completed].find((a) => a.name === appName)?.id;
}

/** Asks the standalone master to kill an application (its UI's kill endpoint). */
export async function killSparkApp(uiUrl: string, applicationId: string): Promise<void> {
  await fetch(`${uiUrl.replace(/\/$/, '')}/app/kill/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ id: applicationId, terminate: 'true' }).toString(),
    signal: AbortSignal.timeout(5000),
  });
}
