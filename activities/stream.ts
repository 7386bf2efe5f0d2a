/**
 * The activities of a streaming pipeline (docs/architecture.md#streaming-pipelines): submit a generation,
 * watch it, stop it with a savepoint, take and dispose savepoints. Each is safe to retry after a
 * worker was killed at any instant: a generation's JobID and every savepoint's trigger id derive
 * from the workflow id and the step (never from the attempt), and each activity asks Flink what
 * already happened before it acts.
 */
import { CancelledFailure, Context, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cancelFlinkJob,
  disposeSavepoint,
  findFlinkJob,
  FIXED_JOB_ID_KEY,
  flinkCheckpointDir,
  flinkCheckpoints,
  flinkJobDetail,
  flinkJobRestarts,
  flinkRootCause,
  FlinkSavepointFailed,
  FlinkSqlRejected,
  savepointOperation,
  SqlGatewaySession,
  stopWithSavepoint,
  triggerSavepoint,
  waitSavepoint,
  type FlinkCheckpointStats,
} from '../engines/flink';
import { groupOffsets, lagOf, topicRange } from '../engines/kafka';
import { ErrorType } from '../lib/errors';
import { sleep, until } from '../lib/poll';
import { flinkCatalogOptions } from '../lib/lake-catalog';
import { flinkOptions, STREAM_PLACEHOLDERS, type CompiledStream } from '../lib/pipelines';
import type { ActivityDeps } from './deps';

/** A 32-hex id (what Flink takes as a JobID or a savepoint trigger id) for a key. */
export const hexId = (key: string) => crypto.createHash('md5').update(key).digest('hex');

/**
 * The JobID of a stream's generation: the same for every retry, new for every generation and for
 * every new execution of the workflow id (a stream started again after a cancel counts from 1 again).
 */
export const generationJobId = (workflowId: string, firstRunId: string, generation: number) =>
  hexId(`${workflowId}/${firstRunId}#${generation}`);

/** The Flink job name of a generation: findable by pipeline name in Flink's UI and REST API. */
export const generationJobName = (pipeline: string, generation: number) => `sluice:${pipeline}#${generation}`;

/** The Kafka sink's transactional-id prefix of a generation: never shared by two generations. */
export const transactionalIdPrefix = (pipeline: string, generation: number) => `sluice.${pipeline}.g${generation}`;

const TERMINAL = new Set(['FINISHED', 'FAILED', 'CANCELED', 'SUSPENDED']);

export interface SubmitGeneration {
  workflowId: string;
  /** The first run of the workflow's continue-as-new chain. */
  firstRunId: string;
  pipeline: string;
  generation: number;
  parallelism: number;
  compiled: CompiledStream;
  /** A savepoint or retained checkpoint (`file:...`) to restore from. */
  restoreFrom?: string;
}

export interface JobSnapshot {
  jobId: string;
  /** Flink's state, or `GONE` when the JobManager does not know the job (it restarted without it). */
  state: string;
  vertexParallelism: number[];
  restarts: number;
  checkpoint?: FlinkCheckpointStats['completed'];
  restored?: FlinkCheckpointStats['restored'];
  lag?: number;
  rootCause?: string;
}

export interface WatchInput {
  jobId: string;
  groupId: string;
  topic: string;
  /** Return after this long even when nothing changed (the workflow then records a fresh snapshot). */
  maxMs: number;
}

export interface StopInput {
  jobId: string;
  /** Names the step (workflow id, generation, purpose): the savepoint's trigger id is derived from it. */
  triggerKey: string;
  savepoint: boolean;
  groupId: string;
  topic: string;
}

export interface SnapshotTaken {
  location?: string;
  /** The group's committed offsets right after (Flink commits them when a checkpoint or savepoint completes). */
  offsets?: Record<string, string>;
}

