// Every workflow type the worker registers. Workflow code runs in Temporal's sandbox: see
// eslint.config.mjs for what it may not import.
export { helloWorkflow, helloPipelineWorkflow } from './hello';
export { poolSchedulerWorkflow } from './pool/scheduler';
export { holdResourcesWorkflow } from './pool/hold';
export {
  acquireAdmission,
  adoptAdmission,
  withAdmission,
  isRevocation,
  poolWorkflowId,
  AdmissionErrors,
} from './pool/admission';
export type { AdmissionAsk, AdmissionGrant, AdmissionLease } from './pool/admission';
export type { PoolInput, PoolOptions } from './pool/pool-state';
export { batchPipelineWorkflow } from './batch/batch-pipeline';
export type { BatchPipelineInput, BatchPipelineResult } from './batch/batch-pipeline';
export { backfillWorkflow, backfillWorkflowId, batchWorkflowId } from './batch/backfill';
export type { BackfillInput } from './batch/backfill';
export { streamingPipelineWorkflow } from './stream/stream-pipeline';
export type { StreamCarry, StreamingPipelineInput, StreamingPipelineResult } from './stream/types';
export { lambdaPipelineWorkflow } from './lambda/lambda-pipeline';
export type { LambdaCarry, LambdaPipelineInput, LambdaPipelineResult } from './lambda/lambda-pipeline';
export { kappaPipelineWorkflow } from './kappa/kappa-pipeline';
export type { KappaCarry, KappaPipelineInput, KappaPipelineResult } from './kappa/kappa-pipeline';
export { intakeWorkflow } from './intake/intake';
export type { IntakeInput } from './intake/intake';
