import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  compileBatch,
  outsideSchedule,
  partitionBounds,
  validationPlan,
  type BatchPipelineSpec,
  type PipelineSpec,
} from '../../lib/pipelines';
import { specOfKind } from '../spec-input';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES, rootCauseMessage } from '../../lib/errors';
import { SluiceKind, SluicePipeline, SluicePool, SluiceState, SluiceTenant } from '../../lib/search-attributes';
import { cancel, partitionDone, pause, resume, status, type BatchState, type BatchStatus } from '../messages';
import { isRevocation, withAdmission } from '../pool/admission';

export interface BatchPipelineInput {
  /** The whole spec, so a run is reproducible whatever later happens to the pipeline's code. */
  pipeline: PipelineSpec;
  partition: string;
  /** The backfill that started this run; told when the partition ends. */
  parentWorkflowId?: string;
}

export interface BatchPipelineResult {
  pipeline: string;
  partition: string;
  state: 'succeeded' | 'cancelled';
  applicationId?: string;
  rows?: number;
  /** The Iceberg table and the snapshot that committed the partition. */
  table?: string;
  snapshotId?: string;
  engine?: 'connect' | 'submit';
}

const PERMANENT = [...NON_RETRYABLE_ERROR_TYPES];

const spark = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  // A worker that dies mid-step is noticed within this; the retry follows the running application.
  heartbeatTimeout: '20 seconds',
  // On cancel, wait until the application is really killed before the grant is released.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 5, initialInterval: '2 seconds', nonRetryableErrorTypes: PERMANENT },
});
const quick = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: PERMANENT },
});

/**
 * One partition of a batch pipeline (workflow id `batch/<pipeline>/<partition>`): admission →
 * Spark step → output validation → done. Pause finishes the current step and waits before the
 * next; resume goes on; cancel kills the Spark application, releases the grant and ends the run
 * as cancelled. A revocation (preemption) kills the step and queues it again.
 */
