/**
 * What the batch benchmarks (`batch-overhead`, `batch-latency`) share: page views on a topic of the
 * bench's own, the page-views example pipeline on that topic and on a pool of the bench's own, an
 * in-process Sluice worker, and the plain spark-submit baseline (the step Sluice's submit path runs,
 * word for word, without Sluice). Needs the local stack (`./sluice stack up`).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { installWorkerRuntime } from '../workers/runtime';
import type { BatchEngine } from '../activities/batch';
import type { ActivityDeps } from '../activities/deps';
import { parseEnv, poolTaskQueue, type Env } from '../config/env';
import { ensureTopic, produceJson, type PartitionOffsets } from '../engines/kafka';
import { sparkSubmitCommand, type SparkResult, type SparkSqlJob } from '../engines/spark';
import { rootCauseMessage } from '../lib/errors';
import { sparkTableName } from '../lib/lake-catalog';
import { compileBatch, definePipeline, type BatchPipelineSpec } from '../lib/pipelines';
import { batchStepPlan } from '../lib/spark-step';
import { pageViews } from '../pipelines/page-views';
import { localSparkDefaults } from '../stack/install';
import { depsFromEnv } from '../workers/deps';
import { createSluiceWorker } from '../workers/worker';
import {
  backfillWorkflow,
  backfillWorkflowId,
  batchPipelineWorkflow,
  batchWorkflowId,
  poolSchedulerWorkflow,
} from '../workflows';
import { progress, type BackfillProgress } from '../workflows/messages';

/** The partition the single-step measurements run (an hour of 2026-11-20, UTC). */
export const BENCH_PARTITION = '2026-11-20T05';

/** A bench's progress lines, on stderr (stdout holds only the result's JSON). */
export const progressLine = (bench: string) => (msg: string) => process.stderr.write(`${bench}: ${msg}\n`);

const PAGES = ['home', 'search', 'cart', 'checkout', 'help'];

/** `count` page views (the page-views example's schema), event times spread evenly over [startMs, startMs + spanMs). */
export function pageViewEvents(count: number, startMs: number, spanMs: number) {
  return Array.from({ length: count }, (_, i) => ({
    user: `u${i % 97}`,
    page: PAGES[i % PAGES.length],
    amount: (i * 7919) % 100,
    ts: startMs + Math.floor((i * spanMs) / count),
  }));
}

/** One measured step: its wall time and the rows it committed. */
export interface StepSample {
  ms: number;
  rows: number;
}

/** One side of a comparison: `run(tag)` runs one step (`tag` makes its names unique) and times it. */
export interface Side {
  label: string;
  run: (tag: string) => Promise<StepSample>;
}

/**
 * One warm-up of each side (not counted), then `runs` rounds of both, alternating which goes first
 * so that neither always runs on a machine the other just warmed. Every step of either side must
 * commit the same, non-zero number of rows: sides that differ did not run the same step. Returns
 * each side's times, in the order of `sides`.
 */
export async function alternate(
  sides: readonly [Side, Side],
  runs: number,
  say: (msg: string) => void,
): Promise<[number[], number[]]> {
  let first: { label: string; rows: number } | undefined;
  const step = async (side: Side, tag: string): Promise<number> => {
    const { ms, rows } = await side.run(tag);
    if (rows <= 0)
      throw new Error(`${side.label} committed no rows: the partition holds no events, nothing was measured`);
    first ??= { label: side.label, rows };
    if (rows !== first.rows) {
      throw new Error(
        `${side.label} committed ${rows} rows, ${first.label} ${first.rows}: the two sides did not run the same step`,
      );
    }
    return ms;
  };
  say('warm-up: one of each (not counted)');
  for (const side of sides) await step(side, 'warm-up');
  const times: [number[], number[]] = [[], []];
  for (let i = 1; i <= runs; i++) {
    for (const s of i % 2 ? [0, 1] : [1, 0]) {
      const ms = await step(sides[s]!, String(i));
      times[s]!.push(ms);
      say(`run ${i} ${sides[s]!.label}: ${(ms / 1000).toFixed(2)} s`);
    }
  }
  return times;
}

export interface BatchBenchOptions {
  /** The bench's name: its progress lines, task queue and topic are named after it. */
  name: string;
  /** What the bench's topic holds, produced once before anything runs. */
  events: unknown[];
}

/**
 * Sets a batch bench up, runs `body` while the in-process worker runs (failing at once if the
 * worker stops first), and tears it down, also after a failure: backfills still running and
 * their running partitions are terminated while the worker still runs (so that their steps are
 * cancelled: the Spark application killed, the Connect operation interrupted), then the worker
 * stops, the pool is terminated and the connections are closed. Tables and topics stay.
 */
