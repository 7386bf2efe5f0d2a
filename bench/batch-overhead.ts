/**
 * `npm run bench -- batch-overhead [--runs N] [--events N]`: Sluice's overhead over spark-submit on
 * the submit path. The same step through Sluice (batchPipelineWorkflow on `batch.engine: submit`:
 * offsets, admission, the Spark activity, output validation) and by plain spark-submit (the same
 * plan, the very command line the activity runs), alternating in one run; medians.
 * Needs the local stack (`./sluice stack up`).
 */
import { partitionBounds } from '../lib/pipelines';
import { benchCommand, integer, parseBenchArgs } from './args';
import { alternate, BENCH_PARTITION, pageViewEvents, progressLine, withBatchBench } from './batch-common';
import { median } from './stats';

const say = progressLine('batch-overhead');

interface BatchOverheadArgs {
  runs: number;
  events: number;
}

/** The options of `npm run bench -- batch-overhead`; throws a `CommanderError` naming a bad one. */
export function parseArgs(args: readonly string[]): BatchOverheadArgs {
  const command = benchCommand(
    'batch-overhead',
    'one Spark step through Sluice (engine submit) against plain spark-submit (needs the stack)',
  )
    .option('--runs <n>', 'measured runs of each side (after one warm-up each)', integer(1), 5)
    .option('--events <n>', 'Kafka events the step reads, all in its partition', integer(1), 20_000);
  return parseBenchArgs<BatchOverheadArgs>(command, args);
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { runs, events } = parseArgs(args);
  const partition = BENCH_PARTITION;
  const { start, end } = partitionBounds('hour', partition);
  return withBatchBench(
    { name: 'batch-overhead', events: pageViewEvents(events, start, end - start) },
    async (bench) => {
      const pipeline = bench.pipeline(`bench-${bench.id}`, 'submit');
      const [plainMs, sluiceMs] = await alternate(
        [
          { label: 'spark-submit', run: bench.plainSubmit(pipeline, partition) },
          { label: 'sluice', run: (tag) => bench.sluiceStep(pipeline, partition, tag) },
        ],
        runs,
        say,
      );
      const s = median(sluiceMs);
      const p = median(plainMs);
      return {
        bench: 'batch-overhead',
        sluiceMs: Math.round(s),
        sparkSubmitMs: Math.round(p),
        ratio: Number((s / p).toFixed(3)),
        runs,
        events,
        samples: { sluiceMs: sluiceMs.map(Math.round), sparkSubmitMs: plainMs.map(Math.round) },
      };
    },
  );
}