export async function batchPipelineWorkflow(input: BatchPipelineInput): Promise<BatchPipelineResult> {
  const spec: BatchPipelineSpec = specOfKind(input.pipeline, 'batch');
  try {
    partitionBounds(spec.partitioning, input.partition);
    const outside = outsideSchedule(spec, input.partition);
    if (outside) throw new Error(outside);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`partition: ${(err as Error).message}`, ErrorType.invalidInput);
  }
  const st: BatchStatus = {
    pipeline: spec.name,
    partition: input.partition,
    state: 'queued',
    paused: false,
    progress: { step: 'admission', done: 0, total: 3 },
    submissions: 0,
    engine: spec.batch.engine,
  };
  let cancelReason: string | undefined;
  const work = new CancellationScope();
  setHandler(status, () => st);
  setHandler(pause, () => void (st.paused = true));
  setHandler(resume, () => void (st.paused = false));
  setHandler(cancel, ({ reason } = {}) => {
    cancelReason = reason ?? 'cancelled by signal';
    work.cancel();
  });
  const setState = (state: BatchState, details: string) => {
    st.state = state;
    upsertSearchAttributes([{ key: SluiceState, value: state }]);
    setCurrentDetails(`**${state}**: ${details}`);
  };
  upsertSearchAttributes([
    { key: SluicePipeline, value: spec.name },
    { key: SluiceKind, value: 'batch' },
    { key: SluicePool, value: spec.batch.pool },
    { key: SluiceTenant, value: spec.batch.tenant },
  ]);
  /** Between steps: wait while paused (holding nothing). */
  const checkpoint = async (next: string) => {
    if (!st.paused) return;
    const before = st.state;
    setState('paused', `paused before ${next}; signal resume to go on`);
    await condition(() => !st.paused);
    setState(before, `resumed: ${next}`);
  };

  const tellParent = async (state: 'succeeded' | 'failed' | 'cancelled', error?: string) => {
    if (!input.parentWorkflowId) return;
    await CancellationScope.nonCancellable(() =>
      getExternalWorkflowHandle(input.parentWorkflowId!).signal(partitionDone, {
        partition: input.partition,
        state,
        error,
      }),
    ).catch(() => undefined); // the backfill may be gone; its liveness check covers the rest
  };

  try {
    const result = await work.run(async () => {
      await checkpoint('admission');
      const { start, end } = partitionBounds(spec.partitioning, input.partition);
      // Kafka sources are read up to the end offsets recorded here, once: every retry and replay
      // of this run reads exactly the same records. A topic that does not exist fails the run at
      // once (SourceNotFound, naming it), before it asks for admission.
      if (spec.source.kind === 'kafka') {
        setCurrentDetails(`**queued**: reading the end offsets of Kafka topic ${spec.source.topic}`);
      }
      const binding =
        spec.source.kind === 'kafka'
          ? {
              startingOffsets: 'earliest' as const,
              endingOffsets: await quick.kafkaEndOffsets({ topic: spec.source.topic }),
            }
          : // The upstream's partitions of that day (hourly or daily: both start with the date);
            // the compiled query keeps exactly this partition's event-time range.
            { partitionPrefix: input.partition.slice(0, 10) };
      const compiled = compileBatch(spec, input.partition, binding);

      let run: Awaited<ReturnType<typeof spark.sparkSql>> | undefined;
      while (!run) {
        setState('waiting-admission', `asking pool ${spec.batch.pool} for ${JSON.stringify(spec.batch.resources)}`);
        try {
          run = await withAdmission(
            spec.batch.pool,
            {
              tenant: spec.batch.tenant,
              queue: spec.batch.queue,
              priority: spec.batch.priority,
              demand: spec.batch.resources,
              kind: 'batch',
              estimatedRuntimeMs: spec.batch.estimatedRuntimeMs,
              preemptible: spec.batch.preemptible,
            },
            async () => {
              st.progress = { step: 'spark', done: 1, total: 3 };
              st.submissions += 1;
              setState(
                'running',
                `Spark SQL for ${input.partition} (${new Date(start).toISOString()} .. ${new Date(end).toISOString()})`,
              );
              return spark.sparkSql({
                // Deterministic per run and submission: a retried activity finds and follows it.
                appName: `sluice-${spec.name}-${input.partition}-${workflowInfo().runId}-s${st.submissions}`,
                sources: compiled.sources,
                sql: compiled.sql,
                output: { pipeline: spec.name, layer: 'batch', partition: input.partition },
                engine: spec.batch.engine,
              });
            },
          );
        } catch (err) {
          if (!isRevocation(err)) throw err;
          // Preempted: the step was killed; queue it again.
        }
      }
      st.applicationId = run.applicationId;
      st.operationId = run.operationId;
      st.sparkUi = run.sparkUi;
      st.table = run.output;
      st.snapshotId = run.snapshotId;

      await checkpoint('validation');
      st.progress = { step: 'validation', done: 2, total: 3 };
      setState(
        'validating',
        `checking ${run.output} partition ${input.partition} at snapshot ${run.snapshotId ?? '(none)'}`,
      );
      const checked = await quick.validateLakeOutput({
        pipeline: spec.name,
        layer: 'batch',
        partition: input.partition,
        plan: validationPlan(spec),
        snapshotId: run.snapshotId,
        writtenRows: run.rows,
      });
      st.rows = checked.rows;
      st.progress = { step: 'done', done: 3, total: 3 };
      return run;
    });
    setState('succeeded', `${st.rows} rows in ${result.output} partition ${input.partition}`);
    await tellParent('succeeded');
    return {
      pipeline: spec.name,
      partition: input.partition,
      state: 'succeeded',
      applicationId: result.applicationId,
      rows: st.rows,
      table: result.output,
      snapshotId: result.snapshotId,
      engine: result.engine,
    };
  } catch (err) {
    if (isCancellation(err)) {
      // withAdmission already released the grant; the activity interrupted the step's operation
      // (connect) or killed its application (submit) before it reported cancelled.
      st.error = cancelReason ?? 'workflow cancelled';
      setState('cancelled', st.error);
      await tellParent('cancelled', st.error);
      if (cancelReason) return { pipeline: spec.name, partition: input.partition, state: 'cancelled' };
      throw err; // a Temporal cancellation: the run ends Cancelled
    }
    st.error = rootCauseMessage(err);
    setState('failed', st.error);
    await tellParent('failed', st.error);
    throw err;
  }
}
