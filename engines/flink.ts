/**
 * Flink's control plane over REST: the SQL Gateway (sessions, statements, results) and the
 * JobManager (jobs). Typed, with no Temporal in it: activities, the CLI and tests use it alike.
 *
 * Failures are classified by cause (lib/http.ts): no answer, a reset connection or a 5xx is an
 * {@link HttpError} a retry may fix; only a statement that Flink itself ended in `ERROR` is
 * {@link FlinkSqlRejected}, the one failure a retry will not fix.
 */
import { HttpError, joinUrl, requestJson, type RequestOptions } from '../lib/http';
import { sleep, until } from '../lib/poll';

/** A statement Flink refused (bad SQL, unknown connector option...): a retry will not help. */
export class FlinkSqlRejected extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FlinkSqlRejected';
  }
}

/** A job that ran and FAILED; carries its root cause. */
export class FlinkJobFailed extends Error {
  constructor(
    message: string,
    readonly jobId: string,
  ) {
    super(message);
    this.name = 'FlinkJobFailed';
  }
}

const call = <T>(url: string, opts: RequestOptions = {}) => requestJson<T>(url, { describe: flinkMessage, ...opts });

/** Flink's REST errors are `{"errors":["...", "<stack trace>"]}`: keep the meaningful cause. */
export function flinkMessage(body: string): string {
  try {
    const errors = (JSON.parse(body) as { errors?: string[] }).errors ?? [];
    const all = errors.join('\n');
    const causes = [...all.matchAll(/Caused by: ([^\n]+)/g)].map((m) => m[1]!);
    return causes.at(-1) ?? errors[0] ?? body;
  } catch {
    return body.slice(0, 500);
  }
}

type OperationStatus = 'INITIALIZED' | 'PENDING' | 'RUNNING' | 'FINISHED' | 'CANCELED' | 'CLOSED' | 'ERROR' | 'TIMEOUT';

interface ResultPage {
  resultType: 'NOT_READY' | 'PAYLOAD' | 'EOS';
  jobID?: string;
  nextResultUri?: string;
  results?: { columns?: { name: string }[]; data?: { kind: string; fields: unknown[] }[] };
}

/**
 * The executionConfig key that makes the gateway submit an INSERT under a JobID of our choosing
 * (seen on this stack: the job runs with exactly that id; a second submission with the same id is
 * refused). A deterministic JobID per workflow run and step is how a retried step finds its job.
 */
export const FIXED_JOB_ID_KEY = '$internal.pipeline.job-id';

export interface SqlGatewayOptions {
  /** Each request to the gateway fails (retryably) after this long without an answer. @default 30_000 */
  requestTimeoutMs?: number;
}

export class SqlGatewaySession {
  private constructor(
    private readonly base: string,
    readonly handle: string,
    private readonly requestTimeoutMs: number,
  ) {}

  /** Opens a session; `properties` are session-wide Flink settings (e.g. execution.runtime-mode). */
  static async open(
    gatewayUrl: string,
    name: string,
    properties: Record<string, string> = {},
    { requestTimeoutMs = 30_000 }: SqlGatewayOptions = {},
  ) {
    const base = joinUrl(gatewayUrl, '/v3');
    const { sessionHandle } = await call<{ sessionHandle: string }>(`${base}/sessions`, {
      method: 'POST',
      body: { sessionName: name, properties },
      timeoutMs: requestTimeoutMs,
    });
    return new SqlGatewaySession(base, sessionHandle, requestTimeoutMs);
  }

  private call<T>(url: string, opts: RequestOptions = {}): Promise<T> {
    return call<T>(url, { timeoutMs: this.requestTimeoutMs, ...opts });
  }

