import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import * as fs from 'node:fs';
import {
  outsideSchedule,
  parsePipelineSpec,
  partitionBounds,
  partitionOf,
  partitionsBetween,
  isStreaming,
  type BatchPipelineSpec,
  type KappaPipelineSpec,
  type LambdaPipelineSpec,
  type PipelineSpec,
} from '../lib/pipelines';
import { SluiceKind, SluicePipeline, SluicePool, SluiceTenant } from '../lib/search-attributes';
import { getPipeline } from '../pipelines';
import { backfillWorkflow, backfillWorkflowId, batchPipelineWorkflow, batchWorkflowId } from '../workflows';
import {
  cancel,
  pause,
  poolState,
  progress,
  resume,
  status,
  type BackfillProgress,
  type BatchStatus,
} from '../workflows/messages';
import { rootCauseMessage } from '../lib/errors';
import { until } from '../lib/poll';
import { UsageError } from './errors';
import { printPool, withClient } from './pool';
import { requireWorker } from './worker-check';
import { parsePositiveInt } from './stack';
import type { Env } from '../config/env';
import { requireSourceMatchesTopic } from './source-schema';
import { isIntakeId, showIntakeStatus } from './intake';
import { requirePoolRunning } from './start-run';
import { isKappaId, showKappaStatus, startKappa } from './kappa';
import { controlLambda, isLambdaId, showLambdaStatus, startLambda } from './lambda';
import { controlStream, isStreamId, showStreamStatus, startStream } from './streams';

/**
 * Resolves a pipeline: a name from pipelines/index.ts, or a declarative spec in a JSON file
 * (`./my-pipeline.json`). An unknown or invalid one is a usage error naming the problem.
 */
