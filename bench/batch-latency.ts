/**
 * `npm run bench -- batch-latency [--runs N] [--events N] [--skip-backfill]`: what the warm Spark
 * Connect server (`batch.engine: connect`) buys a batch pipeline.
 * - One small partition end to end through Sluice on connect (batchPipelineWorkflow: offsets,
 *   admission, the step on the Connect server, output validation) against the same step by plain
 *   spark-submit (the batch-overhead baseline: the same plan, the same command line, no Sluice),
 *   alternating in one run after a warm-up of each; medians.
 * - A 24-partition backfill (the hours of 2026-11-20) at concurrency 3 through Sluice, once on
 *   connect, once on submit, each into a table of its own; wall time.
 * Needs the local stack (`./sluice stack up`).
 */
import type { BatchEngine } from '../activities/batch';
import { partitionBounds, partitionsBetween } from '../lib/pipelines';
import { benchCommand, integer, parseBenchArgs } from './args';
import {
  alternate,
  BENCH_PARTITION,
  pageViewEvents,
  progressLine,
  withBatchBench,
  type BatchBench,
} from './batch-common';
import { median } from './stats';

const say = progressLine('batch-latency');

/** The backfilled range: the 24 hours of 2026-11-20 (UTC), over which the events are spread. */
const FROM = '2026-11-20T00';
const TO = '2026-11-20T23';
const CONCURRENCY = 3;

interface BatchLatencyArgs {
  runs: number;
  events: number;
  skipBackfill: boolean;
}

/** The options of `npm run bench -- batch-latency`; throws a `CommanderError` naming a bad one. */
export function parseArgs(args: readonly string[]): BatchLatencyArgs {
  const command = benchCommand(
    'batch-latency',
    'one partition through Sluice on Spark Connect against plain spark-submit, and a 24-partition backfill on connect and on submit (needs the stack)',
  )
    .option('--runs <n>', 'measured runs of each side (after one warm-up each)', integer(1), 5)
    .option('--events <n>', `Kafka events, spread evenly over the 24 hours ${FROM}..${TO}`, integer(24), 24_000)
    .option('--skip-backfill', 'measure the single partition only', false);
  return parseBenchArgs<BatchLatencyArgs>(command, args);
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { runs, events, skipBackfill } = parseArgs(args);
  const start = partitionBounds('hour', FROM).start;
  const end = partitionBounds('hour', TO).end;
  const produced = pageViewEvents(events, start, end - start);
  const partition = BENCH_PARTITION;
  const measured = partitionBounds('hour', partition);
  const partitionEvents = produced.filter((e) => e.ts >= measured.start && e.ts < measured.end).length;
  return withBatchBench({ name: 'batch-latency', events: produced }, async (bench) => {
    const connect = bench.pipeline(`bench-lc-${bench.id}`, 'connect');
    const [submitMs, connectMs] = await alternate(
      [
        { label: 'spark-submit', run: bench.plainSubmit(connect, partition) },
        { label: 'sluice connect', run: (tag) => bench.sluiceStep(connect, partition, tag) },
      ],
      runs,
      say,
    );
    // Connect first: its server is warm from the runs above either way, and submit starts a fresh
    // application per step whatever ran before.
    const backfillS = skipBackfill
      ? undefined
      : { connect: await backfill(bench, 'connect'), submit: await backfill(bench, 'submit') };
    const c = median(connectMs);
    const s = median(submitMs);
    return {
      bench: 'batch-latency',
      connectMs: Math.round(c),
      submitMs: Math.round(s),
      ratio: Number((c / s).toFixed(3)),
      backfill24ConnectS: backfillS ? seconds(backfillS.connect) : null,
      backfill24SubmitS: backfillS ? seconds(backfillS.submit) : null,
      backfillSpeedup: backfillS ? Number((backfillS.submit / backfillS.connect).toFixed(2)) : null,
      runs,
      events,
      partitionEvents,
      samples: { connectMs: connectMs.map(Math.round), submitMs: submitMs.map(Math.round) },
    };
  });
}

/** The backfill of FROM..TO at CONCURRENCY through Sluice on `engine`, into a pipeline of its own; its wall time in ms. */
async function backfill(bench: BatchBench, engine: BatchEngine): Promise<number> {
  const pipeline = bench.pipeline(`bench-b${engine === 'connect' ? 'c' : 's'}-${bench.id}`, engine);
  const total = partitionsBetween(pipeline.partitioning, FROM, TO).length;
  say(`backfill ${FROM}..${TO} (${total} partitions) at concurrency ${CONCURRENCY} on ${engine}`);
  const { ms, result } = await bench.backfill(pipeline, FROM, TO, CONCURRENCY);
  say(`backfill on ${engine}: ${result.done}/${result.total} partitions in ${seconds(ms)} s`);
  return ms;
}

const seconds = (ms: number) => Number((ms / 1000).toFixed(1));
