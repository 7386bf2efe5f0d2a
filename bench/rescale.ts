/**
 * `npm run bench -- rescale [--rounds N]`: what a rescale and a pause/resume of a streaming
 * pipeline cost through Sluice (streamingPipelineWorkflow's sagas: admission of the new demand,
 * stop with a savepoint, restore, checked in Flink) against the same engine calls made directly
 * (stop-with-savepoint, EXECUTE PLAN of the same compiled plan from the savepoint, poll the job),
 * on the same engines, alternating in one run; medians. Needs the local stack (`./sluice stack up`).
 */
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { installWorkerRuntime } from '../workers/runtime';
import { Partitioners, type Producer } from 'kafkajs';
import type { ActivityDeps } from '../activities/deps';
import { executeGeneration, generationJobId, generationJobName, hexId } from '../activities/stream';
import { parseEnv, poolTaskQueue } from '../config/env';
import {
  cancelFlinkJob,
  disposeSavepoint,
  findFlinkJob,
  flinkJobDetail,
  flinkMessage,
  flinkRootCause,
  listFlinkJobs,
  stopWithSavepoint,
  waitSavepoint,
} from '../engines/flink';
import { ensureTopic } from '../engines/kafka';
import { rootCauseMessage } from '../lib/errors';
import { joinUrl, requestJson } from '../lib/http';
import { compileStreaming, definePipeline, type StreamingPipelineSpec } from '../lib/pipelines';
import { sleep, until } from '../lib/poll';
import { pageViewsLive } from '../pipelines/page-views-live';
import { localSparkDefaults } from '../stack/install';
import { depsFromEnv } from '../workers/deps';
import { createSluiceWorker } from '../workers/worker';
import { poolSchedulerWorkflow, streamingPipelineWorkflow } from '../workflows';
import {
  pause,
  rescale,
  resume,
  savepoints,
  streamStatus,
  streamWorkflowId,
  type StreamState,
} from '../workflows/messages';
import { benchCommand, integer, parseBenchArgs } from './args';
import { median } from './stats';

const say = (msg: string) => process.stderr.write(`rescale: ${msg}\n`);

interface RescaleArgs {
  rounds: number;
}

/** The options of `npm run bench -- rescale`; throws a `CommanderError` naming a bad one. */
export function parseArgs(args: readonly string[]): RescaleArgs {
  const command = benchCommand(
    'rescale',
    'rescale 1 → 2 and pause/resume of a stream through Sluice against the same Flink calls made directly (needs the stack)',
  ).option('--rounds <n>', 'measured rounds of each side', integer(1), 3);
  return parseBenchArgs<RescaleArgs>(command, args);
}

const TERMINAL = new Set(['FINISHED', 'FAILED', 'CANCELED', 'SUSPENDED']);
/** Synthetic event time of the first event (2026-01-01T00:00Z); each next event is 100 ms later. */
const T0 = Date.UTC(2026, 0, 1);
const PAGES = ['home', 'search', 'cart', 'checkout'];

/**
 * A few page views every 200 ms on the bench's topic, with synthetic event times 100 ms apart
 * (event time runs 2.5 times faster than the wall clock, so 10-second windows fire every 4 s).
 */
class EventGenerator {
  readonly #producer: Producer;
  #seq = 0;
  #stopping = false;
  #loop?: Promise<void>;

