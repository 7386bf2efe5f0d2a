import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowIdReusePolicy, type SearchAttributePair } from '@temporalio/common';
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { Env } from '../config/env';
import { rootCauseMessage } from '../lib/errors';
import { NAME_PATTERN } from '../lib/names';
import type { StreamingPipelineSpec } from '../lib/pipelines';
import { until } from '../lib/poll';
import {
  cancelStream,
  pause,
  rescale,
  resume,
  savepoint,
  savepoints,
  streamStatus,
  streamWorkflowId,
  type SavepointCatalogue,
  type StreamState,
  type StreamStatus,
} from '../workflows/messages';
import { streamingPipelineWorkflow, type StreamingPipelineResult } from '../workflows';
import { plain } from './table-style';
import { UsageError } from './errors';
import { withClient } from './pool';
import { parsePositiveInt } from './stack';
import { requireWorker } from './worker-check';

/*
 * The CLI of streaming pipelines (docs/architecture.md#streaming-pipelines): `run` of a streaming
 * spec, `pause`, `resume`, `cancel` and `status` of a `stream/<pipeline>` id (routed here from
 * cli/pipelines.ts), and `rescale`, `savepoint`, `savepoints`. Argument parsing and printing only:
 * the workflow does the work.
 */

/** How long `run`, `pause`, `resume` and `cancel` wait for the state they asked for. */
const WAIT_MS = 5 * 60_000;

/** The pipeline name of a stream id (`stream/<pipeline>`); a {@link UsageError} naming the id otherwise. */
export function parseStreamId(id: string): string {
  const prefix = streamWorkflowId('');
  const pipeline = id.startsWith(prefix) ? id.slice(prefix.length) : undefined;
  if (pipeline === undefined || !NAME_PATTERN.test(pipeline)) {
    throw new UsageError(
      `${JSON.stringify(id)} is not a stream id: expected ${prefix}<pipeline>, the pipeline's name matching ${NAME_PATTERN.source}`,
    );
  }
  return pipeline;
}

/** Whether a workflow id names a stream (the batch commands route these here). */
export const isStreamId = (id: string) => id.startsWith(streamWorkflowId(''));

export interface StreamHandle {
  id: string;
  pipeline: string;
  handle: WorkflowHandle<typeof streamingPipelineWorkflow>;
  /** The workflow's close status (`COMPLETED`, `TERMINATED`...) when it has ended. */
  ended?: string;
}

/**
 * Validates a stream id and describes its workflow: an unknown one is an error saying how to start
 * it, and one that has ended is refused unless `allowEnded` (its status can still be queried).
 */
export async function streamHandle(
  client: Client,
  id: string,
  { allowEnded = false }: { allowEnded?: boolean } = {},
): Promise<StreamHandle> {
  const pipeline = parseStreamId(id);
  const handle = client.workflow.getHandle<typeof streamingPipelineWorkflow>(id);
  let described;
  try {
    described = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new UsageError(`no streaming pipeline ${id} (start it with sluice run ${pipeline})`);
    }
    throw err;
  }
  if (described.type !== streamingPipelineWorkflow.name)
    throw new UsageError(`${id} is a ${described.type}, not a stream`);
  const ended = described.status.name === 'RUNNING' ? undefined : described.status.name;
  if (ended && !allowEnded) {
    throw new Error(
      `${id} has ended (workflow ${ended}${described.closeTime ? ` at ${described.closeTime.toISOString()}` : ''}): ` +
        `start it again with sluice run ${pipeline}`,
    );
  }
  return { id, pipeline, handle, ended };
}

export interface StartStreamOptions {
  /** The run's typed search attributes (cli/pipelines.ts `searchAttributes`, kind `streaming`). */
  searchAttributes: SearchAttributePair[];
  wait: boolean;
  json?: boolean;
  /** Restore from this savepoint. */
  fromSavepoint?: string;
  /** Ignore the last run's final savepoint. */
  fromScratch?: boolean;
}

/**
 * Where a new run of a stream starts: the savepoint asked for, else the final savepoint of the
 * stream's last run if it was cancelled with one (as the Flink Kubernetes Operator restores a
 * re-created job from its last savepoint), else the beginning of the topic.
 */