export async function withBatchBench<R>(opts: BatchBenchOptions, body: (bench: BatchBench) => Promise<R>): Promise<R> {
  const say = progressLine(opts.name);
  installWorkerRuntime({ forwardCoreLogs: true });
  const id = Date.now().toString(36);
  const taskQueue = `bench-${opts.name}-${id}`;
  const env = parseEnv({ ...process.env, SLUICE_TASK_QUEUE: taskQueue });
  const deps = depsFromEnv(env, localSparkDefaults(env));
  const topic = taskQueue;

  say(`producing ${opts.events.length} events to ${topic}`);
  await ensureTopic(deps.kafka, topic);
  const { to: endOffsets } = await produceJson(deps.kafka, topic, opts.events);

  const quietly = async (what: string, p: Promise<unknown>) => {
    await p.catch((err: unknown) => say(`cleanup: ${what} failed: ${rootCauseMessage(err)}`));
  };
  let connection: Connection | undefined;
  let sluice: Awaited<ReturnType<typeof createSluiceWorker>> | undefined;
  let pool: WorkflowHandle | undefined;
  try {
    connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
    sluice = await createSluiceWorker({ env, deps });
    const bench = new BatchBench({ id, env, deps, client, topic, endOffsets });
    // Room for 4 steps of cpu 1 / 1024 MB at once: a backfill at concurrency 3 is never held back by the pool.
    pool = await client.workflow.start(poolSchedulerWorkflow, {
      taskQueue: poolTaskQueue(env),
      workflowId: `pool/${bench.poolName}`,
      args: [{ name: bench.poolName, capacity: { cpu: 4, memoryMb: 8192 }, policy: { kind: 'fifo' } }],
    });
    return await sluice.worker.runUntil(async () => {
      try {
        return await body(bench);
      } finally {
        say('cleaning up');
        await bench.terminateBackfills(quietly);
      }
    });
  } finally {
    if (pool) await quietly('terminating the pool', pool.terminate('benchmark done'));
    if (sluice) await quietly('closing the worker connection', sluice.connection.close());
    if (connection) await quietly('closing the client connection', connection.close());
  }
}

/** A batch bench's topic, pool, Temporal client and runners (made by {@link withBatchBench}). */
export class BatchBench {
  readonly id: string;
  readonly env: Env;
  readonly deps: ActivityDeps;
  readonly client: Client;
  /** The topic every pipeline of the bench reads. */
  readonly topic: string;
  /** Its end offsets once the events were produced: what every step reads up to. */
  readonly endOffsets: PartitionOffsets;
  readonly poolName: string;
  readonly #backfills: { handle: WorkflowHandle<typeof backfillWorkflow>; pipeline: string }[] = [];

  constructor(o: {
    id: string;
    env: Env;
    deps: ActivityDeps;
    client: Client;
    topic: string;
    endOffsets: PartitionOffsets;
  }) {
    this.id = o.id;
    this.env = o.env;
    this.deps = o.deps;
    this.client = o.client;
    this.topic = o.topic;
    this.endOffsets = o.endOffsets;
    this.poolName = `bench-${o.id}`;
  }

  /** The page-views example pipeline on the bench's topic and pool, named `name`, its steps on `engine`. */
  pipeline(name: string, engine: BatchEngine): BatchPipelineSpec {
    if (pageViews.source.kind !== 'kafka') throw new Error('page-views reads Kafka');
    return definePipeline({
      ...pageViews,
      name,
      source: { ...pageViews.source, topic: this.topic },
      batch: {
        ...pageViews.batch,
        pool: this.poolName,
        tenant: 'bench',
        resources: { cpu: 1, memoryMb: 1024 },
        engine,
      },
    });
  }

  /** One partition through Sluice (`batchPipelineWorkflow`: offsets, admission, the step, validation), start to result. */
  async sluiceStep(pipeline: BatchPipelineSpec, partition: string, tag: string): Promise<StepSample> {
    const t0 = performance.now();
    const result = await this.client.workflow.execute(batchPipelineWorkflow, {
      taskQueue: this.env.SLUICE_TASK_QUEUE,
      workflowId: `${batchWorkflowId(pipeline.name, partition)}/bench-${tag}`,
      args: [{ pipeline, partition }],
    });
    const ms = performance.now() - t0;
    if (result.state !== 'succeeded') throw new Error(`Sluice run ${tag} of ${pipeline.name} ended ${result.state}`);
    if (result.engine !== pipeline.batch.engine) {
      throw new Error(`Sluice run ${tag} of ${pipeline.name} ran on ${result.engine}, not ${pipeline.batch.engine}`);
    }
    return { ms, rows: result.rows ?? 0 };
  }

