import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
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
import { parseDuration, partitionBounds, type KappaPipelineSpec, type PipelineSpec } from '../../lib/pipelines';
import { generationName, generationSpec, kappaColumns, kappaKeys } from '../../lib/pipelines/kappa';
import { nextPartition } from '../../lib/pipelines/lambda';
import { SluiceState } from '../../lib/search-attributes';
import {
  cancelStream,
  kappaStatus,
  pause,
  reprocess,
  resume,
  rollback,
  streamWorkflowId,
  type CancelStream,
  type KappaGeneration,
  type KappaStatus,
  type LambdaState,
  type ReprocessRequest,
  type ReprocessResult,
  type RollbackResult,
  type StreamEvent,
} from '../messages';
import { startStreamLayer, streamLayer, type StreamLayer } from '../sdk/layers';
import { checkPartition, tagPipeline } from '../sdk/steps';
import { ServingView, type ServingViewState } from '../sdk/view';

/** What a Kappa pipeline carries from one run to the next (continue-as-new). */
export interface KappaCarry {
  serving: number;
  generations: Record<number, KappaGeneration>;
  view: ServingViewState;
  paused: boolean;
  events: StreamEvent[];
  lastExpiryAt?: number;
}

export interface KappaPipelineInput {
  /** The whole spec (kind `kappa`). */
  pipeline: PipelineSpec;
  carry?: KappaCarry;
  /** How often the generations' progress is read. @default the stream's checkpoint interval */
  pollMs?: number;
}

export interface KappaPipelineResult {
  pipeline: string;
  state: 'CANCELLED';
  serving: number;
  viewSnapshot?: string;
}

const quick = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 10, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
});

const MAX_EVENTS = 100;
/** View snapshots are expired at most this often. */
const EXPIRY_EVERY_MS = 10 * 60_000;
const ACTIVE = new Set(['catching-up', 'checking']);

/**
 * A Kappa pipeline (workflow id `kappa/<pipeline>`, docs/kappa.md): one stream generation serves
 * the view `lake.<pipeline>.merged`, which mirrors that generation's committed windows (one
 * Iceberg commit per refresh). `reprocess` starts a new generation replaying the source from its
 * earliest offsets into its own table, with its own group id and transactional-id prefix; once
 * it has caught up, every closed partition is diffed against the serving generation with the
 * consistency check, and the view switches to it in one commit only when every diff passes (or
 * `force`). The replaced generation is paused with a savepoint and kept for `kappa.retainOld`, so
 * that `rollback` is one commit back; then its job and table are removed.
 */