async function startingPoint(client: Client, id: string, opts: StartStreamOptions): Promise<string | undefined> {
  if (opts.fromScratch) return undefined;
  if (opts.fromSavepoint) return opts.fromSavepoint;
  try {
    const last = client.workflow.getHandle(id);
    const d = await last.describe();
    if (d.status.name !== 'COMPLETED') return undefined;
    return ((await last.result()) as StreamingPipelineResult | undefined)?.savepoint;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/**
 * `sluice run` of a streaming spec (its pool checked by the caller): starts `stream/<pipeline>`
 * and, unless `--no-wait`, returns once the stream reports RUNNING.
 */
export async function startStream(
  client: Client,
  env: Env,
  spec: StreamingPipelineSpec,
  opts: StartStreamOptions,
): Promise<void> {
  await requireWorker(client, env, ['pipelines', 'pools'], { wait: opts.wait && !opts.json });
  const id = streamWorkflowId(spec.name);
  const restoreFrom = await startingPoint(client, id, opts);
  if (restoreFrom) process.stderr.write(`sluice: ${id} restores from ${restoreFrom}\n`);
  let handle;
  try {
    handle = await client.workflow.start(streamingPipelineWorkflow, {
      taskQueue: env.SLUICE_TASK_QUEUE,
      workflowId: id,
      args: [{ pipeline: spec, restoreFrom }],
      // A cancelled stream may be started again; a running one is refused (the server's own check).
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      typedSearchAttributes: opts.searchAttributes,
      staticSummary: `stream ${spec.name}: Flink at parallelism ${spec.stream.parallelism} on pool ${spec.stream.pool}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new Error(`${id} is already running (sluice status ${id})`, { cause: err });
    }
    throw err;
  }
  process.stderr.write(`sluice: started ${id}\n`);
  if (!opts.wait) {
    process.stdout.write(opts.json ? `${JSON.stringify({ workflowId: id })}\n` : `${id}\n`);
    return;
  }
  const s = await waitForState({ id, pipeline: spec.name, handle }, 'RUNNING');
  process.stdout.write(
    opts.json
      ? `${JSON.stringify(s)}\n`
      : `${id}: RUNNING, job ${s.jobId ?? '?'} at parallelism ${s.parallelism}${s.jobUrl ? ` (${s.jobUrl})` : ''}\n`,
  );
}

/**
 * Polls the stream's `status` query until its state is `target`. A FAILED stream, or a workflow
 * that ends meanwhile, ends the wait with its error.
 */
async function waitForState(stream: StreamHandle, target: StreamState): Promise<StreamStatus> {
  let seen: StreamState | undefined;
  return until(
    () =>
      `${stream.id} to be ${target}` +
      (seen ? ` (it is ${seen}; it goes on: sluice status ${stream.id})` : ' (no answer to its status query yet)'),
    async () => {
      const described = await stream.handle.describe();
      if (described.status.name !== 'RUNNING') {
        await endedError(stream);
        throw new Error(`${stream.id} ended (workflow ${described.status.name}) before it was ${target}`);
      }
      const s = await stream.handle.query(streamStatus);
      seen = s.state;
      if (s.state === target) return s;
      if (s.state === 'FAILED' && target !== 'FAILED') throw new Error(`${stream.id} failed: ${failure(s)}`);
      return undefined;
    },
    { timeoutMs: WAIT_MS, intervalMs: 1000 },
  );
}

/** Throws the root cause of a workflow that failed; returns its result when it completed. */
async function endedError(stream: StreamHandle) {
  try {
    return await stream.handle.result();
  } catch (err) {
    if (err instanceof WorkflowFailedError)
      throw new Error(`${stream.id} failed: ${rootCauseMessage(err)}`, { cause: err });
    throw err;
  }
}

const failure = (s: StreamStatus) => s.error ?? s.rootCause ?? 'no error recorded';

export type StreamVerb = 'pause' | 'resume' | 'cancel';

/**
 * Why `verb` cannot apply to a stream in `state` (the command then changes nothing), or undefined
 * when it can. States between steps (STARTING, RESCALING...) take the signal: the workflow acts on
 * it once the step is done.
 */
export function refusal(id: string, verb: StreamVerb, state: StreamState): string | undefined {
  const over = state === 'FAILED' || state === 'CANCELLED' || state === 'CANCELLING';
  if (verb === 'pause') {
    if (state === 'PAUSED' || state === 'PAUSING')
      return `${id} is already ${state === 'PAUSED' ? 'paused' : 'pausing'}`;
    if (over) return `${id} is ${state}: nothing to pause`;
  } else if (verb === 'resume') {
    if (state !== 'PAUSED') return `${id} is ${state}, not paused: nothing to resume`;
  } else if (over) {
    return `${id} is ${state}: nothing to cancel${state === 'CANCELLING' ? ` (follow it with sluice status ${id})` : ''}`;
  }
  return undefined;
}

export interface ControlOptions {
  /** False with `--no-wait`: do not wait for a worker, nor for the new state. */
  wait: boolean;
  json?: boolean;
  /** `cancel --no-savepoint` sets it false. */
  savepoint?: boolean;
}

/** `sluice pause|resume|cancel stream/<p>`: refuse what cannot apply, signal, wait for the new state. */
export async function controlStream(verb: StreamVerb, id: string, opts: ControlOptions): Promise<void> {
  parseStreamId(id);
  await withClient(async (client, env) => {
    const stream = await streamHandle(client, id);
    await requireWorker(client, env, ['pipelines', 'pools'], { wait: opts.wait && !opts.json });
    const before = await stream.handle.query(streamStatus);
    const refused = refusal(id, verb, before.state);
    if (refused) throw new Error(refused);
    if (verb === 'pause') await stream.handle.signal(pause);
    else if (verb === 'resume') await stream.handle.signal(resume);
    else {
      await stream.handle.signal(cancelStream, {
        reason: 'cancelled with sluice cancel',
        savepoint: opts.savepoint ?? true,
      });
    }
    process.stderr.write(`sluice: ${verb} sent to ${id} (it was ${before.state})\n`);
    if (!opts.wait) {
      if (opts.json) process.stdout.write(`${JSON.stringify({ workflowId: id, signal: verb })}\n`);
      return;
    }
    if (verb === 'cancel') {
      const result = await until(
        `${id} to end`,
        async () => ((await stream.handle.describe()).status.name === 'RUNNING' ? undefined : endedError(stream)),
        { timeoutMs: WAIT_MS, intervalMs: 1000 },
      );
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(result)}\n`
          : `${id}: ${result.state}${result.savepoint ? `, final savepoint ${result.savepoint}` : ', no final savepoint'}\n`,
      );
      return;
    }
    const s = await waitForState(stream, verb === 'pause' ? 'PAUSED' : 'RUNNING');
    process.stdout.write(
      opts.json
        ? `${JSON.stringify(s)}\n`
        : verb === 'pause'
          ? `${id}: PAUSED${s.lastSavepoint ? `, savepoint ${s.lastSavepoint.path}` : ''}\n`
          : `${id}: RUNNING, job ${s.jobId ?? '?'} at parallelism ${s.parallelism}\n`,
    );
  });
}

/** `sluice status stream/<p>`: the `status` query, of a running stream or of one that has ended. */
export async function showStreamStatus(id: string, opts: { json?: boolean; wait: boolean }): Promise<void> {
  parseStreamId(id);
  await withClient(async (client, env) => {
    const stream = await streamHandle(client, id, { allowEnded: true });
    // A query needs a worker to answer it (an ended workflow's too: it is replayed).
    await requireWorker(client, env, ['pipelines', 'pools'], { wait: opts.wait && !opts.json });
    const s = await stream.handle.query(streamStatus);
    if (opts.json) return void process.stdout.write(`${JSON.stringify(s)}\n`);
    process.stdout.write(`${renderStreamStatus(id, s)}\n${stream.ended ? `workflow ${stream.ended}\n` : ''}`);
  });
}

/** A duration for people: `4.2 s`, `12 min`, `3.5 h`, `7 d`. */
function duration(ms: number): string {
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 2 * 3600) return `${Math.round(s / 60)} min`;
  if (s < 2 * 86_400) return `${(s / 3600).toFixed(1)} h`;
  return `${Math.round(s / 86_400)} d`;
}

