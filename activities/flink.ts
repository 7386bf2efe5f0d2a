/**
 * Flink control plane over REST: the SQL Gateway (sessions, statements, results) and the
 * JobManager (job status). Every request has a timeout; errors carry Flink's own message.
 */

/** A statement Flink refused (bad SQL, unknown connector option...): a retry will not help. */
export class FlinkSqlRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlinkSqlRejected';
  }
}

async function call<T>(url: string, init: RequestInit = {}, timeoutMs = 30_000): Promise<T> {
  const res = await fetch(url, {
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
    signal: init.signal ?? AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: HTTP ${res.status}: ${flinkMessage(text)}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** Flink's REST errors are `{"errors":["...", "<stack trace>"]}`: keep the meaningful cause. */
function flinkMessage(body: string): string {
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

export class SqlGatewaySession {
  private constructor(
    private readonly base: string,
    readonly handle: string,
  ) {}

  /** Opens a session; `properties` are session-wide Flink settings (e.g. execution.runtime-mode). */
  static async open(gatewayUrl: string, name: string, properties: Record<string, string> = {}) {
    const base = `${gatewayUrl.replace(/\/$/, '')}/v3`;
    const { sessionHandle } = await call<{ sessionHandle: string }>(`${base}/sessions`, {
      method: 'POST',
      body: JSON.stringify({ sessionName: name, properties }),
    });
    return new SqlGatewaySession(base, sessionHandle);
  }

  /**
   * Executes one statement and waits for its operation to finish. For an INSERT that means the job
   * was submitted (not finished): the returned `jobId` is then set. `executionConfig` overlays the
   * session's settings for this statement only.
   */
  async execute(
    statement: string,
    executionConfig: Record<string, string> = {},
    timeoutMs = 120_000,
  ): Promise<{ jobId?: string; columns: string[]; rows: unknown[][] }> {
    const { operationHandle } = await call<{ operationHandle: string }>(
      `${this.base}/sessions/${this.handle}/statements`,
      {
        method: 'POST',
        body: JSON.stringify({ statement, executionConfig }),
      },
    );
    const op = `${this.base}/sessions/${this.handle}/operations/${operationHandle}`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { status } = await call<{ status: OperationStatus }>(`${op}/status`);
      if (status === 'FINISHED' || status === 'ERROR') break;
      if (status === 'CANCELED' || status === 'CLOSED' || status === 'TIMEOUT') {
        throw new Error(`statement ended ${status}: ${statement.slice(0, 200)}`);
      }
      if (Date.now() > deadline) throw new Error(`statement still ${status} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Results of an ERROR operation carry the exception: fetching them is how Flink reports it.
    const rows: unknown[][] = [];
    let columns: string[] = [];
    let jobId: string | undefined;
    let next: string | undefined = `${op}/result/0?rowFormat=JSON`;
    while (next) {
      let page: ResultPage;
      try {
        page = await call<ResultPage>(next.startsWith('http') ? next : `${this.base.replace(/\/v3$/, '')}${next}`);
      } catch (err) {
        throw new FlinkSqlRejected(
          `${(err as Error).message.replace(/^.*HTTP \d+: /, '')} [in: ${statement.slice(0, 160)}]`,
        );
      }
      jobId ??= page.jobID;
      if (page.results?.columns) columns = page.results.columns.map((c) => c.name);
      for (const row of page.results?.data ?? []) rows.push(row.fields);
      if (page.resultType === 'EOS') break;
      if (page.resultType === 'NOT_READY') await new Promise((r) => setTimeout(r, 200));
      next = page.nextResultUri;
    }
    await call(`${op}/close`, { method: 'DELETE' }).catch(() => undefined);
    return { jobId, columns, rows };
  }

  async close(): Promise<void> {
    await call(`${this.base}/sessions/${this.handle}`, { method: 'DELETE' }).catch(() => undefined);
  }
}

export interface FlinkJob {
  jid: string;
  name: string;
  state: string;
  'start-time': number;
  'end-time': number;
}

export async function listFlinkJobs(restUrl: string): Promise<FlinkJob[]> {
  return (await call<{ jobs: FlinkJob[] }>(`${restUrl.replace(/\/$/, '')}/jobs/overview`)).jobs;
}

export async function flinkJob(restUrl: string, jobId: string): Promise<{ state: string; name: string }> {
  return call<{ state: string; name: string }>(`${restUrl.replace(/\/$/, '')}/jobs/${jobId}`);
}

const TERMINAL = new Set(['FINISHED', 'FAILED', 'CANCELED', 'SUSPENDED']);

/** Waits until a job reaches a terminal state; throws with the root exception when it FAILED. */
export async function waitFlinkJob(restUrl: string, jobId: string, timeoutMs = 300_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { state } = await flinkJob(restUrl, jobId);
    if (state === 'FAILED') {
      const ex = await call<{
        'root-exception'?: string;
        exceptionHistory?: { entries?: { exceptionName: string; stacktrace: string }[] };
      }>(`${restUrl.replace(/\/$/, '')}/jobs/${jobId}/exceptions`).catch(() => undefined);
      const root = ex?.exceptionHistory?.entries?.[0]?.stacktrace ?? ex?.['root-exception'] ?? '';
      const cause = [...root.matchAll(/Caused by: ([^\n]+)/g)].map((m) => m[1]).at(-1) ?? root.split('\n')[0];
      throw new Error(`Flink job ${jobId} FAILED: ${cause}`);
    }
    if (TERMINAL.has(state)) return state;
    if (Date.now() > deadline) throw new Error(`Flink job ${jobId} still ${state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