export async function kappaPipelineWorkflow(input: KappaPipelineInput): Promise<KappaPipelineResult> {
  const spec: KappaPipelineSpec = specOfKind(input.pipeline, 'kappa');
  const pollMs = input.pollMs ?? parseDuration(spec.stream.checkpointInterval)!.ms;
  const retainMs = parseDuration(spec.kappa.retainOld)!.ms;
  const carry: KappaCarry = input.carry ?? {
    serving: 1,
    generations: {
      1: {
        generation: 1,
        pipeline: spec.name,
        workflowId: streamWorkflowId(spec.name),
        state: 'serving',
        startedAt: Date.now(),
        checks: [],
      },
    },
    view: { provenance: { partitions: {} }, commits: 0 },
    paused: false,
    events: [],
  };
  const view = new ServingView(spec.name, kappaColumns(spec), carry.view);
  const gen = (n: number) => carry.generations[n]!;
  const layerOf = (g: KappaGeneration): StreamLayer => streamLayer(g.workflowId, g.pipeline);
  const transformOf = (g: KappaGeneration) => (g.transform ?? spec.transform) as KappaPipelineSpec['transform'];
  const candidate = () => Object.values(carry.generations).find((g) => ACTIVE.has(g.state));
  const retained = () =>
    Object.values(carry.generations)
      .filter((g) => g.state === 'retained')
      .sort((a, b) => b.generation - a.generation)[0];

  let state: LambdaState = 'STARTING';
  let watermarkMs: number | undefined;
  let streamSnapshot: string | undefined;
  let cancelRequest: CancelStream | undefined;
  let rollbackAsked: ((r: RollbackResult) => void) | undefined;
  let wake = false;
  let error: string | undefined;

  const note = (what: string) => {
    carry.events.push({ at: Date.now(), what });
    if (carry.events.length > MAX_EVENTS) carry.events.splice(0, carry.events.length - MAX_EVENTS);
  };
  const status = (): KappaStatus => ({
    pipeline: spec.name,
    state,
    paused: carry.paused,
    serving: carry.serving,
    ...(watermarkMs !== undefined ? { watermarkMs } : {}),
    ...(streamSnapshot ? { streamSnapshot } : {}),
    ...(carry.view.viewSnapshot ? { viewSnapshot: carry.view.viewSnapshot } : {}),
    generations: Object.values(carry.generations).sort((a, b) => a.generation - b.generation),
    events: carry.events,
    ...(error ? { error } : {}),
  });
  const setState = (next: LambdaState, why: string) => {
    if (next !== state) note(`${next}: ${why}`);
    state = next;
    upsertSearchAttributes([{ key: SluiceState, value: state }]);
    setCurrentDetails(
      [
        `**${spec.name}** (kappa) — ${state}${carry.paused ? ' (paused)' : ''}; the view serves generation ${carry.serving}`,
        ...status().generations.map(
          (g) =>
            `- generation ${g.generation} (${g.workflowId}): ${g.state}${g.reason ? ` — ${g.reason}` : ''}${g.checks.length ? `; diff ${g.checks.every((c) => c.consistent) ? 'passed' : 'failed'} over ${g.checks.length} partitions` : ''}`,
        ),
      ].join('\n'),
    );
  };
  tagPipeline({ pipeline: spec.name, kind: 'kappa', pool: spec.stream.pool, tenant: spec.stream.tenant });

  setHandler(kappaStatus, status);
  const streams = () =>
    Object.values(carry.generations)
      .filter((g) => g.state === 'serving' || ACTIVE.has(g.state))
      .map(layerOf);
  setHandler(pause, () => {
    if (carry.paused) return;
    carry.paused = true;
    for (const s of streams()) s.pause().catch(() => undefined);
    note('paused: every running generation pauses with a savepoint');
    wake = true;
  });
  setHandler(resume, () => {
    if (!carry.paused) return;
    carry.paused = false;
    for (const s of streams()) s.resume().catch(() => undefined);
    note('resumed');
    wake = true;
  });
  setHandler(cancelStream, (req?: CancelStream) => {
    cancelRequest ??= req ?? {};
    wake = true;
  });
  setHandler(
    reprocess,
    async (req: ReprocessRequest): Promise<ReprocessResult> => {
      const n = Math.max(...Object.keys(carry.generations).map(Number)) + 1;
      const transform = (req.transform ?? transformOf(gen(carry.serving))) as KappaPipelineSpec['transform'];
      const g: KappaGeneration = {
        generation: n,
        pipeline: generationName(spec, n),
        workflowId: streamWorkflowId(generationName(spec, n)),
        state: 'catching-up',
        startedAt: Date.now(),
        targetMs: watermarkMs!,
        ...(req.transform !== undefined ? { transform } : {}),
        ...(req.force ? { force: true } : {}),
        checks: [],
      };
      carry.generations[n] = g;
      await startStreamLayer(generationSpec(spec, n, transform), { workflowId: g.workflowId });
      note(`reprocess: generation ${n} replays the source from its earliest offsets as ${g.workflowId}`);
      wake = true;
      return { generation: n, workflowId: g.workflowId, targetMs: g.targetMs! };
    },
    {
      validator: (req: ReprocessRequest) => {
        if (req === null || typeof req !== 'object' || Array.isArray(req)) {
          throw new Error('expected { transform?, force? }');
        }
        if (req.force !== undefined && typeof req.force !== 'boolean') {
          throw new Error(`force: expected true or false, got ${JSON.stringify(req.force)}`);
        }
        if (cancelRequest) throw new Error('the pipeline is stopping');
        if (carry.paused) throw new Error('the pipeline is paused: resume it first');
        const busy = candidate();
        if (busy) throw new Error(`generation ${busy.generation} is still ${busy.state}`);
        if (watermarkMs === undefined)
          throw new Error('the serving generation has committed nothing yet: nothing to reprocess');
        if (req.transform !== undefined) {
          let columns: string;
          try {
            columns = JSON.stringify(
              kappaColumns(spec, generationSpec(spec, 2, req.transform as KappaPipelineSpec['transform']).transform),
            );
          } catch (err) {
            throw new Error(`transform: ${(err as Error).message}`);
          }
          const now = JSON.stringify(kappaColumns(spec, transformOf(gen(carry.serving))));
          if (columns !== now) {
            throw new Error(
              `transform: its output columns ${columns} differ from the view's ${now}; a new view needs a new pipeline`,
            );
          }
        }
      },
    },
  );
  setHandler(rollback, () => new Promise<RollbackResult>((resolve) => ((rollbackAsked = resolve), (wake = true))), {
    validator: () => {
      if (cancelRequest) throw new Error('the pipeline is stopping');
      if (rollbackAsked) throw new Error('a rollback is under way');
      if (!retained()) throw new Error('no retained generation to roll back to');
      const busy = candidate();
      if (busy) throw new Error(`generation ${busy.generation} is still ${busy.state}`);
    },
  });

  /** The view mirrors the serving generation's latest commit: the whole schedule range, one commit. */
  const refresh = async (g: KappaGeneration, snapshotId: string) =>
    view.commit(
      {
        layer: 'stream',
        pipeline: g.pipeline,
        snapshotId,
        from: spec.schedule.start,
        ...(spec.schedule.end !== undefined ? { to: spec.schedule.end } : {}),
      },
      { annotate: { generation: g.generation } },
    );

  /** The diff of a caught-up generation against the serving one, partition by partition, up to its target. */
  const diff = async (c: KappaGeneration, candidateSnapshot: string, servingSnapshot: string) => {
    const serving = gen(carry.serving);
    c.checks = [];
    for (
      let p = spec.schedule.start;
      partitionBounds(spec.partitioning, p).end <= c.targetMs! &&
      (spec.schedule.end === undefined || p <= spec.schedule.end);
      p = nextPartition(spec.partitioning, p)
    ) {
      const figures = await checkPartition({
        pipeline: spec.name,
        partition: p,
        batchSnapshot: candidateSnapshot,
        streamSnapshot: servingSnapshot,
        tables: {
          batch: { pipeline: c.pipeline, layer: 'stream' },
          stream: { pipeline: serving.pipeline, layer: 'stream' },
        },
        keys: kappaKeys(spec),
        tolerances: spec.kappa.tolerances,
        localMaxRows: spec.kappa.localCheckMaxRows,
        attempt: 1,
        reportName: `reprocess-g${c.generation}-vs-g${serving.generation}`,
      });
      c.checks.push({ partition: p, ...figures });
    }
  };

  /** Rejected once its job is gone and its tables are dropped: nothing of it is left to serve. */
  const reject = async (c: KappaGeneration, reason: string) => {
    note(`generation ${c.generation} rejected: ${reason}; the view stays on generation ${carry.serving}`);
    await layerOf(c).stop({ savepoint: false, reason: 'reprocess rejected' });
    await quick.dropLakeTables({ pipeline: c.pipeline, layers: ['stream', 'late'] });
    c.state = 'rejected';
    c.reason = reason;
  };

  /** One round of a reprocess: caught up? then diff, then switch or reject. */
  const advanceCandidate = async (c: KappaGeneration) => {
    if (c.state === 'catching-up') {
      // A generation whose stream ended before catching up (refused by Flink, out of restarts) is rejected.
      const { status: ended } = await quick.workflowStatus({ workflowId: c.workflowId });
      if (ended !== 'RUNNING') return reject(c, `its stream ${c.workflowId} ended ${ended} before catching up`);
    }
    const progress = await layerOf(c).progress();
    if (c.state === 'catching-up') {
      if (progress.watermarkMs === undefined || progress.watermarkMs < Math.max(c.targetMs!, watermarkMs ?? 0)) return;
      c.state = 'checking';
      note(`generation ${c.generation} caught up (watermark ${new Date(progress.watermarkMs).toISOString()}): diffing`);
    }
    await diff(c, progress.snapshotId!, streamSnapshot!);
    const failed = c.checks.filter((x) => !x.consistent);
    if (failed.length && !c.force) {
      return reject(
        c,
        `diff failed in ${failed.map((x) => `${x.partition} (${x.mismatched} mismatched, ${x.missingInBatch + x.missingInStream} one-sided; ${x.report})`).join(', ')}`,
      );
    }
    const old = gen(carry.serving);
    const switched = await refresh(c, progress.snapshotId!);
    c.state = 'serving';
    c.switchSnapshot = switched.snapshotId;
    if (failed.length)
      c.reason = `switched by force although the diff failed in ${failed.map((x) => x.partition).join(', ')}`;
    carry.serving = c.generation;
    old.state = 'retained';
    old.retainUntil = Date.now() + retainMs;
    note(
      `view switched to generation ${c.generation} in snapshot ${switched.snapshotId ?? '(none)'}; generation ${old.generation} retained until ${new Date(old.retainUntil).toISOString()}`,
    );
    await layerOf(old).pause();
    streamSnapshot = progress.snapshotId;
    watermarkMs = progress.watermarkMs;
  };

  const doRollback = async (): Promise<RollbackResult> => {
    const back = retained()!;
    const from = gen(carry.serving);
    const layer = layerOf(back);
    const progress = await layer.progress();
    const result = await refresh(back, progress.snapshotId!);
    back.state = 'serving';
    delete back.retainUntil;
    from.state = 'retained';
    from.retainUntil = Date.now() + retainMs;
    from.reason = `rolled back to generation ${back.generation}`;
    carry.serving = back.generation;
    note(
      `rolled back: the view serves generation ${back.generation} again (snapshot ${result.snapshotId ?? '(none)'})`,
    );
    await layer.resume();
    await layerOf(from).pause();
    return {
      serving: back.generation,
      from: from.generation,
      ...(result.snapshotId ? { viewSnapshot: result.snapshotId } : {}),
    };
  };

  try {
    // The first generation, once: later runs (continue-as-new) find their generations running.
    if (!input.carry) await startStreamLayer(generationSpec(spec, 1), { workflowId: gen(1).workflowId });
    setState(carry.paused ? 'PAUSED' : 'RUNNING', 'serving generation started');
    while (!cancelRequest) {
      const serving = gen(carry.serving);
      const progress = await layerOf(serving).progress();
      watermarkMs = progress.watermarkMs ?? watermarkMs;
      if (progress.snapshotId && progress.snapshotId !== carry.view.provenance.streamSnapshot) {
        await refresh(serving, progress.snapshotId);
      }
      streamSnapshot = progress.snapshotId ?? streamSnapshot;

      const c = candidate();
      if (c && !carry.paused) await advanceCandidate(c);
      if (rollbackAsked) {
        const answer = rollbackAsked;
        rollbackAsked = undefined;
        answer(await doRollback());
      }
      for (const g of Object.values(carry.generations)) {
        if (g.state === 'retained' && g.retainUntil !== undefined && Date.now() >= g.retainUntil) {
          await layerOf(g).stop({ savepoint: false, reason: 'retention over' });
          await quick.dropLakeTables({ pipeline: g.pipeline, layers: ['stream', 'late'] });
          g.state = 'removed';
          note(`generation ${g.generation} removed (retention of ${spec.kappa.retainOld} over)`);
        }
      }
      if (carry.view.viewSnapshot && Date.now() - (carry.lastExpiryAt ?? 0) >= EXPIRY_EVERY_MS) {
        carry.lastExpiryAt = Date.now();
        await quick.expireView({
          pipeline: spec.name,
          olderThanMs: Date.now() - parseDuration(spec.kappa.retainSnapshots)!.ms,
        });
      }
      setState(carry.paused ? 'PAUSED' : 'RUNNING', 'round');
      if (workflowInfo().continueAsNewSuggested && !candidate() && !rollbackAsked) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof kappaPipelineWorkflow>({ ...input, carry });
      }
      wake = false;
      await condition(() => wake || cancelRequest !== undefined, pollMs);
    }
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => stopAll({ reason: 'workflow cancelled' }));
      setState('CANCELLED', 'workflow cancelled');
      throw err;
    }
    error = rootCauseMessage(err);
    setState('FAILED', error);
    throw err;
  }
  await stopAll(cancelRequest);
  setState('CANCELLED', cancelRequest.reason ?? 'cancelled');
  return {
    pipeline: spec.name,
    state: 'CANCELLED',
    serving: carry.serving,
    ...(carry.view.viewSnapshot ? { viewSnapshot: carry.view.viewSnapshot } : {}),
  };

  /** Stops every generation that runs: the serving one as asked (final savepoint by default), the others without. */
  async function stopAll(req: CancelStream) {
    note(`stopping: ${req.reason ?? 'cancelled'}`);
    for (const g of Object.values(carry.generations)) {
      if (g.state === 'serving') await layerOf(g).stop(req);
      else if (ACTIVE.has(g.state) || g.state === 'retained') await layerOf(g).stop({ ...req, savepoint: false });
    }
  }
}