/** How long ago epoch ms `t` was (never negative: the server's clock may run ahead of ours). */
const ago = (t: number, now: number) => `${duration(Math.max(0, now - t))} ago`;

/** Events shown by `sluice status` (the workflow keeps more; `--json` prints them all). */
const EVENTS_SHOWN = 5;

/** The human form of a stream's status. */
export function renderStreamStatus(id: string, s: StreamStatus, now = Date.now()): string {
  const row = (label: string, value: string | undefined) =>
    value === undefined ? [] : [`  ${label.padEnd(16)}${value}`];
  const checkpoint = s.lastCheckpoint;
  const sp = s.lastSavepoint;
  const events = s.events.slice(-EVENTS_SHOWN);
  return [
    `${id}: ${s.state}, generation ${s.generation}${s.operation ? ` (${s.operation})` : ''}`,
    ...row('job', s.jobId ? `${s.jobId}${s.jobName ? ` (${s.jobName})` : ''}` : 'none'),
    ...row('Flink state', s.flinkState ?? '-'),
    ...row('parallelism', `${s.parallelism} (max ${s.maxParallelism})`),
    ...row('lag', s.lag === undefined ? 'unknown' : `${s.lag} records`),
    ...row(
      'last checkpoint',
      checkpoint
        ? `${checkpoint.id}, ${ago(checkpoint.at, now)}${checkpoint.path ? ` (${checkpoint.path})` : ''}`
        : 'none',
    ),
    ...row(
      'last savepoint',
      sp ? `${sp.path} (${sp.reason}, generation ${sp.generation}, ${ago(sp.takenAt, now)})` : 'none',
    ),
    ...row('restarts', `${s.flinkRestarts} by Flink, ${s.recoveryAttempts} recovery attempts by Sluice`),
    ...row('root cause', s.rootCause),
    ...row('error', s.error),
    ...row('job URL', s.jobUrl),
    events.length === 0 ? '  no events' : `  events (last ${events.length} of ${s.events.length}):`,
    ...events.map((e) => `    ${new Date(e.at).toISOString()}  ${e.what}`),
  ].join('\n');
}

