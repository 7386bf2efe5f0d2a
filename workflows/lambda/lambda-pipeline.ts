import {
  ActivityCancellationType,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { specOfKind } from '../spec-input';
import { NON_RETRYABLE_ERROR_TYPES, rootCauseMessage } from '../../lib/errors';
import type { CheckVerdict, ViewProvenance } from '../../lib/lambda-view';
import { startStreamLayer, streamLayer } from '../sdk/layers';
import { ServingView } from '../sdk/view';
import { parseDuration, type LambdaPipelineSpec, type PipelineSpec } from '../../lib/pipelines';
import {
  highWaterMark,
  isClosed,
  lambdaKeys,
  lambdaLayers,
  mergedColumns,
  nextPartition,
} from '../../lib/pipelines/lambda';
import { SluiceKind, SluicePipeline, SluicePool, SluiceState, SluiceTenant } from '../../lib/search-attributes';
import { batchPipelineWorkflow } from '../batch/batch-pipeline';
import { batchWorkflowId } from '../batch/backfill';
import {
  cancelStream,
  lambdaStatus,
  pause,
  rescale,
  resume,
  retryPartitions,
  streamWorkflowId,
  type CancelStream,
  type LambdaPartition,
  type LambdaState,
  type LambdaStatus,
  type RescaleResult,
  type StreamEvent,
} from '../messages';

/** What a lambda pipeline carries from one run to the next (continue-as-new). */
export interface LambdaCarry {
  nextToClose: string;
  partitions: Record<string, LambdaPartition>;
  provenance: ViewProvenance;
  viewSnapshot?: string;
  /** View commits so far: each commit's step name is unique per pipeline run chain. */
  commits: number;
  paused: boolean;
  streamStarted: boolean;
  lastExpiryAt?: number;
  events: StreamEvent[];
}

export interface LambdaPipelineInput {
  /** The whole spec (kind `lambda`), so a run is reproducible whatever later happens to the code. */
  pipeline: PipelineSpec;
  carry?: LambdaCarry;
  /** How often the stream layer's progress is read. @default the stream's checkpoint interval */
  pollMs?: number;
  /**
   * Fault injection, for demos and tests of the repair path: after the first batch run of each
   * listed partition, one of its rows is altered in the batch table (a real Spark UPDATE), so that
   * the check finds the layers disagree.
   */
  faults?: { corruptBatch?: string[] };
}

export interface LambdaPipelineResult {
  pipeline: string;
  state: 'COMPLETED' | 'CANCELLED';
  highWaterMark?: string;
  viewSnapshot?: string;
}

const PERMANENT = [...NON_RETRYABLE_ERROR_TYPES];
/** Spark work on the lambda's behalf: checks and view commits (heartbeating; a retry finds what committed). */
const spark = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  // A worker that dies mid-commit is noticed within this; the retry finds the commit or follows it.
  heartbeatTimeout: '20 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 10, initialInterval: '2 seconds', nonRetryableErrorTypes: PERMANENT },
});
const quick = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 10, nonRetryableErrorTypes: PERMANENT },
});

const MAX_EVENTS = 100;
/** View snapshots are expired at most this often. */
const EXPIRY_EVERY_MS = 10 * 60_000;

/**
 * A lambda pipeline (workflow id `lambda/<pipeline>`): the speed layer runs as its streaming child
 * (`stream/<pipeline>`); each partition, once closed in the stream layer (its committed watermark
 * has passed the partition's end), runs as a batch child (`batch/<pipeline>/<partition>`, admitted
 * by the same pool), is checked against the stream layer, and is published into the serving view
 * `lake.<pipeline>.merged` in partition order. Between publications the view's partitions after
 * the high-water mark mirror the stream layer. Pause, resume and cancel reach both layers;
 * `rescale` reaches the speed layer.
 */
