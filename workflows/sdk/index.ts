/**
 * `sluice/workflow`: the building blocks for pipelines written as Temporal workflows of their own
 * (docs/custom-workflows.md). Import it from workflow files run by `sluice worker --workflows
 * <dir>`; the worker's bundle resolves it to this module. Every block is workflow code: it only
 * schedules Sluice's activities and child workflows, so the rules of workflow code apply to the
 * code around it (no I/O, no clocks or randomness but Temporal's, and `patched()` for changes
 * to running workflows).
 *
 * - admission: {@link withAdmission} (hold a pool's grant while a body runs);
 * - a Spark step: {@link sparkStep} (in this workflow) or {@link runBatchPartition} (a child batch pipeline);
 * - a Flink job generation and its operations: {@link startStreamLayer} → {@link StreamLayer};
 * - the consistency check: {@link checkPartition};
 * - publishing a view: {@link ServingView};
 * - visibility: {@link tagPipeline} (Sluice's search attributes).
 */
export { withAdmission, isRevocation, AdmissionErrors } from '../pool/admission';
export type { AdmissionAsk, AdmissionGrant, AdmissionLease } from '../pool/admission';
export { sparkStep, checkPartition, tagPipeline } from './steps';
export { runBatchPartition, startStreamLayer, streamLayer, type StreamLayer, type StreamProgress } from './layers';
export { ServingView, type ServingViewState, type ViewSource } from './view';
export type { CheckFigures, RescaleResult, CancelStream } from '../messages';
export type { BatchStepResult } from '../../activities';
export type { LambdaCheckInput, LakeTable } from '../../activities/lambda-check';
export {
  parsePipelineSpec,
  partitionBounds,
  type BatchPipelineSpec,
  type LambdaPipelineSpec,
  type PipelineSpec,
  type StreamingPipelineSpec,
} from '../../lib/pipelines';
export {
  highWaterMark,
  isClosed,
  lambdaKeys,
  lambdaLayers,
  mergedColumns,
  nextPartition,
} from '../../lib/pipelines/lambda';
export type { CheckVerdict, ViewProvenance } from '../../lib/lambda-view';
