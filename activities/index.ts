import { Context, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import * as crypto from 'node:crypto';
import {
  cancelFlinkJob,
  findFlinkJob,
  FIXED_JOB_ID_KEY,
  FlinkSqlRejected,
  SqlGatewaySession,
  waitFlinkJob,
} from '../engines/flink';
import {
  consumeJson,
  endOffsets,
  ensureTopic,
  produceJsonOnce,
  TopicNotFound,
  type PartitionOffsets,
} from '../engines/kafka';
import { ErrorType } from '../lib/errors';
import type { ActivityDeps } from './deps';
import { findGoneHolders, signalPool, type HolderRef, type PoolMessage } from './pool';
import { createBatchActivities } from './batch';
import { createLambdaActivities } from './lambda';
import { createLambdaCheckActivities } from './lambda-check';
import { createStreamActivities } from './stream';
import { createIntakeActivities } from './intake';

export type { ActivityDeps } from './deps';

export interface DemoEvent {
  user: string;
  amount: number;
  ts: number;
}

/** A permanent failure of `type` that keeps the engine's error as its cause. */
const permanent = (type: string, err: Error) =>
  ApplicationFailure.create({ message: err.message, type, nonRetryable: true, cause: err });

/**
 * A deterministic id for "this step of this workflow run": workflow id, run id and activity id
 * (the same for every retry of one activity, different for another step or another run). Engine
 * jobs are named or numbered by it, so a retry after a worker was killed finds what the attempt
 * before it started instead of starting it again.
 */
function stepKey(): string {
  const { workflowExecution: run, activityId } = Context.current().info;
  if (!run) throw new Error('this activity runs only on behalf of a workflow (its engine ids derive from the run)');
  return `${run.workflowId}/${run.runId}/${activityId}`;
}

/**
 * The activities, built from their engine clients (a factory receiving its clients, so tests pass
 * real or fake ones). Each is safe to retry after a worker was killed at any instant: what it
 * starts (a produce, a Spark application, a Flink job) carries an id derived from the workflow run
 * and step, and is looked up before anything is started again.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createStreamActivities(deps),
    ...createBatchActivities(deps),
    ...createLambdaActivities(deps),
    ...createLambdaCheckActivities(deps),
    ...createIntakeActivities(deps),
    /** The trivial activity of the hello workflow. */
    async greet(name: string): Promise<string> {
      return `Hello, ${name}!`;
    },

    /**
     * Writes `count` deterministic demo events to a topic, exactly once per workflow run and step
     * (a Kafka transaction with a marker: see `produceJsonOnce`), and returns the offset range.
     */
    async produceDemoEvents(input: { topic: string; count: number; seed: number; startTs: number }) {
      await ensureTopic(deps.kafka, input.topic);
      const events = demoEvents(input.count, input.seed, input.startTs);
      const produceId = crypto.createHash('sha256').update(stepKey()).digest('hex').slice(0, 32);
      const { from, to } = await produceJsonOnce(
        deps.kafka,
        input.topic,
        produceId,
        events,
        (e) => (e as DemoEvent).user,
      );
      return { from, to };
    },

    /**
     * The end offsets of a topic now: a batch run reads up to them, so its retries read the same
     * records. A topic that does not exist fails at once and for good (`SourceNotFound`), naming it.
     */
    async kafkaEndOffsets(input: { topic: string }): Promise<PartitionOffsets> {
      try {
        return await endOffsets(deps.kafka, input.topic);
      } catch (err) {
        if (err instanceof TopicNotFound) throw permanent(ErrorType.sourceNotFound, err);
        throw err;
      }
    },

    /**
     * Runs a bounded Flink SQL job through the SQL Gateway: the DDL, then one INSERT, then waits
     * for the job to finish. The job's id derives from the workflow run and step
     * (`$internal.pipeline.job-id`): a retry first asks the JobManager for that id and follows the
     * job it finds instead of submitting a second INSERT. Cancellation cancels the Flink job.
     * `${KAFKA_BROKERS}` in the DDL stands for the configured brokers (workflow code does not know
     * engine addresses).
     */
    async flinkSqlJob(input: { name: string; ddl: string[]; insert: string; properties?: Record<string, string> }) {
      const ctx = Context.current();
      const jobId = crypto.createHash('md5').update(stepKey()).digest('hex');
      if (!(await findFlinkJob(deps.flink.restUrl, jobId))) await submitFlinkInsert(deps, input, jobId);
      heartbeat({ jobId });
      const beat = setInterval(() => heartbeat({ jobId }), 5000);
      const cancel = () => void cancelFlinkJob(deps.flink.restUrl, jobId).catch(() => undefined);
      ctx.cancellationSignal.addEventListener('abort', cancel, { once: true });
      try {
        const state = await waitFlinkJob(deps.flink.restUrl, jobId);
        return { jobId, state };
      } finally {
        clearInterval(beat);
        ctx.cancellationSignal.removeEventListener('abort', cancel);
      }
    },

    async ensureTopic(input: { topic: string }): Promise<void> {
      await ensureTopic(deps.kafka, input.topic);
    },

    /** The pool scheduler's liveness check: which of these holders have ended or been reset. */
    async findGoneHolders(holders: HolderRef[]): Promise<HolderRef[]> {
      if (!deps.temporal) throw new Error('findGoneHolders needs a Temporal client (ActivityDeps.temporal)');
      return findGoneHolders(deps.temporal(), holders);
    },

    /** A holder's request or release to its pool's scheduler, sent by `withAdmission`. */
    async signalPool(message: PoolMessage): Promise<void> {
      if (!deps.temporal) throw new Error('signalPool needs a Temporal client (ActivityDeps.temporal)');
      return signalPool(deps.temporal(), message);
    },

    /** Reads a topic's JSON records up to its end offsets (bounded: for small results only). */
    async readTopic(input: { topic: string }): Promise<unknown[]> {
      return consumeJson(deps.kafka, input.topic);
    },
  };
}

/** Submits the DDL and the INSERT in a session of their own, under the given JobID. */
async function submitFlinkInsert(
  deps: ActivityDeps,
  input: { name: string; ddl: string[]; insert: string; properties?: Record<string, string> },
  jobId: string,
): Promise<void> {
  const session = await SqlGatewaySession.open(deps.flink.gatewayUrl, input.name, input.properties, {
    requestTimeoutMs: deps.flink.requestTimeoutMs,
  });
  try {
    for (const statement of input.ddl) {
      await session.execute(statement.replaceAll('${KAFKA_BROKERS}', deps.brokers.join(',')));
    }
    await session.execute(input.insert, { 'pipeline.name': input.name, [FIXED_JOB_ID_KEY]: jobId });
  } catch (err) {
    // Refused because a job with this id exists: an earlier attempt submitted it after all.
    if (err instanceof FlinkSqlRejected && (await findFlinkJob(deps.flink.restUrl, jobId))) return;
    if (err instanceof FlinkSqlRejected) throw permanent(ErrorType.flinkSqlRejected, err);
    throw err;
  } finally {
    await session.close();
  }
}

export type Activities = ReturnType<typeof createActivities>;

export type { BatchEngine, BatchStepResult, SparkSqlStep } from './batch';
export type { PartitionOffsets };

/** Deterministic demo events: a small xorshift generator, so a seed always gives the same data. */
export function demoEvents(count: number, seed: number, startTs: number): DemoEvent[] {
  const users = ['ana', 'bo', 'cy', 'dee', 'eli'];
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return Array.from({ length: count }, (_, i) => ({
    user: users[next() % users.length]!,
    amount: (next() % 100) + 1,
    ts: startTs + i * 1000,
  }));
}
