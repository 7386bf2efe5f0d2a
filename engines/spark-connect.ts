import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { tableFromIPC, type Table } from 'apache-arrow';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { joinUrl, requestJson } from '../lib/http';

/*
 * A Spark Connect client: plans over gRPC (`spark.connect.SparkConnectService`, from the protocol
 * files that ship inside the server's jar), results back as Arrow IPC batches.
 *
 * Every execution is reattachable and carries an operation id the caller chooses: the server
 * keeps a running operation alive for a while after its client went away, `ReattachExecute`
 * picks its stream up again (also after the server's own stream-duration limit cut it), and
 * `Interrupt` stops it by id or by tag. An operation id is accepted once per server lifetime.
 */

export interface SparkConnectConfig {
  /** host:port of the server's gRPC endpoint, e.g. 127.0.0.1:15002. */
  address: string;
  /** Folder holding `spark/connect/*.proto` and `google/protobuf/*.proto` (extracted from the jar). */
  protoDir: string;
  /** The driver's web UI (its REST API lists jobs by tag), e.g. http://127.0.0.1:4040. */
  uiUrl: string;
  /** The user id every request carries (sessions and operations belong to it). @default sluice */
  userId?: string;
}

/** A plan: a relation whose rows come back, or a command (SQL DDL/DML, a table write). */
export type ConnectPlan = { root: Record<string, unknown> } | { command: Record<string, unknown> };

/** A failure the server reported: `errorClass` is Spark's (e.g. TABLE_OR_VIEW_NOT_FOUND). */
export class SparkConnectError extends Error {
  constructor(
    message: string,
    readonly code: grpc.status,
    readonly errorClass: string | undefined,
  ) {
    super(message);
    this.name = 'SparkConnectError';
  }
}

/** The operation is unknown to the server (never started there, released, or the server restarted). */
export const isOperationNotFound = (err: unknown) =>
  err instanceof SparkConnectError &&
  /OPERATION_NOT_FOUND|SESSION_NOT_FOUND|SESSION_CLOSED/.test(err.errorClass ?? err.message);

/** The server cannot be reached (down, restarting) or dropped the call: worth a retry. */
export const isUnavailable = (err: unknown) =>
  err instanceof SparkConnectError && [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED].includes(err.code);

export interface ExecuteRequest {
  sessionId: string;
  operationId: string;
  plan: ConnectPlan;
  tags?: string[];
}

export interface ExecuteResult {
  /** The rows, when the plan returns any (a query); commands return none. */
  table: Table | undefined;
  /** True when the result came from reattaching to an operation started before. */
  reattached: boolean;
}

export interface ExecuteOptions {
  signal?: AbortSignal;
  /** Called on every progress message (stages, tasks) the server streams. */
  onProgress?: (p: { stages: number; doneStages: number; inflightTasks: number }) => void;
}

type Service = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

const loaded = new Map<string, grpc.ServiceClientConstructor>();

