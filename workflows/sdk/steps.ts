import { ActivityCancellationType, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities, BatchStepResult } from '../../activities';
import type { LambdaCheckInput } from '../../activities/lambda-check';
import { NON_RETRYABLE_ERROR_TYPES } from '../../lib/errors';
import { compileBatch, type BatchPipelineSpec } from '../../lib/pipelines';
import { SluiceKind, SluicePipeline, SluicePool, SluiceTenant } from '../../lib/search-attributes';
import type { CheckFigures } from '../messages';
import { withAdmission } from '../pool/admission';

const PERMANENT = [...NON_RETRYABLE_ERROR_TYPES];
const spark = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  // A worker that dies mid-step is noticed within this; the retry follows the running operation.
  heartbeatTimeout: '20 seconds',
  // On cancel, wait until Spark's operation is really interrupted before the grant is released.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 5, initialInterval: '2 seconds', nonRetryableErrorTypes: PERMANENT },
});
const quick = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: PERMANENT },
});

/**
 * Tags the calling workflow with Sluice's search attributes, so that it is listed with Sluice's
 * own pipelines (`sluice status`, the Temporal UI's filters: `SluicePipeline="clicks"`).
 */
export function tagPipeline(tags: { pipeline: string; kind: string; pool?: string; tenant?: string }): void {
  upsertSearchAttributes([
    { key: SluicePipeline, value: tags.pipeline },
    { key: SluiceKind, value: tags.kind },
    ...(tags.pool !== undefined ? [{ key: SluicePool, value: tags.pool }] : []),
    ...(tags.tenant !== undefined ? [{ key: SluiceTenant, value: tags.tenant }] : []),
  ]);
}

let sparkSteps = 0;

/**
 * One Spark step: a batch spec's computation for one partition, run by Spark (through Spark
 * Connect unless the spec says `submit`) under admission of the spec's pool, committed to
 * `lake.<pipeline>.batch` as one Iceberg commit. The step's name is deterministic per workflow
 * run and call, so a retry after a killed worker finds the commit (or the running operation)
 * instead of writing again. Kafka sources are read up to the end offsets taken here, once.
 * Unlike {@link runBatchPartition} it runs inside the calling workflow, without the output
 * validation, pause or preemption handling of a batch pipeline's own workflow.
 */
export async function sparkStep(spec: BatchPipelineSpec, partition: string): Promise<BatchStepResult> {
  const binding =
    spec.source.kind === 'kafka'
      ? {
          startingOffsets: 'earliest' as const,
          endingOffsets: await quick.kafkaEndOffsets({ topic: spec.source.topic }),
        }
      : { partitionPrefix: partition.slice(0, 10) };
  const compiled = compileBatch(spec, partition, binding);
  sparkSteps += 1;
  const appName = `sluice-${spec.name}-${partition}-${workflowInfo().runId}-x${sparkSteps}`;
  return withAdmission(
    spec.batch.pool,
    {
      tenant: spec.batch.tenant,
      queue: spec.batch.queue,
      priority: spec.batch.priority,
      demand: spec.batch.resources,
      kind: 'batch',
      estimatedRuntimeMs: spec.batch.estimatedRuntimeMs,
      // Never preempted: a revocation would end the step half-way, and this step has no requeue loop.
      preemptible: false,
    },
    () =>
      spark.sparkSql({
        appName,
        sources: compiled.sources,
        sql: compiled.sql,
        output: { pipeline: spec.name, layer: 'batch', partition },
        engine: spec.batch.engine,
      }),
  );
}

/**
 * The consistency check of one partition (docs/consistency.md): the pipeline's batch table at
 * `batchSnapshot` against its stream table at `streamSnapshot` (or the two `tables` given),
 * matched on `keys`, with tolerances; in-process for small sides, on Spark for large ones. The
 * report is kept as JSON under `<lake>/checks/<pipeline>/<partition>/`; its figures are answered.
 */
export function checkPartition(input: LambdaCheckInput): Promise<CheckFigures> {
  return spark.checkLambdaPartition(input);
}
