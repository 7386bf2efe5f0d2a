import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { joinUrl, requestJson, requestText } from '../lib/http';
import { isProcessAlive, procStartTime, signalGroup } from '../lib/process';
import type { BatchStepPlan } from '../lib/spark-step';

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
  /** Spark's history server (the jobs of finished applications). */
  historyUrl?: string;
  /** Event logs of every application go here (a file:// URI), for the history server. */
  eventLogDir?: string;
  /** --conf settings of every application (the lake's catalog), before the step's own. */
  conf?: Record<string, string>;
}

export interface SparkSqlJob {
  /** Application name: deterministic per workflow run and step, so a retry can find it. */
  appName: string;
  /** What the step runs: its SQL and the Iceberg table it overwrites a partition of. */
  plan: BatchStepPlan;
  /** Extra --conf settings. */
  conf?: Record<string, string>;
}

export interface SparkResult {
  rows: number;
  columns: { name: string; type: string }[];
  /** The table written. */
  output: string;
  /** The Iceberg snapshot the step committed (none for an empty partition). */
  snapshotId?: string;
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

/** The standalone master's JSON API (`/json/`): its state, workers and applications. */
interface MasterJson {
  status?: string;
  aliveworkers?: number;
  activeapps?: SparkApp[];
  completedapps?: SparkApp[];
}

const masterJson = (uiUrl: string, timeoutMs: number) =>
  requestJson<MasterJson>(joinUrl(uiUrl, '/json/'), { timeoutMs });

/** Applications the standalone master knows, running and completed. */
export async function listSparkApps(uiUrl: string): Promise<{ active: SparkApp[]; completed: SparkApp[] }> {
  const body = await masterJson(uiUrl, 5000);
  return { active: body.activeapps ?? [], completed: body.completedapps ?? [] };
}

/** The master's own state: ALIVE with workers registered is a usable cluster. */
export async function sparkMasterStatus(uiUrl: string): Promise<{ status?: string; aliveworkers?: number }> {
  const { status, aliveworkers } = await masterJson(uiUrl, 2000);
  return { status, aliveworkers };
}

const RUNNER = path.resolve(
  __dirname,
  __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..',
  'jobs',
  'spark_sql_runner.py',
);

/** Engine messages that mean the job itself is wrong, not the cluster (both engines' messages). */
const PERMANENT = [
  /PARSE_SYNTAX_ERROR/,
  /DATATYPE_MISMATCH/,
  /MALFORMED_RECORD/,
  /INCOMPATIBLE_DATA_FOR_TABLE/,
  /AnalysisException/,
  /ParseException/,
  /PATH_NOT_FOUND/,
  /TABLE_OR_VIEW_NOT_FOUND/,
  /UNRESOLVED_COLUMN/,
  /ValueError/,
  /FileNotFoundError/,
  /OffsetOutOfRange|failOnDataLoss/,
];

/** Whether Spark's message says the step itself is wrong (a retry cannot help). */
export const isPermanentSparkMessage = (message: string) =>
  !/INVALID_HANDLE/.test(message) && PERMANENT.some((re) => re.test(message));

type Progress = (info: { applicationId?: string; followed?: boolean }) => void;

/**
 * Runs one SQL step on Spark, at most once per application name. Before submitting it asks the
 * master for an application of the same name (the name is deterministic per workflow run and
 * step, so an activity retry after a worker crash finds it):
 * - running → follow it to its end instead of submitting a second one;
 * - finished, and its result file (written after the Iceberg commit) names it → its result, nothing runs;
 * - otherwise (never submitted, or failed) → spark-submit (client deploy mode; the driver runs as a
 *   detached child process, so it outlives a crash of this worker, writes to its own log file,
 *   and its PID file lets a retry on this host see a driver that has not registered yet).
 * `onProgress` is called every few seconds (heartbeats). Aborting the signal kills the application
 * through the master and the driver process.
 */
export async function submitSparkSql(
  cfg: SparkConfig,
  job: SparkSqlJob,
  opts: { signal?: AbortSignal; onProgress?: Progress } = {},
): Promise<SparkResult> {
  const jobsDir = path.join(cfg.workDir, 'spark-jobs');
  fs.mkdirSync(jobsDir, { recursive: true });
  // Spark refuses to start when its event log folder does not exist.
  if (cfg.eventLogDir?.startsWith('file://'))
    fs.mkdirSync(cfg.eventLogDir.slice('file://'.length), { recursive: true });
  const safe = job.appName.replace(/[^A-Za-z0-9_.-]/g, '_');
  const files = {
    job: path.join(jobsDir, `${safe}.json`),
    log: path.join(jobsDir, `${safe}.log`),
    pid: path.join(jobsDir, `${safe}.pid.json`),
    result: path.join(jobsDir, `${safe}.result.json`),
  };

  const existing = await existingRun(cfg, job, files);
  if (existing.kind === 'done') return { ...existing.result, logFile: files.log };
  if (existing.kind === 'running') return follow(cfg, job, files, existing.applicationId, existing.pid, opts);
  return submit(cfg, job, files, opts);
}

type Files = { job: string; log: string; pid: string; result: string };
type Existing =
  | { kind: 'none' }
  | { kind: 'done'; result: Omit<SparkResult, 'logFile'> }
  | { kind: 'running'; applicationId?: string; pid?: number };

async function existingRun(cfg: SparkConfig, job: SparkSqlJob, files: Files): Promise<Existing> {
  const { active, completed } = await listSparkApps(cfg.uiUrl);
  const live = active.find((a) => a.name === job.appName);
  const driver = livePid(files.pid);
  if (live || driver) return { kind: 'running', applicationId: live?.id, pid: driver };
  const marker = readResultMarker(files.result);
  if (marker && completed.some((a) => a.name === job.appName && a.id === marker.applicationId)) {
    return { kind: 'done', result: marker };
  }
  return { kind: 'none' };
}

/** The spark-submit command line of a step (the benchmark runs the very same one without Sluice). */
export function sparkSubmitCommand(cfg: SparkConfig, job: SparkSqlJob, jobFile: string) {
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
    // The jobs of a finished step stay visible in the history server.
    ...(cfg.eventLogDir ? { 'spark.eventLog.enabled': 'true', 'spark.eventLog.dir': cfg.eventLogDir } : {}),
    ...cfg.conf,
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
  return {
    command: path.join(cfg.sparkHome, 'bin', 'spark-submit'),
    args,
    env: { ...process.env, SPARK_HOME: cfg.sparkHome, PYSPARK_PYTHON: cfg.python, PYSPARK_DRIVER_PYTHON: cfg.python },
  };
}

async function submit(
  cfg: SparkConfig,
  job: SparkSqlJob,
  files: Files,
  opts: { signal?: AbortSignal; onProgress?: Progress },
) {
  fs.writeFileSync(files.job, JSON.stringify({ ...job, resultFile: files.result }, null, 2));
  const { command, args, env } = sparkSubmitCommand(cfg, job, files.job);
  const fd = fs.openSync(files.log, 'a');
  fs.writeSync(fd, `\n==== ${new Date().toISOString()} spark-submit ${args.join(' ')}\n`);
  const child = spawn(command, args, {
    env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  fs.closeSync(fd);
  child.unref();
  if (child.pid !== undefined) {
    fs.writeFileSync(files.pid, JSON.stringify({ pid: child.pid, startTime: procStartTime(child.pid) }));
  }
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  return follow(cfg, job, files, undefined, child.pid, opts, exited);
}

/**
 * Waits for the application (or its driver process) to end and reads its result from the output
 * partition's marker. Works the same for a driver this process started and for one a crashed
 * worker left behind.
 */
async function follow(
  cfg: SparkConfig,
  job: SparkSqlJob,
  files: Files,
  knownAppId: string | undefined,
  pid: number | undefined,
  opts: { signal?: AbortSignal; onProgress?: Progress },
  exited?: Promise<number | null>,
): Promise<SparkResult> {
  let applicationId = knownAppId;
  const followed = exited === undefined;
  const onAbort = () => {
    if (pid !== undefined) signalGroup(pid, 'SIGTERM');
    if (applicationId) void killSparkApp(cfg.uiUrl, applicationId).catch(() => undefined);
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let ended = false;
    void exited?.then(
      () => (ended = true),
      () => (ended = true),
    );
    for (;;) {
      if (!ended && exited === undefined) {
        // Someone else's driver: it has ended when neither its process nor its application lives.
        const apps = await listSparkApps(cfg.uiUrl).catch(() => undefined);
        const live = apps?.active.find((a) => a.name === job.appName);
        applicationId ??= live?.id ?? apps?.completed.find((a) => a.name === job.appName)?.id;
        ended = apps !== undefined && !live && (pid === undefined || !isPidAlive(pid, files.pid));
      } else if (!applicationId) {
        applicationId = await findAppId(cfg.uiUrl, job.appName).catch(() => undefined);
      }
      opts.onProgress?.({ applicationId, followed });
      if (ended) break;
      // Our own driver's exit ends the wait at once; anything else is polled.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise((r) => (timer = setTimeout(r, 2000))), exited ?? new Promise(() => {})]);
      clearTimeout(timer);
    }
    const code = exited ? await exited : undefined;
    fs.rmSync(files.pid, { force: true });
    const marker = readResultMarker(files.result);
    if (marker && (!applicationId || marker.applicationId === applicationId) && (code === undefined || code === 0)) {
      return { ...marker, logFile: files.log };
    }
    if (opts.signal?.aborted) throw new SparkJobFailed(`Spark application ${job.appName} was cancelled`, files.log);
    const log = fs.existsSync(files.log) ? fs.readFileSync(files.log, 'utf8') : '';
    const lastRun = log.slice(log.lastIndexOf('\n==== '));
    const message =
      engineError(lastRun) ??
      (code !== undefined
        ? `spark-submit exited with code ${code}`
        : `application ${applicationId ?? job.appName} ended without a result`);
    const Err = isPermanentSparkMessage(message) ? SparkJobRejected : SparkJobFailed;
    throw new Err(`${message} (log: ${files.log})`, files.log);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** The result file the runner writes once its commit is done. */
function readResultMarker(file: string): Omit<SparkResult, 'logFile'> | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Omit<SparkResult, 'logFile'>;
  } catch {
    return undefined;
  }
}

/** The driver recorded in the PID file, if that very process (same start time) still runs. */
function livePid(pidFile: string): number | undefined {
  try {
    const { pid, startTime } = JSON.parse(fs.readFileSync(pidFile, 'utf8')) as { pid: number; startTime?: number };
    return isProcessAlive(pid, startTime) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isPidAlive(pid: number, pidFile: string): boolean {
  return livePid(pidFile) === pid;
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

/**
 * Asks the standalone master to kill an application (its UI's kill endpoint, which answers with a
 * redirect to the master's page). Throws an HttpError when the master refuses or does not answer.
 */
export async function killSparkApp(uiUrl: string, applicationId: string): Promise<void> {
  await requestText(joinUrl(uiUrl, '/app/kill/'), {
    method: 'POST',
    body: new URLSearchParams({ id: applicationId, terminate: 'true' }),
    timeoutMs: 5000,
  });
}
