import { batchOutputColumns, type OutputColumn } from './compile-spark';
import { partitionBounds, partitionOf, type Partitioning } from './partitions';
import {
  parsePipelineSpec,
  STREAM_EXTRA_COLUMNS,
  WINDOW_COLUMNS,
  type BatchPipelineSpec,
  type LambdaPipelineSpec,
  type StreamingPipelineSpec,
} from './spec';

/*
 * A lambda pipeline's two layers and its serving view, as pure functions of the spec
 * (docs/lambda.md). The same declared computation (source, transform, partitioning) becomes a
 * streaming spec (the Flink speed layer) and a batch spec (one Spark step per partition); both
 * are ordinary specs, run by the ordinary workflows, so a lambda pipeline adds no third engine path.
 */

/** The speed layer and the batch layer of a lambda pipeline, as the specs their workflows run. */
export function lambdaLayers(spec: LambdaPipelineSpec): { stream: StreamingPipelineSpec; batch: BatchPipelineSpec } {
  const common = {
    name: spec.name,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    source: spec.source,
    transform: spec.transform,
    partitioning: spec.partitioning,
  };
  // The speed layer records its late records: the check explains batch-minus-stream counts with them.
  const stream = parsePipelineSpec({
    ...common,
    kind: 'streaming',
    sink: { ...spec.sink, late: true },
    stream: spec.stream,
  });
  const batch = parsePipelineSpec({ ...common, kind: 'batch', batch: spec.batch, schedule: spec.schedule });
  return { stream: stream as StreamingPipelineSpec, batch: batch as BatchPipelineSpec };
}

/**
 * The columns rows are matched on between the layers: the window's start and the group-by
 * columns (the `partition` is the same on both sides of one check).
 */
export function lambdaKeys(spec: LambdaPipelineSpec): string[] {
  return [WINDOW_COLUMNS[0], ...spec.transform.groupBy];
}

/**
 * The serving view's columns and Spark types, in order: `partition`, then the batch output's
 * columns. The stream layer's rows are cast to these types (Flink writes window bounds as
 * timestamps without zone) and its `watermark` column is left out.
 */
export function mergedColumns(spec: LambdaPipelineSpec): OutputColumn[] {
  return [{ name: STREAM_EXTRA_COLUMNS[0], type: 'STRING' }, ...batchOutputColumns(lambdaLayers(spec).batch)!];
}

/**
 * Whether a partition has closed in the stream layer: every window in it has fired and committed,
 * i.e. the stream's committed progress (the watermark, event time minus the allowed lateness, as
 * the committed windows show it) has reached the partition's end. Records for it that arrive later
 * are late: Flink drops them, the batch layer counts them. Like any event-time progress it needs
 * later records: a partition closes once a window after it has fired.
 */
export function isClosed(partitioning: Partitioning, partition: string, watermarkMs: number | undefined): boolean {
  return watermarkMs !== undefined && partitionBounds(partitioning, partition).end <= watermarkMs;
}

/**
 * The contiguous verified high-water mark: the last partition of the run of published partitions
 * that starts at the schedule's first one (Summingbird's batch id; a hole stops it). Undefined
 * while the first partition is not published.
 */
export function highWaterMark(spec: LambdaPipelineSpec, published: ReadonlySet<string>): string | undefined {
  let mark: string | undefined;
  let p = spec.schedule.start;
  while (published.has(p)) {
    mark = p;
    if (spec.schedule.end !== undefined && p >= spec.schedule.end) break;
    p = nextPartition(spec.partitioning, p);
  }
  return mark;
}

/** The partition after `id`. */
export function nextPartition(partitioning: Partitioning, id: string): string {
  return partitionOf(partitioning, partitionBounds(partitioning, id).end);
}