  /**
   * Executes one statement and waits for its operation to finish. For an INSERT that means the job
   * was submitted (not finished): the returned `jobId` is then set. `executionConfig` overlays the
   * session's settings for this statement only.
   * @throws FlinkSqlRejected when Flink ends the statement in ERROR (its message is Flink's cause)
   * @throws HttpError (retryable) when the gateway does not answer or fails
   */
  async execute(
    statement: string,
    executionConfig: Record<string, string> = {},
    timeoutMs = 120_000,
  ): Promise<{ jobId?: string; columns: string[]; rows: unknown[][] }> {
    const { operationHandle } = await this.call<{ operationHandle: string }>(
      `${this.base}/sessions/${this.handle}/statements`,
      { method: 'POST', body: { statement, executionConfig } },
    );
    const op = `${this.base}/sessions/${this.handle}/operations/${operationHandle}`;
    let last: OperationStatus = 'INITIALIZED';
    const status = await until(
      () => `the statement to finish (still ${last}): ${statement.slice(0, 120)}`,
      async () => {
        last = (await this.call<{ status: OperationStatus }>(`${op}/status`)).status;
        if (last === 'CANCELED' || last === 'CLOSED' || last === 'TIMEOUT') {
          throw new Error(`statement ended ${last}: ${statement.slice(0, 200)}`);
        }
        return last === 'FINISHED' || last === 'ERROR' ? last : undefined;
      },
      { timeoutMs, intervalMs: 250 },
    );
    const rows: unknown[][] = [];
    let columns: string[] = [];
    let jobId: string | undefined;
    let next: string | undefined = `${op}/result/0?rowFormat=JSON`;
    while (next) {
      let page: ResultPage;
      try {
        page = await this.call<ResultPage>(next.startsWith('http') ? next : `${this.base.replace(/\/v3$/, '')}${next}`);
      } catch (err) {
        // Fetching the results of an ERROR operation is how Flink reports its refusal: that answer
        // is the engine's own "no". Any other failure (a timeout, a reset) is the network's.
        if (status === 'ERROR' && err instanceof HttpError && err.status !== undefined) {
          throw new FlinkSqlRejected(`${err.message.replace(/^.*HTTP \d+: /, '')} [in: ${statement.slice(0, 160)}]`, {
            cause: err,
          });
        }
        throw err;
      }
      jobId ??= page.jobID;
      if (page.results?.columns) columns = page.results.columns.map((c) => c.name);
      for (const row of page.results?.data ?? []) rows.push(row.fields);
      if (page.resultType === 'EOS') break;
      if (page.resultType === 'NOT_READY') await sleep(200);
      next = page.nextResultUri;
    }
    if (status === 'ERROR') {
      throw new FlinkSqlRejected(`statement ended in ERROR without a reason [in: ${statement.slice(0, 160)}]`);
    }
    await this.call(`${op}/close`, { method: 'DELETE' }).catch(() => undefined);
    return { jobId, columns, rows };
  }

  async close(): Promise<void> {
    await this.call(`${this.base}/sessions/${this.handle}`, { method: 'DELETE' }).catch(() => undefined);
  }
}

/** The JobManager's cluster overview (how many TaskManagers and slots). */
export async function flinkOverview(restUrl: string): Promise<{ taskmanagers?: number; 'slots-total'?: number }> {
  return call(joinUrl(restUrl, '/overview'), { timeoutMs: 2000 });
}

/**
 * Where the cluster writes checkpoints (`execution.checkpointing.dir`, or its pre-2.0 key
 * `state.checkpoints.dir`), from the JobManager's configuration; undefined when it has none.
 */
export async function flinkCheckpointDir(restUrl: string): Promise<string | undefined> {
  const entries = await call<{ key: string; value: string }[]>(joinUrl(restUrl, '/jobmanager/config'));
  const value = (key: string) => entries.find((e) => e.key === key)?.value;
  return value('execution.checkpointing.dir') ?? value('state.checkpoints.dir');
}

/** The SQL Gateway's product info: answers once the gateway serves requests. */
export async function sqlGatewayInfo(gatewayUrl: string): Promise<{ productName?: string; version?: string }> {
  return call(joinUrl(gatewayUrl, '/v1/info'), { timeoutMs: 2000 });
}

export interface FlinkJob {
  jid: string;
  name: string;
  state: string;
  'start-time': number;
  'end-time': number;
}

export async function listFlinkJobs(restUrl: string): Promise<FlinkJob[]> {
  return (await call<{ jobs: FlinkJob[] }>(joinUrl(restUrl, '/jobs/overview'))).jobs;
}

/** A job's state and name, or undefined when the JobManager does not know the id (404). */
export async function findFlinkJob(
  restUrl: string,
  jobId: string,
): Promise<{ state: string; name: string } | undefined> {
  try {
    return await flinkJob(restUrl, jobId);
  } catch (err) {
    if (err instanceof HttpError && err.status === 404) return undefined;
    throw err;
  }
}

export async function flinkJob(restUrl: string, jobId: string): Promise<{ state: string; name: string }> {
  return call<{ state: string; name: string }>(joinUrl(restUrl, `/jobs/${jobId}`));
}