  constructor(
    deps: ActivityDeps,
    readonly topic: string,
  ) {
    this.#producer = deps.kafka.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  }

  async start(perBatch = 5, intervalMs = 200): Promise<void> {
    await this.#producer.connect();
    let complained = false;
    this.#loop = (async () => {
      while (!this.#stopping) {
        const messages = Array.from({ length: perBatch }, () => {
          const s = this.#seq++;
          const page = PAGES[s % PAGES.length]!;
          return {
            key: page,
            value: JSON.stringify({ user: `u${s % 13}`, page, amount: (s % 7) + 1, ts: T0 + s * 100 }),
          };
        });
        // The data is the backdrop, not the subject: a failed send is said once and the loop goes on.
        await this.#producer.send({ topic: this.topic, messages }).catch((err: unknown) => {
          if (!complained) say(`generator: a send failed (${rootCauseMessage(err)}); going on`);
          complained = true;
        });
        await sleep(intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#loop;
    await this.#producer.disconnect();
  }
}

/** `GET /jobs/<id>`: when the job ended, and when it entered each state (0 when it never did). */
interface JobTimes {
  state: string;
  'end-time': number;
  timestamps: Partial<Record<string, number>>;
}

/**
 * "No job running, as Flink reports it" between two generations: the new job's `timestamps.RUNNING`
 * minus the old job's `end-time`, both from the JobManager.
 */
async function gapMs(restUrl: string, oldJob: string, newJob: string): Promise<number> {
  const times = (jobId: string) =>
    requestJson<JobTimes>(joinUrl(restUrl, `/jobs/${jobId}`), { describe: flinkMessage });
  const [before, after] = await Promise.all([times(oldJob), times(newJob)]);
  const ended = before['end-time'];
  const running = after.timestamps.RUNNING;
  if (!(ended > 0) || !running) {
    throw new Error(
      `no gap to measure: job ${oldJob} is ${before.state} (end-time ${ended}), job ${newJob} is ${after.state} (RUNNING at ${running})`,
    );
  }
  return running - ended;
}

/**
 * The direct side: one stream's generations driven by the engine calls the activities make
 * (activities/stream.ts), without Temporal or a pool: the same DDL and compiled plan, the same
 * JobIDs, job names and transactional-id prefixes per generation, the same polling intervals.
 */
class DirectStream {
  generation = 0;
  jobId?: string;
  /** Every savepoint it took, disposed of at the end. */
  readonly savepoints: string[] = [];
  readonly #key: string;
  readonly #compiled: ReturnType<typeof compileStreaming>;

  constructor(
    private readonly deps: ActivityDeps,
    private readonly spec: StreamingPipelineSpec,
  ) {
    this.#key = `bench-direct/${spec.name}`;
    this.#compiled = compileStreaming(spec);
  }

