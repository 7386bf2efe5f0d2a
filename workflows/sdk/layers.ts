import {
  ActivityCancellationType,
  executeChild,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  proxyActivities,
  startChild,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../../activities';
import { NON_RETRYABLE_ERROR_TYPES } from '../../lib/errors';
import type { BatchPipelineSpec, StreamingPipelineSpec } from '../../lib/pipelines';
import { batchWorkflowId } from '../batch/backfill';
import { batchPipelineWorkflow, type BatchPipelineResult } from '../batch/batch-pipeline';
import { cancelStream, pause, resume, streamWorkflowId, type CancelStream, type RescaleResult } from '../messages';
import { streamingPipelineWorkflow } from '../stream/stream-pipeline';

/** How far a stream table has committed (the lambda progress activity's answer). */
export type StreamProgress = Awaited<ReturnType<Activities['lambdaStreamProgress']>>;

const PERMANENT = [...NON_RETRYABLE_ERROR_TYPES];
const quick = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 10, nonRetryableErrorTypes: PERMANENT },
});
const waiting = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '20 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 10, initialInterval: '2 seconds', nonRetryableErrorTypes: PERMANENT },
});

/**
 * One partition of a batch spec as Sluice's batch pipeline workflow, a child
 * `batch/<pipeline>/<partition>`: admission, the Spark step, output validation; pause, resume,
 * cancel and preemption handled by the child. Resolves with its result (a failed run rejects).
 */
export function runBatchPartition(
  spec: BatchPipelineSpec,
  partition: string,
  opts: { workflowId?: string } = {},
): Promise<BatchPipelineResult> {
  return executeChild(batchPipelineWorkflow, {
    workflowId: opts.workflowId ?? batchWorkflowId(spec.name, partition),
    args: [{ pipeline: spec, partition }],
  });
}

/** A running Flink speed layer (a streaming pipeline workflow) and its operations. */
export interface StreamLayer {
  readonly workflowId: string;
  /** The stream table's current snapshot and how far its committed windows reach. */
  progress(): Promise<StreamProgress>;
  /** Stops the job with a savepoint (its grant released); {@link resume} restores it. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** A new Flink job generation at `parallelism`, restored from a savepoint of the running one (the rescale saga). */
  rescale(parallelism: number, timeoutMs?: number): Promise<RescaleResult>;
  /** Stops the stream (with a final savepoint unless `withoutSavepoint`) and waits until its workflow has ended. */
  stop(req?: CancelStream): Promise<void>;
}

/**
 * Starts a streaming spec as Sluice's streaming pipeline workflow (`stream/<pipeline>`, or
 * `workflowId`), which runs its Flink job generations: admission, submission with a fixed JobID,
 * savepoints, restarts, rescale. The stream outlives the caller's run (continue-as-new does not
 * stop it; {@link StreamLayer.stop} does). A stream already running under that id is adopted.
 */
export async function startStreamLayer(
  spec: StreamingPipelineSpec,
  opts: { workflowId?: string } = {},
): Promise<StreamLayer & { adopted: boolean }> {
  const workflowId = opts.workflowId ?? streamWorkflowId(spec.name);
  let adopted = false;
  try {
    await startChild(streamingPipelineWorkflow, {
      workflowId,
      args: [{ pipeline: spec }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    adopted = true;
  }
  return { ...streamLayer(workflowId, spec.name), adopted };
}

/** The operations of the stream running as `workflowId`, whose lake table is `spec`'s (`lake.<pipeline>.stream`). */
export function streamLayer(workflowId: string, pipeline: string): StreamLayer {
  const handle = () => getExternalWorkflowHandle(workflowId);
  return {
    workflowId,
    progress: () => quick.lambdaStreamProgress({ pipeline }),
    pause: () => handle().signal(pause),
    resume: () => handle().signal(resume),
    rescale: (parallelism, timeoutMs) =>
      quick.rescaleStream({ workflowId, request: { parallelism, ...(timeoutMs ? { timeoutMs } : {}) } }),
    async stop(req = {}) {
      await handle()
        .signal(cancelStream, req)
        .catch(() => undefined); // already ended
      // Over only once the stream has stopped: its final savepoint taken, its job gone, its grant released.
      await waiting.awaitWorkflowEnd({ workflowId });
    },
  };
}
