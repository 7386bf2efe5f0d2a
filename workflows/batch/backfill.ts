import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  getExternalWorkflowHandle,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { outsideSchedule, parsePipelineSpec, partitionsBetween, type PipelineSpec } from '../../lib/pipelines';
import { ErrorType } from '../../lib/errors';
import { SluiceKind, SluicePipeline, SluiceState } from '../../lib/search-attributes';
import { cancel, partitionDone, pause, progress, resume, retryPartitions, type BackfillProgress } from '../messages';
import { batchPipelineWorkflow } from './batch-pipeline';

export interface BackfillInput {
  pipeline: PipelineSpec;
  from: string;
  to: string;
  /** Partitions running at once. */
  concurrency: number;
  /** How often running children are checked for having ended without reporting. @default 60_000 */
  childCheckIntervalMs?: number;
  /** Continue-as-new after this many history events even if Temporal has not suggested it. */
  continueAsNewAfterEvents?: number;
  carried?: BackfillCarried;
}

/** State carried across continue-as-new (JSON-shaped, bounded by the partitions of the range). */
export interface BackfillCarried {
  next: number;
  queue: string[];
  running: string[];
  done: number;
  failed: { partition: string; error?: string }[];
  cancelled: string[];
  paused: boolean;
  generation: number;
  cancelling?: string;
}

export const backfillWorkflowId = (pipeline: string, from: string, to: string) => `backfill/${pipeline}/${from}..${to}`;
export const batchWorkflowId = (pipeline: string, partition: string) => `batch/${pipeline}/${partition}`;

const { findGoneHolders } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3 },
});

/**
 * The batch pipeline for every partition of a range (workflow id `backfill/<pipeline>/<from>..<to>`),
 * as a sliding window of `concurrency` child runs, each through admission. Children report their
 * end by signal (they address the backfill by id, so continue-as-new does not lose them). A failed
 * partition does not stop the others; it can be queued again (`retryPartitions`) or run alone
 * (`sluice run <pipeline> --partition P`). Pause starts no new partition; running ones finish.
 */