/** The human form of a stream's savepoint catalogue: a summary line and a table, newest last. */
export function renderSavepoints(id: string, c: SavepointCatalogue, tableStyle = plain()): string {
  const retain = `retain ${c.retain.count}${c.retain.maxAgeMs !== undefined ? ` for at most ${duration(c.retain.maxAgeMs)}` : ''}`;
  const head = `${id}: ${c.savepoints.length} savepoint${c.savepoints.length === 1 ? '' : 's'} (${retain}), ${c.disposed} disposed`;
  if (c.savepoints.length === 0) return `${head}\nno savepoints yet`;
  const table = new Table({
    head: ['path', 'kind', 'reason', 'generation', 'taken at', 'restorable', 'pinned'],
    ...tableStyle,
  });
  for (const r of c.savepoints) {
    table.push([
      r.path,
      r.kind,
      r.reason,
      r.generation,
      new Date(r.takenAt).toISOString(),
      r.restorable === undefined ? 'unchecked' : r.restorable ? 'yes' : `no: ${r.unrestorableBecause ?? 'unknown why'}`,
      r.pinned ? 'yes' : 'no',
    ]);
  }
  return `${head}\n${table.toString()}`;
}

/** An update that failed (its validator refused it, or it rolled back): `what failed: <root cause>`. */
async function update<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError)
      throw new Error(`${what} failed: ${rootCauseMessage(err)}`, { cause: err });
    throw err;
  }
}

/** The commands only streams have: `rescale`, `savepoint`, `savepoints`. */
export function registerStreams(program: Command): void {
  program
    .command('rescale <streamId>')
    .description("change a running stream's parallelism: savepoint, restore at the new one (rolled back if it fails)")
    .requiredOption('--parallelism <n>', "the new parallelism (1 to the stream's maxParallelism)", parsePositiveInt)
    .option('--json', "print the update's result as JSON (a missing worker is an error, not a wait)")
    .option('--no-wait', 'do not wait for a worker: fail at once when none polls')
    .action(async (id: string, opts: { parallelism: number; json?: boolean; wait: boolean }) => {
      parseStreamId(id);
      await withClient(async (client, env) => {
        const { handle } = await streamHandle(client, id);
        await requireWorker(client, env, ['pipelines', 'pools'], { wait: opts.wait && !opts.json });
        const r = await update('rescale', () =>
          handle.executeUpdate(rescale, { args: [{ parallelism: opts.parallelism }] }),
        );
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(r)}\n`
            : `${id}: parallelism ${r.from} → ${r.to} (job ${r.jobId}, restored from ${r.savepoint})\n`,
        );
      });
    });

  program
    .command('savepoint <streamId>')
    .description('take a savepoint of a running stream now (it keeps running), and print its path')
    .option('--json', 'print its catalogue entry as JSON (a missing worker is an error, not a wait)')
    .option('--no-wait', 'do not wait for a worker: fail at once when none polls')
    .action(async (id: string, opts: { json?: boolean; wait: boolean }) => {
      parseStreamId(id);
      await withClient(async (client, env) => {
        const { handle } = await streamHandle(client, id);
        await requireWorker(client, env, ['pipelines', 'pools'], { wait: opts.wait && !opts.json });
        const r = await update('savepoint', () => handle.executeUpdate(savepoint));
        process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `${r.path}\n`);
      });
    });

  program
    .command('savepoints <streamId>')
    .description("a stream's savepoint catalogue: path, kind, reason, generation, when, restorable, pinned")
    .option('--json', 'print the savepoints query as JSON (a missing worker is an error, not a wait)')
    .option('--no-wait', 'do not wait for a worker: fail at once when none polls')
    .action(async (id: string, opts: { json?: boolean; wait: boolean }) => {
      parseStreamId(id);
      await withClient(async (client, env) => {
        const { handle } = await streamHandle(client, id, { allowEnded: true });
        await requireWorker(client, env, ['pipelines', 'pools'], { wait: opts.wait && !opts.json });
        const c = await handle.query(savepoints);
        process.stdout.write(opts.json ? `${JSON.stringify(c)}\n` : `${renderSavepoints(id, c)}\n`);
      });
    });
}