function pipelineArg(name: string): PipelineSpec {
  try {
    if (name.endsWith('.json')) {
      let raw: unknown;
      try {
        raw = JSON.parse(fs.readFileSync(name, 'utf8'));
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}`);
      }
      return parsePipelineSpec(raw);
    }
    return getPipeline(name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A pipeline for `backfill`, which runs the partitions of a batch pipeline. */
function batchPipelineArg(name: string): BatchPipelineSpec {
  const spec = pipelineArg(name);
  if (spec.kind === 'batch') return spec;
  throw new UsageError(
    `${spec.name} is a ${spec.kind} pipeline: sluice backfill runs the partitions of a batch pipeline` +
      (spec.kind === 'lambda' ? ' (a lambda pipeline runs its batch partitions itself as they close)' : ''),
  );
}

/** A pipeline for `reprocess`: a Kappa pipeline. */
export function kappaPipelineArg(name: string): KappaPipelineSpec {
  const spec = pipelineArg(name);
  if (spec.kind === 'kappa') return spec;
  throw new UsageError(`${spec.name} is a ${spec.kind} pipeline: only kappa pipelines are reprocessed`);
}

/** A pipeline for `view`: a lambda or Kappa pipeline (only they have a serving view). */
export function viewPipelineArg(name: string): LambdaPipelineSpec | KappaPipelineSpec {
  const spec = pipelineArg(name);
  if (spec.kind === 'lambda' || spec.kind === 'kappa') return spec;
  throw new UsageError(`${spec.name} is a ${spec.kind} pipeline: only lambda and kappa pipelines have a serving view`);
}

function partitionArg(spec: PipelineSpec, partition: string, what = 'partition'): string {
  try {
    partitionBounds(spec.partitioning, partition);
  } catch (err) {
    throw new UsageError(`${what}: ${(err as Error).message}`);
  }
  const outside = outsideSchedule(spec, partition);
  if (outside) throw new UsageError(`${what}: ${outside}`);
  return partition;
}

/** The newest complete partition: the hour (or day) before the current one, in UTC. */
export function latestCompletePartition(spec: PipelineSpec, now = Date.now()): string {
  const current = partitionOf(spec.partitioning, now);
  return partitionOf(spec.partitioning, partitionBounds(spec.partitioning, current).start - 1);
}

export function registerPipelines(program: Command): void {
  program
    .command('run <pipeline>')
    .description(
      'run a batch pipeline for one partition, or start a streaming or lambda one, through admission; wait for it',
    )
    .option('--partition <id>', 'YYYY-MM-DDTHH (hourly) or YYYY-MM-DD (daily), UTC; default: the newest complete one')
    .option('--no-wait', 'start the run and print its workflow id (and fail at once when no worker polls)')
    .option('--json', 'print the result as JSON (a missing worker is an error, not a wait)')
    .option(
      '--from-savepoint <path>',
      "streaming: restore from this savepoint (default: the final savepoint of the stream's last cancelled run, if any)",
    )
    .option('--from-scratch', 'streaming: start from the beginning of the topic, ignoring any earlier savepoint')
    .action(
      async (
        name: string,
        opts: { partition?: string; wait: boolean; json?: boolean; fromSavepoint?: string; fromScratch?: boolean },
      ) => {
        const spec = pipelineArg(name);
        if (spec.kind === 'batch' && (opts.fromSavepoint || opts.fromScratch)) {
          throw new UsageError(`--from-savepoint/--from-scratch: ${spec.name} is a batch pipeline`);
        }
        if (opts.fromSavepoint && opts.fromScratch) {
          throw new UsageError('--from-savepoint and --from-scratch: give one or the other');
        }
        if (spec.kind === 'lambda') {
          if (opts.partition || opts.fromSavepoint || opts.fromScratch) {
            throw new UsageError(
              `--partition/--from-savepoint/--from-scratch: ${spec.name} is a lambda pipeline: it closes its partitions itself`,
            );
          }
          return withClient(async (client, env) => {
            await requireStartable(client, env, spec);
            await startLambda(client, env, spec, { ...opts, searchAttributes: searchAttributes(spec, 'lambda') });
          });
        }
        if (spec.kind === 'kappa') {
          if (opts.partition || opts.fromSavepoint || opts.fromScratch) {
            throw new UsageError(
              `--partition/--from-savepoint/--from-scratch: ${spec.name} is a kappa pipeline: sluice reprocess replays it`,
            );
          }
          return withClient(async (client, env) => {
            await requireStartable(client, env, spec);
            await startKappa(client, env, spec, { ...opts, searchAttributes: searchAttributes(spec, 'kappa') });
          });
        }
        if (isStreaming(spec)) {
          if (opts.partition)
            throw new UsageError(`--partition: ${spec.name} is a streaming pipeline: it has no partitions`);
          return withClient(async (client, env) => {
            await requireStartable(client, env, spec);
            await startStream(client, env, spec, { ...opts, searchAttributes: searchAttributes(spec, 'streaming') });
          });
        }
        const partition = opts.partition ? partitionArg(spec, opts.partition) : latestCompletePartition(spec);
        await withClient(async (client, env) => {
          await requireStartable(client, env, spec);
          await requireWorker(client, env, ['pipelines', 'pools'], { wait: opts.wait && !opts.json });
          const workflowId = batchWorkflowId(spec.name, partition);
          let handle;
          try {
            handle = await client.workflow.start(batchPipelineWorkflow, {
              taskQueue: env.SLUICE_TASK_QUEUE,
              workflowId,
              args: [{ pipeline: spec, partition }],
              // A partition can be run again (a retry of a failed one), but not twice at once.
              workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
              typedSearchAttributes: searchAttributes(spec, 'batch'),
              staticSummary: `${spec.name} partition ${partition}`,
            });
          } catch (err) {
            if (err instanceof WorkflowExecutionAlreadyStartedError) {
              throw new Error(`${workflowId} is already running (sluice status ${workflowId})`);
            }
            throw err;
          }
          process.stderr.write(`sluice: started ${workflowId}\n`);
          if (!opts.wait) {
            process.stdout.write(`${workflowId}\n`);
            return;
          }
          try {
            const result = await handle.result();
            process.stdout.write(
              opts.json
                ? `${JSON.stringify(result)}\n`
                : `${workflowId}: ${result.state}${result.rows !== undefined ? `, ${result.rows} rows in ${result.table} (snapshot ${result.snapshotId ?? 'none'})` : ''}\n`,
            );
          } catch (err) {
            if (err instanceof WorkflowFailedError) {
              throw new Error(`${workflowId} failed: ${rootCauseMessage(err)}`);
            }
            throw err;
          }
        });
      },
    );

  program
    .command('backfill <pipeline>')
    .description('run a batch pipeline for every partition of a range, N at a time, each through admission')
    .requiredOption('--from <partition>', 'first partition (inclusive)')
    .requiredOption('--to <partition>', 'last partition (inclusive)')
    .option('--concurrency <n>', 'partitions running at once', parsePositiveInt, 3)
    .option('--dry-run', 'list the partitions and start nothing')
    .option('--detach', 'start it and return (follow with sluice status); fail at once when no worker polls')
    .action(
      async (
        name: string,
        opts: { from: string; to: string; concurrency: number; dryRun?: boolean; detach?: boolean },
      ) => {
        const spec = batchPipelineArg(name);
        partitionArg(spec, opts.from, '--from');
        partitionArg(spec, opts.to, '--to');
        let partitions: string[];
        try {
          partitions = partitionsBetween(spec.partitioning, opts.from, opts.to);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        const workflowId = backfillWorkflowId(spec.name, opts.from, opts.to);
        if (opts.dryRun) {
          process.stdout.write(
            `${workflowId}: ${partitions.length} partitions, ${opts.concurrency} at a time, pool ${spec.batch.pool}\n` +
              `${partitions.join('\n')}\n`,
          );
          return;
        }
        await withClient(async (client, env) => {
          await requireStartable(client, env, spec);
          await requireWorker(client, env, ['pipelines', 'pools'], { wait: !opts.detach });
          try {
            await client.workflow.start(backfillWorkflow, {
              taskQueue: env.SLUICE_TASK_QUEUE,
              workflowId,
              args: [{ pipeline: spec, from: opts.from, to: opts.to, concurrency: opts.concurrency }],
              typedSearchAttributes: searchAttributes(spec, 'backfill'),
              staticSummary: `backfill ${spec.name} ${opts.from}..${opts.to} (${partitions.length} partitions, ${opts.concurrency} at a time)`,
            });
          } catch (err) {
            if (err instanceof WorkflowExecutionAlreadyStartedError) {
              throw new Error(`${workflowId} is already running (sluice status ${workflowId})`);
            }
            throw err;
          }
          process.stderr.write(`sluice: started ${workflowId}\n`);
          if (opts.detach) {
            process.stdout.write(`${workflowId}\n`);
            return;
          }
          const final = await followBackfill(client, workflowId, partitions.length);
          process.stdout.write(`${describeBackfill(final)}\n`);
          if (final.failed.length > 0 || final.cancelled.length > 0) process.exitCode = 1;
        });
      },
    );

  for (const [verb, what] of [
    ['pause', 'finish the current step, then wait (a backfill starts no new partition; a stream takes a savepoint)'],
    ['resume', 'go on after a pause (a stream from its savepoint)'],
    ['cancel', 'kill the running engine job, release the grant, mark the run cancelled (a stream: after a savepoint)'],
  ] as const) {
    const command = program
      .command(`${verb} <workflowId>`)
      .description(what)
      .option('--no-wait', 'do not wait for a worker (fail at once when none polls), nor for a stream to get there')
      .option('--json', "a stream's new status as JSON (a missing worker is an error, not a wait)");
    if (verb === 'cancel') command.option('--no-savepoint', 'cancel a stream without a final savepoint');
    command.action(async (workflowId: string, opts: { wait: boolean; json?: boolean; savepoint?: boolean }) => {
      if (isStreamId(workflowId)) return controlStream(verb, workflowId, opts);
      if (isLambdaId(workflowId) || isKappaId(workflowId) || isIntakeId(workflowId)) {
        return controlLambda(verb, workflowId, opts);
      }
      await withClient(async (client, env) => {
        const type = await runType(client, workflowId);
        if (type !== 'batchPipelineWorkflow' && type !== 'backfillWorkflow') {
          throw new UsageError(`${workflowId} is a ${type}, not a batch run or a backfill`);
        }
        // The server takes the signal either way; only a worker acts on it.
        await requireWorker(client, env, ['pipelines'], { wait: opts.wait });
        const handle = client.workflow.getHandle(workflowId);
        if (verb === 'pause') await handle.signal(pause);
        else if (verb === 'resume') await handle.signal(resume);
        else await handle.signal(cancel, { reason: 'cancelled with sluice cancel' });
        process.stderr.write(`sluice: ${verb} sent to ${workflowId}\n`);
      });
    });
  }

  program
    .command('status <workflowId>')
    .description('state and progress of a batch run, backfill, stream, lambda or Kappa pipeline, intake or pool')
    .option('--json', 'print the status query as JSON (implies --no-wait)')
    .option('--no-wait', 'do not wait for a worker: fail at once when none polls')
    .action(async (workflowId: string, opts: { json?: boolean; wait: boolean }) => {
      if (isStreamId(workflowId)) return showStreamStatus(workflowId, opts);
      if (isLambdaId(workflowId)) return showLambdaStatus(workflowId, opts);
      if (isKappaId(workflowId)) return showKappaStatus(workflowId, opts);
      if (isIntakeId(workflowId)) return showIntakeStatus(workflowId, opts);
      await withClient(async (client, env) => {
        const type = await runType(client, workflowId);
        const queue = type === 'poolSchedulerWorkflow' ? 'pools' : 'pipelines';
        // A query needs a worker to answer it: without one it would hang.
        await requireWorker(client, env, [queue], { wait: opts.wait && !opts.json });
        const handle = client.workflow.getHandle(workflowId);
        const out =
          type === 'batchPipelineWorkflow'
            ? await handle.query(status)
            : type === 'backfillWorkflow'
              ? await handle.query(progress)
              : type === 'poolSchedulerWorkflow'
                ? await handle.query(poolState)
                : undefined;
        if (out === undefined)
          throw new UsageError(
            `${workflowId} is a ${type}: sluice status knows batch runs, backfills, streams and pools`,
          );
        if (opts.json) return void process.stdout.write(`${JSON.stringify(out)}\n`);
        if (type === 'backfillWorkflow')
          return void process.stdout.write(`${describeBackfill(out as BackfillProgress)}\n`);
        if (type === 'poolSchedulerWorkflow') return void process.stdout.write(`${printPool(out as never)}\n`);
        const s = out as BatchStatus;
        process.stdout.write(
          [
            `${workflowId}: ${s.state}${s.paused ? ' (paused)' : ''}, step ${s.progress.step} (${s.progress.done}/${s.progress.total})`,
            s.engine ? `engine ${s.engine}${s.operationId ? `, operation ${s.operationId}` : ''}` : undefined,
            s.applicationId ? `Spark application ${s.applicationId}` : undefined,
            s.sparkUi ? `Spark UI: ${s.sparkUi}` : undefined,
            s.rows !== undefined
              ? `${s.rows} rows in ${s.table} partition ${s.partition} (snapshot ${s.snapshotId ?? 'none'})`
              : undefined,
            s.error ? `error: ${s.error}` : undefined,
          ]
            .filter(Boolean)
            .join('\n') + '\n',
        );
      });
    });
}

/** The pool and tenant a pipeline's runs are admitted under: its `batch` or its `stream` settings (a lambda's stream's). */
const admission = (spec: PipelineSpec) => (spec.kind === 'batch' ? spec.batch : spec.stream);

function searchAttributes(spec: PipelineSpec, kind: string) {
  return [
    { key: SluicePipeline, value: spec.name },
    { key: SluiceKind, value: kind },
    { key: SluicePool, value: admission(spec).pool },
    { key: SluiceTenant, value: admission(spec).tenant },
  ];
}

/**
 * What a run needs before it starts: its pools running (it would wait on them forever), and a Kafka
 * source whose topic an intake registered read with the topic's columns (it would read nulls or
 * fail mid-way otherwise). Refused with the differing columns named; nothing is started.
 */
async function requireStartable(client: Client, env: Env, spec: PipelineSpec): Promise<void> {
  // The spec's own fault first (exit 2), then the deployment's (a pool to create).
  await requireSourceMatchesTopic(env, spec);
  await requirePool(client, spec);
}

/** A run waits forever on a pool nobody runs: refuse to start it. */
async function requirePool(client: Client, spec: PipelineSpec): Promise<void> {
  // A lambda pipeline's layers may use two pools: both must run.
  for (const pool of new Set([admission(spec).pool, ...(spec.kind === 'lambda' ? [spec.batch.pool] : [])])) {
    await requirePoolRunning(client, pool, `pipeline ${spec.name}`);
  }
}

async function runType(client: Client, workflowId: string): Promise<string> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).type;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UsageError(`no workflow ${workflowId}`);
    throw err;
  }
}

async function followBackfill(client: Client, workflowId: string, total: number): Promise<BackfillProgress> {
  const handle = client.workflow.getHandle(workflowId);
  const bar = new SingleBar({
    format: 'backfill [{bar}] {value}/{total} done | {running} running | {failed} failed',
    noTTYOutput: true,
    notTTYSchedule: 10_000,
    stream: process.stderr,
  });
  bar.start(total, 0, { running: 0, failed: 0 });
  try {
    return await until(
      `backfill ${workflowId} to end`,
      async () => {
        const described = await handle.describe();
        const p = await handle.query(progress);
        bar.update(p.done + p.failed.length + p.cancelled.length, {
          running: p.running.length,
          failed: p.failed.length,
        });
        return described.status.name === 'RUNNING' ? undefined : ((await handle.result()) as BackfillProgress);
      },
      // A backfill may run for days: the follower waits as long as it runs.
      { timeoutMs: Infinity, intervalMs: 1000 },
    );
  } finally {
    bar.stop();
  }
}

function describeBackfill(p: BackfillProgress): string {
  const lines = [
    `backfill ${p.pipeline} ${p.from}..${p.to}: ${p.done}/${p.total} done, ${p.running.length} running, ` +
      `${p.failed.length} failed, ${p.cancelled.length} cancelled, ${p.remaining} remaining${p.paused ? ' (paused)' : ''}`,
  ];
  for (const f of p.failed) lines.push(`  failed ${f.partition}: ${f.error ?? 'unknown error'}`);
  if (p.failed.length > 0)
    lines.push(`  retry one alone: sluice run ${p.pipeline} --partition ${p.failed[0]!.partition}`);
  return lines.join('\n');
}