/**
 * The SQL Gateway's part of a generation: the session's DDL (with this generation's
 * transactional-id prefix), `COMPILE PLAN IF NOT EXISTS` (once per computation: the plan file is
 * named by a hash of the SQL) and `EXECUTE PLAN` under the generation's JobID and name, at
 * `parallelism`, from `restoreFrom`. The plan does not depend on the generation: its Kafka tables
 * are looked up by name in the session. No Temporal here: the rescale bench calls it directly.
 */
export async function executeGeneration(
  deps: Pick<ActivityDeps, 'brokers' | 'lake' | 'flink' | 'lakeCatalog'>,
  input: Pick<SubmitGeneration, 'pipeline' | 'generation' | 'parallelism' | 'compiled' | 'restoreFrom'> & {
    jobId: string;
    jobName: string;
  },
): Promise<void> {
  const { compiled } = input;
  const plans = path.join(deps.lake, '_flink-plans', input.pipeline);
  const fill = (sql: string, prefix: string) =>
    sql
      .replaceAll(STREAM_PLACEHOLDERS.brokers, deps.brokers.join(','))
      .replaceAll(STREAM_PLACEHOLDERS.catalog, flinkOptions(flinkCatalogOptions(deps.lakeCatalog)))
      .replaceAll(STREAM_PLACEHOLDERS.transactionalIdPrefix, prefix);
  const digest = hexId(JSON.stringify([compiled.ddl.map((d) => fill(d, '-')), compiled.insert, compiled.config]));
  const planUri = `file://${path.join(plans, `${digest}.json`)}`;
  fs.mkdirSync(plans, { recursive: true });
  const session = await SqlGatewaySession.open(
    deps.flink.gatewayUrl,
    input.jobName,
    {},
    {
      requestTimeoutMs: deps.flink.requestTimeoutMs,
    },
  );
  try {
    for (const statement of compiled.ddl) {
      await session.execute(fill(statement, transactionalIdPrefix(input.pipeline, input.generation)));
    }
    await session.execute(`COMPILE PLAN '${planUri}' IF NOT EXISTS FOR ${fill(compiled.insert, '-')}`, compiled.config);
    await session.execute(`EXECUTE PLAN '${planUri}'`, {
      ...compiled.config,
      'pipeline.name': input.jobName,
      [FIXED_JOB_ID_KEY]: input.jobId,
      'parallelism.default': String(input.parallelism),
      ...(input.restoreFrom ? { 'execution.state-recovery.path': input.restoreFrom } : {}),
    });
  } finally {
    await session.close();
  }
}

