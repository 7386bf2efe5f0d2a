import { batchOutputColumns, type OutputColumn } from './compile-spark';
import {
  STREAM_EXTRA_COLUMNS,
  WINDOW_COLUMNS,
  parsePipelineSpec,
  type KappaPipelineSpec,
  type StreamingPipelineSpec,
} from './spec';

/*
 * A Kappa pipeline's generations as pure functions of the spec (docs/kappa.md). Generation 1 is
 * the pipeline's own stream (`stream/<name>`, `lake.<name>.stream`); every reprocess is a new
 * generation n, an ordinary streaming spec named `<name>-g<n>`: its own workflow, Flink job,
 * Kafka group id, transactional-id prefix and lake table, replaying the source from its earliest
 * offsets. Nothing of a generation is shared with another, so a replay cannot disturb the
 * generation that serves.
 */

/** The pipeline name generation `n` runs under: the pipeline's own for 1, `<name>-g<n>` after. */
export function generationName(spec: Pick<KappaPipelineSpec, 'name'>, n: number): string {
  return n === 1 ? spec.name : `${spec.name}-g${n}`;
}

/**
 * Generation `n` as the streaming spec its workflow runs, with `transform` when a reprocess
 * changes the computation. The late records are kept (`lake.<generation>.late`): a replay reads
 * in one go what the live stream read over time, so it may count records the live one dropped.
 * @throws InvalidPipelineSpec when the transform does not fit the source
 */
export function generationSpec(
  spec: KappaPipelineSpec,
  n: number,
  transform: KappaPipelineSpec['transform'] = spec.transform,
): StreamingPipelineSpec {
  return parsePipelineSpec({
    name: generationName(spec, n),
    kind: 'streaming',
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    source: spec.source,
    transform,
    partitioning: spec.partitioning,
    sink: { lake: true, late: true },
    stream: spec.stream,
  }) as StreamingPipelineSpec;
}

/** The view's columns and Spark types: `partition`, then the windowed output (as for a lambda view). */
export function kappaColumns(
  spec: KappaPipelineSpec,
  transform: KappaPipelineSpec['transform'] = spec.transform,
): OutputColumn[] {
  return [{ name: STREAM_EXTRA_COLUMNS[0], type: 'STRING' }, ...batchOutputColumns({ ...spec, transform })!];
}

/** The columns two generations' rows are matched on: the window's start and the group-by columns. */
export function kappaKeys(spec: KappaPipelineSpec): string[] {
  return [WINDOW_COLUMNS[0], ...spec.transform.groupBy];
}