/** Cancels a job (`PATCH /jobs/<id>?mode=cancel`); a job that is already gone is not an error. */
export async function cancelFlinkJob(restUrl: string, jobId: string): Promise<void> {
  try {
    await call(joinUrl(restUrl, `/jobs/${jobId}?mode=cancel`), { method: 'PATCH' });
  } catch (err) {
    if (!(err instanceof HttpError && err.status === 404)) throw err;
  }
}

const TERMINAL = new Set(['FINISHED', 'FAILED', 'CANCELED', 'SUSPENDED']);

/** Waits until a job reaches a terminal state; throws {@link FlinkJobFailed} with the root cause when it FAILED. */
export async function waitFlinkJob(
  restUrl: string,
  jobId: string,
  { timeoutMs = 300_000, signal }: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<string> {
  let last = 'unknown';
  return until(
    () => `Flink job ${jobId} to end (still ${last})`,
    async () => {
      last = (await flinkJob(restUrl, jobId)).state;
      if (last === 'FAILED')
        throw new FlinkJobFailed(`Flink job ${jobId} FAILED: ${await rootCause(restUrl, jobId)}`, jobId);
      return TERMINAL.has(last) ? last : undefined;
    },
    { timeoutMs, intervalMs: 1000, signal },
  );
}

async function rootCause(restUrl: string, jobId: string): Promise<string> {
  const ex = await call<{
    'root-exception'?: string;
    exceptionHistory?: { entries?: { exceptionName: string; stacktrace: string }[] };
  }>(joinUrl(restUrl, `/jobs/${jobId}/exceptions`)).catch(() => undefined);
  const root = ex?.exceptionHistory?.entries?.[0]?.stacktrace ?? ex?.['root-exception'] ?? '';
  return [...root.matchAll(/Caused by: ([^\n]+)/g)].map((m) => m[1]).at(-1) ?? root.split('\n')[0] ?? '';
}

// ---- long-running jobs: details, checkpoints, savepoints (docs/architecture.md#streaming-pipelines)

export interface FlinkJobDetail {
  jid: string;
  name: string;
  state: string;
  vertices: { id: string; name: string; parallelism: number; maxParallelism?: number; status: string }[];
}

/** A job with its vertices (each vertex's parallelism is what a rescale is checked against). */
export async function flinkJobDetail(restUrl: string, jobId: string): Promise<FlinkJobDetail> {
  return call<FlinkJobDetail>(joinUrl(restUrl, `/jobs/${jobId}`));
}

/** How often Flink restarted the job itself (its restart strategy: a lost TaskManager...). */
export async function flinkJobRestarts(restUrl: string, jobId: string): Promise<number> {
  const metrics = await call<{ id: string; value: string }[]>(
    joinUrl(restUrl, `/jobs/${jobId}/metrics?get=numRestarts`),
  );
  return Number(metrics.find((m) => m.id === 'numRestarts')?.value ?? 0);
}

export interface FlinkCheckpointStats {
  /** The newest completed checkpoint (a retained one has an external path). */
  completed?: { id: number; path?: string; at: number };
  /** The newest completed savepoint. */
  savepoint?: { id: number; path?: string; at: number };
  /** What the job restored from when it started. */
  restored?: { id: number; path?: string; isSavepoint: boolean };
}

interface CheckpointEntry {
  id: number;
  external_path?: string;
  latest_ack_timestamp?: number;
  restore_timestamp?: number;
  is_savepoint?: boolean;
}

export async function flinkCheckpoints(restUrl: string, jobId: string): Promise<FlinkCheckpointStats> {
  const body = await call<{
    latest?: {
      completed?: CheckpointEntry | null;
      savepoint?: CheckpointEntry | null;
      restored?: CheckpointEntry | null;
    };
  }>(joinUrl(restUrl, `/jobs/${jobId}/checkpoints`));
  const entry = (e?: CheckpointEntry | null) =>
    e ? { id: e.id, path: e.external_path, at: e.latest_ack_timestamp ?? e.restore_timestamp ?? 0 } : undefined;
  const restored = body.latest?.restored;
  return {
    completed: entry(body.latest?.completed),
    savepoint: entry(body.latest?.savepoint),
    restored: restored
      ? { id: restored.id, path: restored.external_path, isSavepoint: Boolean(restored.is_savepoint) }
      : undefined,
  };
}

/** A savepoint (or stop-with-savepoint) operation as Flink reports it by its trigger id. */
export type SavepointOperation =
  { status: 'IN_PROGRESS' } | { status: 'COMPLETED'; location: string } | { status: 'FAILED'; failure: string };

/** A savepoint that Flink could not take (or a stop that failed); carries Flink's cause. */
export class FlinkSavepointFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlinkSavepointFailed';
  }
}