function serviceCtor(protoDir: string): grpc.ServiceClientConstructor {
  const cached = loaded.get(protoDir);
  if (cached) return cached;
  const file = path.join(protoDir, 'spark', 'connect', 'base.proto');
  if (!fs.existsSync(file)) {
    throw new Error(
      `Spark Connect protocol files not found: ${file} (run \`sluice stack up\`, or set SLUICE_SPARK_CONNECT_PROTO)`,
    );
  }
  const def = protoLoader.loadSync(file, {
    includeDirs: [protoDir],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    spark: { connect: { SparkConnectService: grpc.ServiceClientConstructor } };
  };
  const ctor = pkg.spark.connect.SparkConnectService;
  loaded.set(protoDir, ctor);
  return ctor;
}

interface Response {
  operation_id?: string;
  response_id?: string;
  response_type?: string;
  arrow_batch?: { data: Buffer; row_count?: number };
  result_complete?: object;
  execution_progress?: { stages?: { done?: boolean }[]; num_inflight_tasks?: number };
}

export class SparkConnectClient {
  private readonly client: Service;
  private readonly user: { user_id: string };

  constructor(readonly cfg: SparkConnectConfig) {
    const Ctor = serviceCtor(cfg.protoDir);
    this.client = new Ctor(cfg.address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 128 * 1024 * 1024,
    }) as Service;
    this.user = { user_id: cfg.userId ?? 'sluice' };
  }

  close(): void {
    this.client.close();
  }

  /**
   * Executes a plan under the caller's operation id and reads its whole result. The stream is
   * reattached (from the last response seen) whenever it ends before the server said complete,
   * and the operation is released at the end so the server can forget it.
   */
  async execute(req: ExecuteRequest, opts: ExecuteOptions = {}): Promise<ExecuteResult> {
    const first = this.client.ExecutePlan({
      session_id: req.sessionId,
      user_context: this.user,
      operation_id: req.operationId,
      client_type: 'sluice',
      plan: req.plan,
      tags: req.tags ?? [],
      request_options: [{ reattach_options: { reattachable: true } }],
    }) as grpc.ClientReadableStream<Response>;
    return this.follow(req.sessionId, req.operationId, first, false, opts);
  }

  /**
   * Picks up an operation started before (by this process or by a crashed one) and reads its
   * result to the end. Throws a SparkConnectError that {@link isOperationNotFound} recognises
   * when the server does not know it (any more).
   */
  async reattach(sessionId: string, operationId: string, opts: ExecuteOptions = {}): Promise<ExecuteResult> {
    return this.follow(sessionId, operationId, this.reattachStream(sessionId, operationId), true, opts);
  }

  private reattachStream(sessionId: string, operationId: string, lastResponseId?: string) {
    return this.client.ReattachExecute({
      session_id: sessionId,
      user_context: this.user,
      operation_id: operationId,
      client_type: 'sluice',
      ...(lastResponseId ? { last_response_id: lastResponseId } : {}),
    }) as grpc.ClientReadableStream<Response>;
  }

  private async follow(
    sessionId: string,
    operationId: string,
    stream: grpc.ClientReadableStream<Response>,
    reattached: boolean,
    opts: ExecuteOptions,
  ): Promise<ExecuteResult> {
    const batches: Buffer[] = [];
    let lastResponseId: string | undefined;
    let complete = false;
    const onAbort = () => stream.cancel();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        try {
          for await (const res of stream as AsyncIterable<Response>) {
            lastResponseId = res.response_id ?? lastResponseId;
            if (res.arrow_batch?.data?.length) batches.push(res.arrow_batch.data);
            if (res.execution_progress) {
              const stages = res.execution_progress.stages ?? [];
              opts.onProgress?.({
                stages: stages.length,
                doneStages: stages.filter((s) => s.done).length,
                inflightTasks: res.execution_progress.num_inflight_tasks ?? 0,
              });
            }
            if (res.result_complete) complete = true;
          }
        } catch (err) {
          if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
          throw connectError(err);
        }
        if (complete) break;
        // The server ends a reattachable stream after a while (or the connection dropped it):
        // continue from the last response received.
        stream = this.reattachStream(sessionId, operationId, lastResponseId);
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    await this.release(sessionId, operationId).catch(() => undefined);
    const table = batches.length === 0 ? undefined : concatTables(batches.map((b) => tableFromIPC(b)));
    return { table, reattached };
  }

  /** Tells the server the result was read: it may drop the operation's buffered responses. */
  async release(sessionId: string, operationId: string): Promise<void> {
    await this.unary('ReleaseExecute', {
      session_id: sessionId,
      user_context: this.user,
      operation_id: operationId,
      client_type: 'sluice',
      release_all: {},
    });
  }

  /** Interrupts the session's operations with this id, or with this tag; returns the ids interrupted. */
  async interrupt(sessionId: string, target: { operationId: string } | { tag: string }): Promise<string[]> {
    const res = await this.unary<{ interrupted_ids?: string[] }>('Interrupt', {
      session_id: sessionId,
      user_context: this.user,
      client_type: 'sluice',
      ...('operationId' in target
        ? { interrupt_type: 'INTERRUPT_TYPE_OPERATION_ID', operation_id: target.operationId }
        : { interrupt_type: 'INTERRUPT_TYPE_TAG', operation_tag: target.tag }),
    });
    return res.interrupted_ids ?? [];
  }

  /** Ends a session on the server (its temporary views and settings go with it). */
  async releaseSession(sessionId: string): Promise<void> {
    await this.unary('ReleaseSession', { session_id: sessionId, user_context: this.user, client_type: 'sluice' });
  }

  /** Whether the server runs a trivial query within `timeoutMs` (its health: gRPC up and its SparkContext alive). */
  async answersQuery(timeoutMs = 5000): Promise<boolean> {
    const sessionId = crypto.randomUUID();
    const ask = this.execute({ sessionId, operationId: crypto.randomUUID(), plan: sqlQuery('SELECT 1 AS one') });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    try {
      const result = await Promise.race([ask, late]);
      return result?.table?.numRows === 1;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      ask.catch(() => undefined);
      await this.releaseSession(sessionId).catch(() => undefined);
    }
  }

  private unary<T = unknown>(method: string, request: unknown, timeoutMs = 30_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      (this.client[method] as (r: unknown, o: grpc.CallOptions, cb: (e: unknown, v: T) => void) => void).call(
        this.client,
        request,
        { deadline: Date.now() + timeoutMs },
        (err, value) => (err ? reject(connectError(err)) : resolve(value)),
      );
    });
  }
}

