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