export async function backfillWorkflow(input: BackfillInput): Promise<BackfillProgress> {
  let spec: PipelineSpec;
  let partitions: string[];
  try {
    spec = parsePipelineSpec(input.pipeline);
    partitions = partitionsBetween(spec.partitioning, input.from, input.to);
    const outside = outsideSchedule(spec, input.from) ?? outsideSchedule(spec, input.to);
    if (outside) throw new Error(outside);
    if (!Number.isInteger(input.concurrency) || input.concurrency < 1) {
      throw new Error(`concurrency: expected a positive integer, got ${input.concurrency}`);
    }
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.invalidInput);
  }
  if (spec.kind !== 'batch') {
    throw ApplicationFailure.nonRetryable(
      `${spec.name} is a ${spec.kind} pipeline: a backfill runs a batch pipeline's partitions`,
      ErrorType.invalidPipelineSpec,
    );
  }
  const c: BackfillCarried = input.carried ?? {
    next: 0,
    queue: [],
    running: [],
    done: 0,
    failed: [],
    cancelled: [],
    paused: false,
    generation: 0,
  };
  const generation = input.carried ? c.generation + 1 : 0;
  let cancelling = c.cancelling;
  const me = workflowInfo().workflowId;

  const view = (): BackfillProgress => ({
    pipeline: spec.name,
    from: input.from,
    to: input.to,
    concurrency: input.concurrency,
    paused: c.paused,
    total: partitions.length,
    done: c.done,
    running: [...c.running],
    failed: [...c.failed],
    cancelled: [...c.cancelled],
    remaining: partitions.length - c.next + c.queue.length,
    generation,
    ...(cancelling ? { cancelledBecause: cancelling } : {}),
  });
  const finish = (partition: string, state: 'succeeded' | 'failed' | 'cancelled', error?: string) => {
    const i = c.running.indexOf(partition);
    if (i < 0) return; // already counted (a late duplicate report)
    c.running.splice(i, 1);
    if (state === 'succeeded') c.done += 1;
    else if (state === 'failed') c.failed.push({ partition, error });
    else c.cancelled.push(partition);
  };
  setHandler(progress, view);
  setHandler(partitionDone, ({ partition, state, error }) => finish(partition, state, error));
  setHandler(pause, () => void (c.paused = true));
  setHandler(resume, () => void (c.paused = false));
  // Cancel: start nothing more, cancel every running partition (each kills its Spark application and
  // releases its grant), and end once they all reported.
  setHandler(cancel, ({ reason } = {}) => {
    cancelling = reason ?? 'backfill cancelled';
    c.queue = [];
    c.next = partitions.length;
    for (const p of c.running) {
      void getExternalWorkflowHandle(batchWorkflowId(spec.name, p))
        .signal(cancel, { reason: cancelling })
        .catch(() => undefined);
    }
  });
  setHandler(retryPartitions, ({ partitions: which } = {}) => {
    const again = c.failed.filter((f) => !which || which.includes(f.partition));
    c.failed = c.failed.filter((f) => !again.includes(f));
    c.queue.push(...again.map((f) => f.partition));
  });
  upsertSearchAttributes([
    { key: SluicePipeline, value: spec.name },
    { key: SluiceKind, value: 'backfill' },
    { key: SluiceState, value: 'running' },
  ]);

  // Children that end without reporting (terminated, timed out) are found by a periodic check.
  void (async () => {
    for (;;) {
      await sleep(input.childCheckIntervalMs ?? 60_000);
      if (c.running.length === 0) continue;
      const gone = await findGoneHolders(c.running.map((p) => ({ workflowId: batchWorkflowId(spec.name, p) }))).catch(
        () => [],
      );
      for (const g of gone) {
        const p = g.workflowId.slice(batchWorkflowId(spec.name, '').length);
        // A report may still be on its way: re-check once the handlers ran.
        if (c.running.includes(p)) finish(p, 'failed', 'the partition run ended without reporting (terminated?)');
      }
    }
  })();

  const nextPartition = (): string | undefined =>
    c.queue.length > 0 ? c.queue.shift() : c.next < partitions.length ? partitions[c.next++] : undefined;
  const hasWork = () => c.queue.length > 0 || c.next < partitions.length;
  const canNow = () => {
    const info = workflowInfo();
    return (
      info.continueAsNewSuggested ||
      (input.continueAsNewAfterEvents !== undefined && info.historyLength >= input.continueAsNewAfterEvents)
    );
  };

  for (;;) {
    while (!c.paused && c.running.length < input.concurrency && hasWork()) {
      const partition = nextPartition()!;
      c.running.push(partition);
      try {
        await startChild(batchPipelineWorkflow, {
          workflowId: batchWorkflowId(spec.name, partition),
          args: [{ pipeline: spec, partition, parentWorkflowId: me }],
          // Children outlive this run's continue-as-new; they report to the backfill by id.
          parentClosePolicy: ParentClosePolicy.ABANDON,
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
          staticSummary: `${spec.name} partition ${partition} (backfill ${input.from}..${input.to})`,
        });
      } catch (err) {
        finish(partition, 'failed', `could not start: ${(err as Error).message}`);
      }
    }
    setCurrentDetails(
      `**backfill ${spec.name} ${input.from}..${input.to}**${c.paused ? ' (paused)' : ''}: ${c.done}/${partitions.length} done, ` +
        `${c.running.length} running, ${c.failed.length} failed`,
    );
    if (!hasWork() && c.running.length === 0) break;
    if (canNow()) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof backfillWorkflow>({ ...input, carried: { ...c, generation, cancelling } });
    }
    await condition(
      () =>
        canNow() ||
        (!c.paused && c.running.length < input.concurrency && hasWork()) ||
        (!hasWork() && c.running.length === 0),
    );
  }
  upsertSearchAttributes([
    { key: SluiceState, value: cancelling ? 'cancelled' : c.failed.length ? 'failed-partitions' : 'succeeded' },
  ]);
  return view();
}