/**
 * Stops a job with a savepoint, never draining (a drain would fire every open window). The trigger
 * id is ours: asking again with the same id is the same operation, so a retry after a crash is safe.
 */
export async function stopWithSavepoint(restUrl: string, jobId: string, triggerId: string): Promise<void> {
  await call(joinUrl(restUrl, `/jobs/${jobId}/stop`), { method: 'POST', body: { drain: false, triggerId } });
}

/** Takes a savepoint of a running job (it keeps running); trigger id as {@link stopWithSavepoint}. */
export async function triggerSavepoint(restUrl: string, jobId: string, triggerId: string): Promise<void> {
  await call(joinUrl(restUrl, `/jobs/${jobId}/savepoints`), {
    method: 'POST',
    body: { 'cancel-job': false, triggerId },
  });
}

/** The operation of a trigger id, or undefined when Flink does not know it (never triggered, or expired). */
export async function savepointOperation(
  restUrl: string,
  jobId: string,
  triggerId: string,
): Promise<SavepointOperation | undefined> {
  let body: { status: { id: string }; operation?: { location?: string; 'failure-cause'?: { 'stack-trace'?: string } } };
  try {
    body = await call(joinUrl(restUrl, `/jobs/${jobId}/savepoints/${triggerId}`));
  } catch (err) {
    if (err instanceof HttpError && err.status === 404) return undefined;
    throw err;
  }
  if (body.status.id !== 'COMPLETED') return { status: 'IN_PROGRESS' };
  if (body.operation?.location) return { status: 'COMPLETED', location: body.operation.location };
  const trace = body.operation?.['failure-cause']?.['stack-trace'] ?? 'no cause given';
  return { status: 'FAILED', failure: lastCause(trace) };
}

/** Waits for a savepoint trigger to complete; its location, or {@link FlinkSavepointFailed}. */
export async function waitSavepoint(
  restUrl: string,
  jobId: string,
  triggerId: string,
  { timeoutMs = 300_000, signal }: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<string> {
  return until(
    () => `savepoint ${triggerId} of Flink job ${jobId} to complete`,
    async () => {
      const op = await savepointOperation(restUrl, jobId, triggerId);
      if (op?.status === 'FAILED')
        throw new FlinkSavepointFailed(`savepoint of Flink job ${jobId} failed: ${op.failure}`);
      return op?.status === 'COMPLETED' ? op.location : undefined;
    },
    { timeoutMs, intervalMs: 500, signal },
  );
}

/**
 * Disposes a savepoint through the JobManager (`POST /savepoint-disposal`) and waits for it: its
 * files are deleted by Flink, which knows their layout. Resolves only once Flink says it is done.
 */
export async function disposeSavepoint(restUrl: string, location: string, timeoutMs = 120_000): Promise<void> {
  const { 'request-id': requestId } = await call<{ 'request-id': string }>(joinUrl(restUrl, '/savepoint-disposal'), {
    method: 'POST',
    body: { 'savepoint-path': location },
  });
  await until(
    () => `disposal of savepoint ${location}`,
    async () => {
      const body = await call<{
        status: { id: string };
        operation?: { 'failure-cause'?: { 'stack-trace'?: string } } | null;
      }>(joinUrl(restUrl, `/savepoint-disposal/${requestId}`));
      if (body.status.id !== 'COMPLETED') return undefined;
      const failure = body.operation?.['failure-cause'];
      if (failure)
        throw new FlinkSavepointFailed(`disposing ${location} failed: ${lastCause(failure['stack-trace'] ?? '')}`);
      return true;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** Flink's root exception of a job (the last `Caused by:` of its newest failure). */
export async function flinkRootCause(restUrl: string, jobId: string): Promise<string> {
  return rootCause(restUrl, jobId);
}

function lastCause(trace: string): string {
  return [...trace.matchAll(/Caused by: ([^\n]+)/g)].map((m) => m[1]).at(-1) ?? trace.split('\n')[0] ?? '';
}