  /**
   * A backfill of `from..to` through Sluice (`backfillWorkflow`), start to result. Every partition
   * must succeed: a backfill with failed partitions measured less work than it claims.
   */
  async backfill(
    pipeline: BatchPipelineSpec,
    from: string,
    to: string,
    concurrency: number,
  ): Promise<{ ms: number; result: BackfillProgress }> {
    const t0 = performance.now();
    const handle = await this.client.workflow.start(backfillWorkflow, {
      taskQueue: this.env.SLUICE_TASK_QUEUE,
      workflowId: backfillWorkflowId(pipeline.name, from, to),
      args: [{ pipeline, from, to, concurrency }],
    });
    this.#backfills.push({ handle, pipeline: pipeline.name });
    const result = await handle.result();
    const ms = performance.now() - t0;
    if (result.done !== result.total || result.failed.length > 0 || result.cancelled.length > 0) {
      const failed = result.failed.map((f) => `${f.partition} (${f.error ?? '?'})`).join(', ');
      throw new Error(
        `backfill ${handle.workflowId}: ${result.done}/${result.total} done` +
          `${failed ? `, failed: ${failed}` : ''}${result.cancelled.length ? `, cancelled: ${result.cancelled.join(', ')}` : ''}`,
      );
    }
    return { ms, result };
  }

  /** Terminates the backfills still running and their running partitions (which outlive their parent). */
  async terminateBackfills(quietly: (what: string, p: Promise<unknown>) => Promise<void>): Promise<void> {
    for (const { handle, pipeline } of this.#backfills) {
      const { status } = await handle.describe().catch(() => ({ status: undefined }));
      if (status?.name !== 'RUNNING') continue;
      const running = await handle
        .query(progress)
        .then((p) => p.running)
        .catch(() => [] as string[]);
      await quietly(`terminating ${handle.workflowId}`, handle.terminate('benchmark done'));
      for (const partition of running) {
        const child = batchWorkflowId(pipeline, partition);
        await quietly(`terminating ${child}`, this.client.workflow.getHandle(child).terminate('benchmark done'));
      }
    }
  }

  /**
   * The plain baseline of `pipeline`'s step for `partition`: the very plan Sluice's submit path
   * builds (`batchStepPlan` of the same compiled SQL, reading the same Kafka offsets), into the
   * table of a pipeline of its own (`bench-plain-<id>`), run with the activity's spark-submit
   * command line (`sparkSubmitCommand`) and the job file it writes: no Temporal, no admission, no
   * look-up of an earlier run, no validation. Each call of the returned runner is one application.
   */
  plainSubmit(pipeline: BatchPipelineSpec, partition: string): (tag: string) => Promise<StepSample> {
    const compiled = compileBatch(pipeline, partition, { startingOffsets: 'earliest', endingOffsets: this.endOffsets });
    // As the activity resolves them: the brokers the worker is configured with.
    const sources = compiled.sources.map((s) =>
      s.format === 'kafka' && !s.bootstrapServers ? { ...s, bootstrapServers: this.deps.brokers.join(',') } : s,
    );
    const table = sparkTableName(`bench-plain-${this.id}`, 'batch');
    const dir = path.join(this.deps.spark.workDir, 'bench-plain');
    fs.mkdirSync(dir, { recursive: true });
    return async (tag) => {
      const appName = `bench-plain-${this.id}-${tag}`;
      const job: SparkSqlJob = {
        appName,
        plan: batchStepPlan({ stepName: appName, sources, sql: compiled.sql, table, partition }),
      };
      const files = {
        job: path.join(dir, `${appName}.json`),
        log: path.join(dir, `${appName}.log`),
        result: path.join(dir, `${appName}.result.json`),
      };
      // The runner (jobs/spark_sql_runner.py) writes its result to the job's resultFile after the commit.
      fs.writeFileSync(files.job, JSON.stringify({ ...job, resultFile: files.result }));
      const { command, args, env } = sparkSubmitCommand(this.deps.spark, job, files.job);
      const log = fs.openSync(files.log, 'w');
      const t0 = performance.now();
      const code = await new Promise<number | null>((resolve, reject) =>
        spawn(command, args, { env, stdio: ['ignore', log, log] })
          .on('error', reject)
          .on('close', resolve),
      ).finally(() => fs.closeSync(log));
      const ms = performance.now() - t0;
      if (code !== 0) throw new Error(`plain spark-submit ${appName} failed (code ${code}); see ${files.log}`);
      let result: Pick<SparkResult, 'rows'>;
      try {
        result = JSON.parse(fs.readFileSync(files.result, 'utf8')) as Pick<SparkResult, 'rows'>;
      } catch (err) {
        throw new Error(
          `plain spark-submit ${appName} exited 0 without a result in ${files.result}; see ${files.log}`,
          {
            cause: err,
          },
        );
      }
      return { ms, rows: result.rows };
    };
  }
}