  /** Submits the next generation at `parallelism`, from `restoreFrom` when given; returns its JobID. */
  async submit(parallelism: number, restoreFrom?: string): Promise<string> {
    const { deps, spec } = this;
    const generation = ++this.generation;
    const jobId = generationJobId(this.#key, 'bench', generation);
    // The activity's own gateway steps (DDL, COMPILE PLAN IF NOT EXISTS, EXECUTE PLAN), without Temporal.
    await executeGeneration(deps, {
      pipeline: spec.name,
      generation,
      parallelism,
      compiled: this.#compiled,
      restoreFrom,
      jobId,
      jobName: generationJobName(spec.name, generation),
    });
    this.jobId = jobId;
    return jobId;
  }

  /** Waits until the job is RUNNING with every vertex RUNNING and its widest vertex at `parallelism`. */
  async awaitRunning(jobId: string, parallelism: number): Promise<void> {
    const rest = this.deps.flink.restUrl;
    let last = 'not yet known to the JobManager';
    await until(
      () => `direct job ${jobId} to run at parallelism ${parallelism} (last seen: ${last})`,
      async () => {
        const detail = await flinkJobDetail(rest, jobId).catch(() => undefined);
        if (!detail) return undefined;
        if (TERMINAL.has(detail.state)) {
          throw new Error(
            `direct job ${jobId} ended ${detail.state}: ${await flinkRootCause(rest, jobId).catch(() => '')}`,
          );
        }
        const widest = Math.max(...detail.vertices.map((v) => v.parallelism));
        last = `${detail.state}, vertices ${detail.vertices.map((v) => `${v.status}@${v.parallelism}`).join(' ')}`;
        const running = detail.state === 'RUNNING' && detail.vertices.every((v) => v.status === 'RUNNING');
        return running && widest === parallelism ? true : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 500 },
    );
  }

  /** Stops the live job with a savepoint (never draining) and waits until it has ended; returns the savepoint. */
  async stop(): Promise<string> {
    const rest = this.deps.flink.restUrl;
    const jobId = this.jobId!;
    const triggerId = hexId(`${this.#key}#${this.generation}#stop`);
    await stopWithSavepoint(rest, jobId, triggerId);
    const location = await waitSavepoint(rest, jobId, triggerId);
    this.savepoints.push(location);
    await until(
      `direct job ${jobId} to end`,
      async () => {
        const job = await findFlinkJob(rest, jobId);
        return !job || TERMINAL.has(job.state) ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    this.jobId = undefined;
    return location;
  }

  /** Stop with a savepoint, restore at `parallelism`, wait until Flink runs it so. */
  async restart(parallelism: number): Promise<{ from: string; to: string }> {
    const from = this.jobId!;
    const savepoint = await this.stop();
    const to = await this.submit(parallelism, savepoint);
    await this.awaitRunning(to, parallelism);
    return { from, to };
  }
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { rounds } = parseArgs(args);
  installWorkerRuntime({ forwardCoreLogs: true });
  const id = Date.now().toString(36);
  const taskQueue = `bench-rescale-${id}`;
  const env = parseEnv({ ...process.env, SLUICE_TASK_QUEUE: taskQueue });
  const deps = depsFromEnv(env, localSparkDefaults(env));
  const rest = deps.flink.restUrl;
  const topic = `bench-rescale-${id}`;
  const poolName = `bench-rescale-${id}`;

  // The page-views-live example pipeline, on the bench's own topic, pool and sinks, with short
  // windows and checkpoints so that each generation has state and commits while it runs.
  const specFor = (name: string) =>
    definePipeline({
      ...pageViewsLive,
      name,
      source: { ...pageViewsLive.source, topic },
      transform: { ...pageViewsLive.transform, window: { tumbling: '10 seconds' } },
      sink: { lake: true, kafka: { topic: `${name}-out` } },
      stream: {
        ...pageViewsLive.stream,
        pool: poolName,
        tenant: 'bench',
        parallelism: 1,
        checkpointInterval: '2 seconds',
        idleTimeout: '1 second',
        allowedLateness: '1 second',
      },
    });
  const sagaSpec = specFor(`bench-rs-${id}`);
  const directSpec = specFor(`bench-rd-${id}`);
  const names = [sagaSpec.name, directSpec.name];

  await ensureTopic(deps.kafka, topic, 2);
  for (const name of names) await ensureTopic(deps.kafka, `${name}-out`, 1);
  const generator = new EventGenerator(deps, topic);
  const direct = new DirectStream(deps, directSpec);

  let connection: Connection | undefined;
  let sluice: Awaited<ReturnType<typeof createSluiceWorker>> | undefined;
  let running: Promise<void> | undefined;
  let handle: WorkflowHandle<typeof streamingPipelineWorkflow> | undefined;
  let pool: WorkflowHandle | undefined;

  const samples = {
    sagaMs: [] as number[],
    directMs: [] as number[],
    pauseResumeGapMs: [] as number[],
    directGapMs: [] as number[],
  };
  try {
    connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
    sluice = await createSluiceWorker({ env, sparkDefaults: localSparkDefaults(env) });
    running = sluice.worker.run();
    // Awaited in the cleanup; until then a worker that fails shows as a stream that never gets RUNNING.
    running.catch(() => undefined);
    // Room for parallelism 1 and 2 at once: a rescale admits the new demand while the old grant is held.
    pool = await client.workflow.start(poolSchedulerWorkflow, {
      taskQueue: poolTaskQueue(env),
      workflowId: `pool/${poolName}`,
      args: [{ name: poolName, capacity: { cpu: 8, memoryMb: 8192 }, policy: { kind: 'fifo' } }],
    });
    await generator.start();
    say(`producing to ${topic}; starting ${streamWorkflowId(sagaSpec.name)} and the direct job ${directSpec.name}`);
    handle = await client.workflow.start(streamingPipelineWorkflow, {
      taskQueue,
      workflowId: streamWorkflowId(sagaSpec.name),
      args: [{ pipeline: sagaSpec }],
    });
    const stream = handle;
    const state = async (target: StreamState, intervalMs = 500) => {
      let last = 'no answer yet';
      return until(
        () => `${stream.workflowId} to be ${target} (is ${last})`,
        async () => {
          const s = await stream.query(streamStatus);
          last = `${s.state}${s.error ? `: ${s.error}` : ''}`;
          if (s.state === 'FAILED') throw new Error(`${stream.workflowId} FAILED: ${s.error ?? s.rootCause ?? '?'}`);
          return s.state === target ? s : undefined;
        },
        { timeoutMs: 300_000, intervalMs },
      );
    };
    const rescaleTo = (parallelism: number) =>
      stream.executeUpdate(rescale, { args: [{ parallelism }] }).catch((err: unknown) => {
        throw new Error(`the saga's rescale to ${parallelism} failed: ${rootCauseMessage(err)}`, { cause: err });
      });
    await state('RUNNING');
    await direct.awaitRunning(await direct.submit(1), 1);

    const saga = {
      name: 'saga',
      async rescaleMs(): Promise<number> {
        await state('RUNNING');
        const t0 = performance.now();
        const result = await rescaleTo(2);
        const ms = performance.now() - t0;
        if (Math.max(...result.vertexParallelism) !== 2) {
          throw new Error(`the saga's rescale reported vertices at ${result.vertexParallelism.join('/')}, not 2`);
        }
        await state('RUNNING');
        await rescaleTo(1); // back, not measured
        return ms;
      },
      async gapMs(): Promise<number> {
        const before = await state('RUNNING');
        await stream.signal(pause);
        // Polled often: the bench's own reaction to PAUSED is part of this gap.
        await state('PAUSED', 100);
        await stream.signal(resume);
        const after = await state('RUNNING', 100);
        return gapMs(rest, before.jobId!, after.jobId!);
      },
    };
    const plain = {
      name: 'direct',
      async rescaleMs(): Promise<number> {
        const t0 = performance.now();
        await direct.restart(2);
        const ms = performance.now() - t0;
        await direct.restart(1); // back, not measured
        return ms;
      },
      async gapMs(): Promise<number> {
        const { from, to } = await direct.restart(1);
        return gapMs(rest, from, to);
      },
    };

    for (let i = 1; i <= rounds; i++) {
      for (const side of [saga, plain]) {
        const ms = await side.rescaleMs();
        const gap = await side.gapMs();
        (side === saga ? samples.sagaMs : samples.directMs).push(ms);
        (side === saga ? samples.pauseResumeGapMs : samples.directGapMs).push(gap);
        say(`round ${i} ${side.name}: rescale 1 → 2 in ${(ms / 1000).toFixed(2)} s; no job running for ${gap} ms`);
      }
    }
  } finally {
    say('cleaning up');
    const quietly = async (what: string, p: Promise<unknown>) => {
      await p.catch((err: unknown) => say(`cleanup: ${what} failed: ${rootCauseMessage(err)}`));
    };
    await quietly('stopping the generator', generator.stop());
    const sagaSavepoints: string[] = [];
    if (handle) {
      const stream = handle;
      await quietly(
        `reading the savepoints of ${stream.workflowId}`,
        stream.query(savepoints).then((c) => {
          for (const s of c.savepoints) if (s.kind === 'savepoint') sagaSavepoints.push(s.path);
        }),
      );
      await quietly(`terminating ${stream.workflowId}`, stream.terminate('benchmark done'));
    }
    if (pool) await quietly('terminating the pool', pool.terminate('benchmark done'));
    // The worker stops before the sweep below, so that no activity still in flight submits a job after it.
    sluice?.worker.shutdown();
    if (running) await quietly('stopping the worker', running);
    await quietly(
      'cancelling the Flink jobs',
      listFlinkJobs(rest).then((jobs) =>
        Promise.all(
          jobs
            .filter((j) => names.some((n) => j.name.startsWith(`sluice:${n}#`)) && !TERMINAL.has(j.state))
            .map((j) => cancelFlinkJob(rest, j.jid)),
        ),
      ),
    );
    for (const location of [...sagaSavepoints, ...direct.savepoints]) {
      await quietly(`disposing ${location}`, disposeSavepoint(rest, location));
    }
    if (sluice) await quietly('closing the worker connection', sluice.connection.close());
    if (connection) await quietly('closing the client connection', connection.close());
  }

  const sagaMs = median(samples.sagaMs);
  const directMs = median(samples.directMs);
  return {
    bench: 'rescale',
    sagaMs: Math.round(sagaMs),
    directMs: Math.round(directMs),
    ratio: Number((sagaMs / directMs).toFixed(3)),
    pauseResumeGapMs: Math.round(median(samples.pauseResumeGapMs)),
    directGapMs: Math.round(median(samples.directGapMs)),
    rounds,
    samples: {
      sagaMs: samples.sagaMs.map(Math.round),
      directMs: samples.directMs.map(Math.round),
      pauseResumeGapMs: samples.pauseResumeGapMs,
      directGapMs: samples.directGapMs,
    },
  };
}