export function createStreamActivities(deps: ActivityDeps) {
  const flinkRest = () => deps.flink.restUrl;

  const snapshot = async (jobId: string, input?: { groupId: string; topic: string }): Promise<JobSnapshot> => {
    const found = await findFlinkJob(flinkRest(), jobId);
    if (!found) return { jobId, state: 'GONE', vertexParallelism: [], restarts: 0 };
    const [detail, restarts, checkpoints] = await Promise.all([
      flinkJobDetail(flinkRest(), jobId),
      flinkJobRestarts(flinkRest(), jobId).catch(() => 0),
      flinkCheckpoints(flinkRest(), jobId).catch(() => ({}) as FlinkCheckpointStats),
    ]);
    const out: JobSnapshot = {
      jobId,
      state: detail.state,
      vertexParallelism: detail.vertices.map((v) => v.parallelism),
      restarts,
      checkpoint: checkpoints.completed,
      restored: checkpoints.restored,
    };
    if (input) {
      out.lag = await Promise.all([
        topicRange(deps.kafka, input.topic),
        groupOffsets(deps.kafka, input.groupId, input.topic),
      ])
        .then(([range, committed]) => lagOf(range, committed))
        .catch(() => undefined);
    }
    if (detail.state === 'FAILED' || detail.state === 'RESTARTING' || restarts > 0) {
      out.rootCause = (await flinkRootCause(flinkRest(), jobId).catch(() => '')) || undefined;
    }
    return out;
  };

  /** Waits until the job is gone from RUNNING (stopped, cancelled, failed) or unknown. */
  const waitEnded = (jobId: string) =>
    until(
      () => `Flink job ${jobId} to end`,
      async () => {
        const job = await findFlinkJob(flinkRest(), jobId);
        return !job || TERMINAL.has(job.state) ? (job?.state ?? 'GONE') : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );

  /** A trigger's savepoint location; a savepoint Flink could not take is a permanent `SavepointFailed`. */
  const savepointLocation = async (jobId: string, triggerId: string) => {
    try {
      return await waitSavepoint(flinkRest(), jobId, triggerId);
    } catch (err) {
      if (!(err instanceof FlinkSavepointFailed)) throw err;
      throw ApplicationFailure.create({ message: err.message, type: ErrorType.savepointFailed, nonRetryable: true });
    }
  };

  const committedOffsets = (input: { groupId: string; topic: string }) =>
    groupOffsets(deps.kafka, input.groupId, input.topic).catch(() => undefined);

  return {
    /**
     * Submits one generation of a stream under its fixed JobID, from a compiled plan: the plan is
     * compiled once per computation (`COMPILE PLAN IF NOT EXISTS`, the file named by a hash of the
     * SQL) and every generation runs `EXECUTE PLAN`, so operator ids stay stable and a savepoint
     * restores at another parallelism. A retry finds the job by its id and submits nothing.
     */
    async submitStreamGeneration(input: SubmitGeneration): Promise<{ jobId: string; jobName: string; jobUrl: string }> {
      const jobId = generationJobId(input.workflowId, input.firstRunId, input.generation);
      const jobUrl = `${flinkRest()}/#/job/running/${jobId}/overview`;
      const jobName = generationJobName(input.pipeline, input.generation);
      if (await findFlinkJob(flinkRest(), jobId)) return { jobId, jobName, jobUrl };
      const heart = setInterval(() => heartbeat({ jobId, step: 'submitting' }), 3000);
      try {
        await executeGeneration(deps, { ...input, jobId, jobName });
      } catch (err) {
        // Refused because the job exists: an earlier attempt submitted it after all.
        if (err instanceof FlinkSqlRejected && (await findFlinkJob(flinkRest(), jobId)))
          return { jobId, jobName, jobUrl };
        if (err instanceof FlinkSqlRejected) {
          throw ApplicationFailure.create({
            message: err.message,
            type: ErrorType.flinkSqlRejected,
            nonRetryable: true,
            cause: err,
          });
        }
        throw err;
      } finally {
        clearInterval(heart);
      }
      return { jobId, jobName, jobUrl };
    },

    /**
     * Waits until the job runs with every vertex RUNNING (and, when given, at `parallelism` on every
     * vertex that is not pinned lower), heartbeating. Fails for good (`StreamNotRunning`) when the
     * job fails, ends or is not running in time: the caller rolls back.
     */
    async awaitStreamRunning(input: { jobId: string; parallelism?: number; timeoutMs: number }): Promise<JobSnapshot> {
      const ctx = Context.current();
      let last: JobSnapshot | undefined;
      try {
        return await until(
          () => `Flink job ${input.jobId} to run${input.parallelism ? ` at parallelism ${input.parallelism}` : ''}`,
          async () => {
            const detail = await flinkJobDetail(flinkRest(), input.jobId).catch(() => undefined);
            heartbeat({ jobId: input.jobId, state: detail?.state });
            if (!detail) return undefined;
            if (TERMINAL.has(detail.state)) {
              const cause = await flinkRootCause(flinkRest(), input.jobId).catch(() => '');
              throw ApplicationFailure.nonRetryable(
                `Flink job ${input.jobId} ended ${detail.state} instead of running${cause ? `: ${cause}` : ''}`,
                ErrorType.streamNotRunning,
              );
            }
            const running = detail.state === 'RUNNING' && detail.vertices.every((v) => v.status === 'RUNNING');
            const widest = Math.max(...detail.vertices.map((v) => v.parallelism));
            last = {
              jobId: input.jobId,
              state: detail.state,
              vertexParallelism: detail.vertices.map((v) => v.parallelism),
              restarts: 0,
            };
            return running && (!input.parallelism || widest === input.parallelism) ? last : undefined;
          },
          { timeoutMs: input.timeoutMs, intervalMs: 500, signal: ctx.cancellationSignal },
        );
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled');
        if (err instanceof ApplicationFailure) throw err;
        throw ApplicationFailure.nonRetryable(
          `Flink job ${input.jobId} was not running${input.parallelism ? ` at parallelism ${input.parallelism}` : ''} within ${input.timeoutMs} ms (last seen: ${last ? `${last.state}, vertices at ${last.vertexParallelism.join('/')}` : 'not yet known to the JobManager'})`,
          ErrorType.streamNotRunning,
        );
      }
    },

    /**
     * Watches a running job, heartbeating its state, and returns when it changes (fails, ends,
     * restarts, disappears from the JobManager) or after `maxMs` with a fresh snapshot: state,
     * parallelism, Flink's restarts and root cause, the newest checkpoint and the Kafka lag.
     */
    async watchStreamJob(input: WatchInput): Promise<JobSnapshot> {
      const ctx = Context.current();
      const started = Date.now();
      let first: JobSnapshot | undefined;
      for (;;) {
        let now: JobSnapshot | undefined;
        try {
          now = await snapshot(input.jobId, input);
        } catch {
          // The JobManager does not answer (restarting?): keep watching; the heartbeat says so.
          heartbeat({ jobId: input.jobId, state: 'UNREACHABLE' });
        }
        if (now) {
          heartbeat(now);
          first ??= now;
          // A change, not a state: while Flink restarts the job (RESTARTING), keep watching.
          const changed =
            now.state !== first.state ||
            now.restarts !== first.restarts ||
            TERMINAL.has(now.state) ||
            now.state === 'GONE';
          if (changed || Date.now() - started >= input.maxMs) return now;
        }
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('watch cancelled');
        await sleep(1000, ctx.cancellationSignal).catch(() => undefined);
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('watch cancelled');
      }
    },

    /**
     * Stops a job, with a savepoint (our trigger id, never draining) or without, and waits until it
     * has ended. Idempotent: a retry asks Flink for the trigger's result first, and a job that has
     * already ended is not stopped again.
     */
    async stopStreamJob(input: StopInput): Promise<SnapshotTaken> {
      const triggerId = hexId(input.triggerKey);
      const heart = setInterval(() => heartbeat({ jobId: input.jobId, triggerId }), 3000);
      try {
        const job = await findFlinkJob(flinkRest(), input.jobId);
        if (!input.savepoint) {
          if (job && !TERMINAL.has(job.state)) await cancelFlinkJob(flinkRest(), input.jobId);
          await waitEnded(input.jobId);
          return {};
        }
        const known = await savepointOperation(flinkRest(), input.jobId, triggerId);
        if (!known) {
          if (!job) {
            throw ApplicationFailure.nonRetryable(
              `Flink job ${input.jobId} is gone (the JobManager does not know it): no savepoint can be taken`,
              ErrorType.streamJobGone,
            );
          }
          if (TERMINAL.has(job.state)) {
            throw ApplicationFailure.nonRetryable(
              `Flink job ${input.jobId} has already ended ${job.state}: no savepoint can be taken`,
              ErrorType.streamJobGone,
            );
          }
          await stopWithSavepoint(flinkRest(), input.jobId, triggerId);
        }
        const location = await savepointLocation(input.jobId, triggerId);
        // The offsets are read while the job finishes (Flink commits them when the savepoint completes).
        const [, offsets] = await Promise.all([waitEnded(input.jobId), committedOffsets(input)]);
        return { location, offsets };
      } finally {
        clearInterval(heart);
      }
    },

    /** Takes a savepoint of a running job (it keeps running). Idempotent by trigger id. */
    async takeSavepoint(input: Omit<StopInput, 'savepoint'>): Promise<SnapshotTaken> {
      const triggerId = hexId(input.triggerKey);
      const heart = setInterval(() => heartbeat({ jobId: input.jobId, triggerId }), 3000);
      try {
        if (!(await savepointOperation(flinkRest(), input.jobId, triggerId))) {
          await triggerSavepoint(flinkRest(), input.jobId, triggerId);
        }
        return { location: await savepointLocation(input.jobId, triggerId), offsets: await committedOffsets(input) };
      } finally {
        clearInterval(heart);
      }
    },

    /**
     * Whether each savepoint or checkpoint can still be restored: its metadata file is present and
     * the offsets recorded with it are still inside the topic's retention (not before its oldest record).
     */
    async checkRestorable(input: {
      topic: string;
      snapshots: { path: string; offsets?: Record<string, string> }[];
    }): Promise<{ path: string; restorable: boolean; because?: string }[]> {
      const range = await topicRange(deps.kafka, input.topic).catch(() => undefined);
      return input.snapshots.map(({ path: location, offsets }) => {
        const metadata = path.join(localPath(location), '_metadata');
        if (!fs.existsSync(metadata)) return { path: location, restorable: false, because: `${metadata} is missing` };
        for (const [partition, offset] of Object.entries(offsets ?? {})) {
          const low = range?.[partition]?.low;
          if (low !== undefined && BigInt(offset) < BigInt(low)) {
            return {
              path: location,
              restorable: false,
              because: `partition ${partition} resumes at offset ${offset}, before the topic's oldest record ${low} (retention)`,
            };
          }
        }
        return { path: location, restorable: true };
      });
    },

    /**
     * Disposes a savepoint through Flink's REST API; one whose files are already gone counts as
     * disposed (a retry after the disposal succeeded).
     */
    async disposeSavepoint(input: { path: string }): Promise<void> {
      if (!fs.existsSync(path.join(localPath(input.path), '_metadata'))) return;
      await disposeSavepoint(flinkRest(), input.path);
    },

    /**
     * The newest retained checkpoint of a job on disk (`<root>/<jobId>/chk-<n>/_metadata`), for a
     * job the JobManager has forgotten. Exactly-once needs the newest: an older one would replay
     * windows whose results the sinks have already committed.
     */
    async newestRetainedCheckpoint(input: { knownCheckpoint?: string; jobId: string }): Promise<string | undefined> {
      // The root from a checkpoint the workflow saw, else from the JobManager's own configuration:
      // a generation may be lost before any watch round reported one of its checkpoints.
      const configured = input.knownCheckpoint ? undefined : await flinkCheckpointDir(flinkRest());
      if (!input.knownCheckpoint && !configured) return undefined;
      const root = input.knownCheckpoint
        ? path.dirname(path.dirname(localPath(input.knownCheckpoint)))
        : localPath(configured!);
      const dir = path.join(root, input.jobId);
      if (!fs.existsSync(dir)) return undefined;
      const newest = fs
        .readdirSync(dir)
        .map((f) => /^chk-(\d+)$/.exec(f))
        .filter((m): m is RegExpExecArray => m !== null && fs.existsSync(path.join(dir, m[0], '_metadata')))
        .sort((a, b) => Number(b[1]) - Number(a[1]))[0];
      return newest ? `file:${path.join(dir, newest[0])}` : undefined;
    },

    /** The job's current snapshot (for the status after a resubmission or a restart). */
    async streamJobSnapshot(input: { jobId: string; groupId: string; topic: string }): Promise<JobSnapshot> {
      return snapshot(input.jobId, input);
    },
  };
}

/** A `file:` location as Flink writes it (`file:/x` or `file:///x`) → a local path. */
function localPath(location: string): string {
  return location.startsWith('file:') ? fileURLToPath(location.replace(/^file:\/*/, 'file:///')) : location;
}
