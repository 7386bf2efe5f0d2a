/**
 * An example of a pipeline written as a Temporal workflow of its own, on Sluice's building blocks
 * (docs/custom-workflows.md). Run it in the Sluice worker with
 * `sluice worker --workflows pipelines/workflows` and start it like any workflow
 * (`temporal workflow start --type repairWhereDiffersWorkflow --task-queue sluice --input '{...}'`).
 *
 * "Trust the stream, repair where it differs": the speed layer (Flink) serves every partition of
 * the range; once they have all closed, a Spark step computes each partition, the check compares
 * it with the stream layer, and only the partitions where they differ are recomputed into the
 * serving view from the batch side (one Iceberg commit each). Consistent partitions stay served
 * by the stream, so Spark's output replaces nothing it agrees with.
 */
import { ApplicationFailure, condition } from '@temporalio/workflow';
import {
  checkPartition,
  isClosed,
  lambdaKeys,
  lambdaLayers,
  mergedColumns,
  nextPartition,
  parsePipelineSpec,
  ServingView,
  sparkStep,
  startStreamLayer,
  tagPipeline,
  type CheckFigures,
  type LambdaPipelineSpec,
} from 'sluice/workflow';

export interface RepairWhereDiffersInput {
  /** A lambda spec: its computation, both layers' settings, and `schedule` (the range, with an end). */
  pipeline: LambdaPipelineSpec;
  /** How often the stream layer's progress is read, in ms. @default 2000 */
  pollMs?: number;
}

export interface RepairedPartition {
  partition: string;
  servedBy: 'stream' | 'batch';
  check: CheckFigures;
}

export interface RepairWhereDiffersResult {
  pipeline: string;
  partitions: RepairedPartition[];
  viewSnapshot?: string;
}

export async function repairWhereDiffersWorkflow(input: RepairWhereDiffersInput): Promise<RepairWhereDiffersResult> {
  // Specs arrive as JSON: validate them in the workflow. A bad one fails the run, naming the field
  // (an ApplicationFailure fails the workflow; any other error would only fail its task, retried).
  let spec;
  try {
    spec = parsePipelineSpec(input.pipeline);
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, 'InvalidPipelineSpec');
  }
  if (spec.kind !== 'lambda' || spec.schedule.end === undefined) {
    throw ApplicationFailure.nonRetryable(
      'pipeline: expected a lambda spec whose schedule has an end',
      'InvalidPipelineSpec',
    );
  }
  const { end } = spec.schedule;
  const layers = lambdaLayers(spec);
  tagPipeline({ pipeline: spec.name, kind: 'custom', pool: spec.batch.pool, tenant: spec.batch.tenant });

  const partitions: string[] = [];
  for (let p = spec.schedule.start; p <= end; p = nextPartition(spec.partitioning, p)) partitions.push(p);

  // 1. The speed layer: a Flink job generation (admission, fixed JobID, checkpoints), until the range has closed.
  const speed = await startStreamLayer(layers.stream);
  let progress = await speed.progress();
  while (!isClosed(spec.partitioning, end, progress.watermarkMs)) {
    await condition(() => false, input.pollMs ?? 2000); // a durable timer
    progress = await speed.progress();
  }
  const streamSnapshot = progress.snapshotId!;

  // 2. The view serves the stream layer's rows for the whole range: one commit.
  const view = new ServingView(spec.name, mergedColumns(spec), { provenance: { partitions: {} }, commits: 0 });
  await view.commit({ layer: 'stream', snapshotId: streamSnapshot, from: spec.schedule.start, to: end });

  // 3. Per partition: a Spark step, the check against the stream, a recompute into the view only where they differ.
  const out: RepairedPartition[] = [];
  for (const partition of partitions) {
    const batch = await sparkStep(layers.batch, partition);
    const check = await checkPartition({
      pipeline: spec.name,
      partition,
      batchSnapshot: batch.snapshotId!,
      streamSnapshot,
      keys: lambdaKeys(spec),
      tolerances: spec.lambda.tolerances,
      localMaxRows: spec.lambda.localCheckMaxRows,
      countColumn: spec.transform.aggregates.find((a) => a.fn === 'count')?.as,
      attempt: 1,
    });
    if (!check.consistent) {
      await view.commit(
        { layer: 'batch', snapshotId: batch.snapshotId!, partition },
        { published: { check: 'inconsistent', report: check.report, flagged: true } },
      );
    }
    out.push({ partition, servedBy: check.consistent ? 'stream' : 'batch', check });
  }

  // 4. The range is served: stop the speed layer (final savepoint, grant released).
  await speed.stop({ reason: 'range repaired' });
  return {
    pipeline: spec.name,
    partitions: out,
    ...(view.state.viewSnapshot ? { viewSnapshot: view.state.viewSnapshot } : {}),
  };
}