/** A SQL query (rows come back) or a SQL command (DDL, DML: run eagerly, no rows). */
export const sqlQuery = (query: string): ConnectPlan => ({ root: { sql: { query } } });
export const sqlCommand = (query: string): ConnectPlan => ({ command: { sql_command: { input: { sql: { query } } } } });

/** `df.writeTo(table).options(options).overwrite(expr(condition))` for the rows of `query`: one commit. */
export const overwriteWhere = (
  table: string,
  query: string,
  condition: string,
  options: Record<string, string>,
): ConnectPlan => ({
  command: {
    write_operation_v2: {
      input: { sql: { query } },
      table_name: table,
      mode: 'MODE_OVERWRITE',
      overwrite_condition: { expression_string: { expression: condition } },
      options,
    },
  },
});

function concatTables(tables: Table[]): Table {
  return tables.length === 1 ? tables[0]! : tables[0]!.concat(...tables.slice(1));
}

/** A gRPC error as a SparkConnectError with Spark's error class (from the message's `[CLASS]` prefix). */
function connectError(err: unknown): SparkConnectError {
  if (err instanceof SparkConnectError) return err;
  const e = err as grpc.ServiceError;
  const details = e.details || e.message || String(err);
  const errorClass = /^\[([A-Z0-9_.]+)\]/.exec(details)?.[1] ?? errorInfoReason(e);
  return new SparkConnectError(details, e.code ?? grpc.status.UNKNOWN, errorClass);
}

/** The `ErrorInfo.reason` Spark puts in the status details, read from the metadata as text. */
function errorInfoReason(e: grpc.ServiceError): string | undefined {
  const raw = e.metadata?.get('grpc-status-details-bin')?.[0];
  if (!raw) return undefined;
  return /\[([A-Z][A-Z0-9_.]+)\]/.exec(Buffer.from(raw as Buffer).toString('latin1'))?.[1];
}

/** A Spark job as the driver's REST API reports it. */
export interface SparkJob {
  jobId: number;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'UNKNOWN';
  submissionTime?: string;
  completionTime?: string;
  jobTags: string[];
  /** Spark Connect puts the start of the request (session, plan) here. */
  description?: string;
}

/** The server's application id and its jobs (`/api/v1/applications/<id>/jobs`), newest first. */
export async function connectServerJobs(uiUrl: string): Promise<{ applicationId: string; jobs: SparkJob[] }> {
  // The driver answers from its listener's state, on a thread that competes with the steps it runs:
  // with engines busy on 2 cores it took over 5 s (seen in CI); it is a read, so wait as long as any.
  const timeoutMs = 30_000;
  const apps = await requestJson<{ id: string }[]>(joinUrl(uiUrl, '/api/v1/applications'), { timeoutMs });
  const applicationId = apps[0]?.id;
  if (!applicationId) throw new Error(`no application at ${uiUrl}`);
  const jobs = await requestJson<SparkJob[]>(joinUrl(uiUrl, `/api/v1/applications/${applicationId}/jobs`), {
    timeoutMs,
  });
  return { applicationId, jobs: jobs.map((j) => ({ ...j, jobTags: j.jobTags ?? [] })) };
}

/** The operation id a Spark Connect job ran for (from its `..._Operation_<id>` tag). */
export const jobOperationId = (job: SparkJob) =>
  job.jobTags.map((t) => /_Operation_([0-9a-f-]{36})$/.exec(t)?.[1]).find(Boolean);

/** Whether a job carries a user tag (Spark prefixes it with the user and session). */
export const jobHasTag = (job: SparkJob, tag: string) => job.jobTags.some((t) => t.endsWith(`_Tag_${tag}`));