export async function lambdaPipelineWorkflow(input: LambdaPipelineInput): Promise<LambdaPipelineResult> {
  const spec: LambdaPipelineSpec = specOfKind(input.pipeline, 'lambda');
  const layers = lambdaLayers(spec);
  const columns = mergedColumns(spec);
  const keys = lambdaKeys(spec);
  const pollMs = input.pollMs ?? parseDuration(spec.stream.checkpointInterval)!.ms;
  const carry: LambdaCarry = input.carry ?? {
    nextToClose: spec.schedule.start,
    partitions: {},
    provenance: { partitions: {} },
    commits: 0,
    paused: false,
    streamStarted: false,
    events: [],
  };
  const corrupt = new Set(input.faults?.corruptBatch ?? []);

  let state: LambdaState = 'STARTING';
  let watermarkMs: number | undefined;
  let streamSnapshot: string | undefined = carry.provenance.streamSnapshot;
  let cancelRequest: CancelStream | undefined;
  let wake = false;
  let error: string | undefined;

  const note = (what: string) => {
    carry.events.push({ at: Date.now(), what });
    if (carry.events.length > MAX_EVENTS) carry.events.splice(0, carry.events.length - MAX_EVENTS);
  };
  const published = () =>
    new Set(
      Object.values(carry.partitions)
        .filter((r) => r.phase === 'published')
        .map((r) => r.partition),
    );
  const status = (): LambdaStatus => {
    const mark = highWaterMark(spec, published());
    return {
      pipeline: spec.name,
      state,
      paused: carry.paused,
      ...(watermarkMs !== undefined ? { watermarkMs } : {}),
      ...(streamSnapshot ? { streamSnapshot } : {}),
      nextToClose: carry.nextToClose,
      ...(mark ? { highWaterMark: mark } : {}),
      ...(carry.viewSnapshot ? { viewSnapshot: carry.viewSnapshot } : {}),
      gaps: Object.values(carry.partitions)
        .filter((r) => r.phase !== 'published' && (mark === undefined || r.partition > mark))
        .map((r) => r.partition)
        .sort(),
      partitions: Object.values(carry.partitions).sort((a, b) => a.partition.localeCompare(b.partition)),
      events: carry.events,
      ...(error ? { error } : {}),
    };
  };
  const setState = (next: LambdaState, why: string) => {
    if (next !== state) note(`${next}: ${why}`);
    state = next;
    upsertSearchAttributes([{ key: SluiceState, value: state }]);
    const s = status();
    setCurrentDetails(
      [
        `**${spec.name}** (lambda) — ${state}${carry.paused ? ' (paused)' : ''}`,
        `high-water mark: ${s.highWaterMark ?? '(none yet)'}; next to close: ${s.nextToClose}; gaps: ${s.gaps.join(', ') || 'none'}`,
        ...s.partitions
          .slice(-12)
          .map(
            (p) =>
              `- ${p.partition}: ${p.phase}${p.flagged ? ' (flagged)' : ''}${p.checks.length ? `; check ${p.checks.at(-1)!.consistent ? 'consistent' : `inconsistent (${p.checks.at(-1)!.mismatched} mismatched, ${p.checks.at(-1)!.missingInBatch + p.checks.at(-1)!.missingInStream} one-sided), report ${p.checks.at(-1)!.report}`}` : ''}`,
          ),
      ].join('\n'),
    );
  };

  upsertSearchAttributes([
    { key: SluicePipeline, value: spec.name },
    { key: SluiceKind, value: 'lambda' },
    { key: SluicePool, value: spec.stream.pool },
    { key: SluiceTenant, value: spec.stream.tenant },
  ]);

  // ---- batch children, each in its own scope so that a cancel reaches it
  const running = new Map<string, CancellationScope>();
  const finished: { partition: string; result?: Awaited<ReturnType<typeof batchPipelineWorkflow>>; error?: string }[] =
    [];
  const startBatch = (p: string) => {
    const rec = carry.partitions[p]!;
    rec.batchRuns += 1;
    rec.phase = rec.batchRuns > 1 ? 'recomputing' : 'batch-running';
    const scope = new CancellationScope();
    running.set(p, scope);
    scope
      .run(() =>
        executeChild(batchPipelineWorkflow, {
          workflowId: batchWorkflowId(spec.name, p),
          args: [{ pipeline: layers.batch, partition: p }],
        }),
      )
      .then(
        (result) => finished.push({ partition: p, result }),
        (err: unknown) => finished.push({ partition: p, error: rootCauseMessage(err) }),
      )
      .finally(() => {
        running.delete(p);
        wake = true;
      });
  };
  const speed = streamLayer(streamWorkflowId(spec.name), spec.name);
  const batchHandles = () => [...running.keys()].map((p) => getExternalWorkflowHandle(batchWorkflowId(spec.name, p)));

  setHandler(lambdaStatus, status);
  setHandler(pause, () => {
    if (carry.paused) return;
    carry.paused = true;
    wake = true;
    speed.pause().catch(() => undefined);
    for (const h of batchHandles()) void h.signal(pause).catch(() => undefined);
    note('pause requested: the stream pauses with a savepoint, batch runs finish their step and wait');
  });
  setHandler(resume, () => {
    if (!carry.paused) return;
    carry.paused = false;
    wake = true;
    speed.resume().catch(() => undefined);
    for (const h of batchHandles()) void h.signal(resume).catch(() => undefined);
    note('resumed');
  });
  setHandler(cancelStream, (req?: CancelStream) => {
    cancelRequest ??= req ?? {};
    wake = true;
  });
  setHandler(retryPartitions, ({ partitions }) => {
    for (const r of Object.values(carry.partitions)) {
      if (r.phase === 'batch-failed' && (!partitions || partitions.includes(r.partition))) {
        r.phase = 'batch-waiting';
        r.batchRuns = 0;
        delete r.error;
        note(`partition ${r.partition} queued again`);
      }
    }
    wake = true;
  });
  setHandler(rescale, (req): Promise<RescaleResult> => speed.rescale(req.parallelism, req.timeoutMs));

  /** After a batch run: the check, then a recompute (once) or the partition ready to publish. */
  const afterBatch = async (done: (typeof finished)[number]) => {
    const rec = carry.partitions[done.partition]!;
    if (done.error || done.result?.state !== 'succeeded') {
      rec.phase = 'batch-failed';
      rec.error = done.error ?? 'the batch run was cancelled';
      note(`partition ${rec.partition}: batch run failed: ${rec.error}`);
      return;
    }
    if (!done.result.snapshotId) {
      rec.phase = 'batch-failed';
      rec.error = 'the batch run committed no snapshot';
      note(`partition ${rec.partition}: ${rec.error}`);
      return;
    }
    rec.batchSnapshot = done.result.snapshotId;
    rec.batchRows = done.result.rows;
    if (rec.batchRuns === 1 && corrupt.has(rec.partition) && rec.batchSnapshot) {
      rec.batchSnapshot = (
        await spark.corruptBatchPartition({
          pipeline: spec.name,
          partition: rec.partition,
          column: spec.transform.aggregates[0]!.as,
        })
      ).snapshotId;
      note(`partition ${rec.partition}: batch output deliberately corrupted (faults.corruptBatch)`);
    }
    rec.phase = 'checking';
    rec.streamSnapshot = streamSnapshot;
    const figures = await spark.checkLambdaPartition({
      pipeline: spec.name,
      partition: rec.partition,
      batchSnapshot: rec.batchSnapshot,
      streamSnapshot: rec.streamSnapshot,
      keys,
      tolerances: spec.lambda.tolerances,
      localMaxRows: spec.lambda.localCheckMaxRows,
      countColumn: spec.transform.aggregates.find((a) => a.fn === 'count')?.as,
      attempt: rec.checks.length + 1,
    });
    rec.checks.push(figures);
    if (figures.consistent) {
      rec.phase = 'ready';
      note(`partition ${rec.partition}: consistent (${figures.matched} rows matched)`);
    } else if (spec.lambda.onInconsistent === 'recompute' && rec.batchRuns === 1) {
      note(`partition ${rec.partition}: inconsistent (report ${figures.report}); recomputing its batch partition`);
      startBatch(rec.partition);
    } else {
      rec.phase = 'ready';
      rec.flagged = true;
      note(
        `partition ${rec.partition}: still inconsistent (report ${figures.report}); published from the batch layer, flagged`,
      );
    }
  };

  // The serving view's writer state lives in the carry (provenance, commit count, snapshot).
  const view = new ServingView(spec.name, columns, carry);
  const commitView = view.commit.bind(view);

  /** Publishes ready partitions in order from the high-water mark on: each one commit of its batch rows. */
  const publishReady = async () => {
    for (;;) {
      const mark = highWaterMark(spec, published());
      const next = mark === undefined ? spec.schedule.start : nextPartition(spec.partitioning, mark);
      if (spec.schedule.end !== undefined && next > spec.schedule.end) return;
      const rec = carry.partitions[next];
      if (rec?.phase !== 'ready' || !rec.batchSnapshot) return;
      const last = rec.checks.at(-1);
      const verdict: CheckVerdict = last?.consistent ? (rec.batchRuns > 1 ? 'repaired' : 'consistent') : 'inconsistent';
      const result = await commitView(
        { layer: 'batch', snapshotId: rec.batchSnapshot, partition: next },
        {
          published: { check: verdict, report: last?.report, ...(rec.flagged ? { flagged: true } : {}) },
          highWaterMark: next,
        },
      );
      rec.phase = 'published';
      rec.viewSnapshot = result.snapshotId;
      note(
        `partition ${next} published from the batch layer (${verdict}) in view snapshot ${result.snapshotId ?? '(none)'}`,
      );
    }
  };

  try {
    // ---- the speed layer: the pipeline's streaming child, kept across continue-as-new
    if (!carry.streamStarted) {
      // The stream outlives each run of this workflow (continue-as-new closes the run); a cancel
      // of the lambda pipeline stops it explicitly.
      const started = await startStreamLayer(layers.stream);
      note(
        started.adopted
          ? `speed layer ${started.workflowId} already runs: adopted`
          : `speed layer started as ${started.workflowId}`,
      );
      carry.streamStarted = true;
    }
    setState(carry.paused ? 'PAUSED' : 'RUNNING', 'layers started');

    while (!cancelRequest) {
      const progress = await speed.progress();
      watermarkMs = progress.watermarkMs;
      streamSnapshot = progress.snapshotId ?? streamSnapshot;

      // Partitions the watermark has passed are closed: queue their batch runs.
      while (
        (spec.schedule.end === undefined || carry.nextToClose <= spec.schedule.end) &&
        isClosed(spec.partitioning, carry.nextToClose, watermarkMs)
      ) {
        const p = carry.nextToClose;
        carry.partitions[p] = { partition: p, phase: 'batch-waiting', batchRuns: 0, checks: [] };
        note(`partition ${p} closed in the stream layer (${progress.rows[p] ?? 0} rows)`);
        carry.nextToClose = nextPartition(spec.partitioning, p);
      }
      if (!carry.paused) {
        for (const rec of Object.values(carry.partitions).sort((a, b) => a.partition.localeCompare(b.partition))) {
          if (running.size >= spec.lambda.maxConcurrentBatches) break;
          if (rec.phase === 'batch-waiting') startBatch(rec.partition);
        }
      }
      while (finished.length) await afterBatch(finished.shift()!);
      await publishReady();

      // The view's partitions after the high-water mark mirror the stream layer's latest commit.
      const markNow = highWaterMark(spec, published());
      const afterTheEnd = spec.schedule.end !== undefined && markNow === spec.schedule.end;
      if (streamSnapshot && streamSnapshot !== carry.provenance.streamSnapshot && !afterTheEnd) {
        const mark = markNow;
        await commitView({
          layer: 'stream',
          snapshotId: streamSnapshot,
          from: spec.schedule.start,
          ...(spec.schedule.end !== undefined ? { to: spec.schedule.end } : {}),
          ...(mark ? { after: mark } : {}),
        });
      }
      if (carry.viewSnapshot && Date.now() - (carry.lastExpiryAt ?? 0) >= EXPIRY_EVERY_MS) {
        carry.lastExpiryAt = Date.now();
        await quick.expireView({
          pipeline: spec.name,
          olderThanMs: Date.now() - parseDuration(spec.lambda.retainSnapshots)!.ms,
        });
      }
      setState(carry.paused ? 'PAUSED' : 'RUNNING', 'round');

      const mark = highWaterMark(spec, published());
      if (spec.schedule.end !== undefined && mark === spec.schedule.end) break;
      if (workflowInfo().continueAsNewSuggested && running.size === 0 && finished.length === 0) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof lambdaPipelineWorkflow>({ ...input, carry });
      }
      wake = false;
      await condition(() => wake || cancelRequest !== undefined, pollMs);
    }
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => stopLayers({ reason: 'workflow cancelled' }));
      setState('CANCELLED', 'workflow cancelled');
      throw err;
    }
    error = rootCauseMessage(err);
    setState('FAILED', error);
    throw err;
  }

  if (cancelRequest) {
    await stopLayers(cancelRequest);
    setState('CANCELLED', cancelRequest.reason ?? 'cancelled');
    return { pipeline: spec.name, state: 'CANCELLED', ...endOf() };
  }
  // Every scheduled partition is published: the speed layer has nothing left to serve.
  await stopLayers({ reason: `schedule ended at ${spec.schedule.end}` });
  setState('COMPLETED', `every partition up to ${spec.schedule.end} published`);
  return { pipeline: spec.name, state: 'COMPLETED', ...endOf() };

  function endOf() {
    const mark = highWaterMark(spec, published());
    return {
      ...(mark ? { highWaterMark: mark } : {}),
      ...(carry.viewSnapshot ? { viewSnapshot: carry.viewSnapshot } : {}),
    };
  }

  /** Cancels the batch runs under way and stops the stream (with its final savepoint unless told otherwise). */
  async function stopLayers(req: CancelStream) {
    for (const scope of running.values()) scope.cancel();
    await condition(() => running.size === 0);
    note(`stopping: ${req.reason ?? 'cancelled'}`);
    await speed.stop(req);
  }
}
