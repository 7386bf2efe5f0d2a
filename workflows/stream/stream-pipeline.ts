import {
  ActivityCancellationType,
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { JobSnapshot, SnapshotTaken } from '../../activities/stream';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES, rootCauseMessage } from '../../lib/errors';
import { specOfKind } from '../spec-input';
import { compileStreaming, parseDuration, streamDemand, type StreamingPipelineSpec } from '../../lib/pipelines';
import { SluiceKind, SluicePipeline, SluicePool, SluiceState, SluiceTenant } from '../../lib/search-attributes';
import {
  cancelStream,
  pause,
  rescale,
  resume,
  savepoint,
  savepoints,
  streamStatus,
  type RescaleResult,
  type SavepointRecord,
  type SnapshotReason,
  type StreamState,
  type StreamStatus,
} from '../messages';
import { acquireAdmission, adoptAdmission, type AdmissionLease } from '../pool/admission';
import type { StreamCarry, StreamingPipelineInput, StreamingPipelineResult } from './types';

const PERMANENT = [...NON_RETRYABLE_ERROR_TYPES];

// Every engine step heartbeats: a worker killed mid-step is noticed within the heartbeat timeout,
// and the retry looks the step up in Flink (JobID, trigger id) instead of doing it again.
const flink = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', nonRetryableErrorTypes: PERMANENT },
});
const watcher = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '15 seconds',
  // Watching starts nothing: an operation abandons it at once.
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', nonRetryableErrorTypes: PERMANENT },
});

/** How long one watch activity runs before it reports a fresh snapshot (a history event pair). */
const WATCH_ROUND_MS = 30_000;
/** Patch id: a lost job's restore point searched newest first (see `restorePoint`). */
export const RESTORE_NEWEST_FIRST = 'sluice-restore-newest-first';
/** A new generation must be RUNNING within this (slots, a restore) or it counts as failed. */
const START_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_RESCALE_TIMEOUT_MS = 90_000;
const MAX_EVENTS = 50;

type Op =
  | { kind: 'rescale'; parallelism: number; timeoutMs: number; done?: boolean; result?: RescaleResult; error?: string }
  | { kind: 'savepoint'; done?: boolean; result?: SavepointRecord; error?: string };

/**
 * A streaming pipeline (workflow id `stream/<pipeline>`), as a durable state machine over Flink
 * (docs/architecture.md#streaming-pipelines): admission → submit a generation → watch, with pause,
 * resume, rescale, savepoint and cancel as sagas between watch rounds, recovery from failures and
 * from a JobManager that lost the job, and continue-as-new carrying the generation, the
 * parallelism, the savepoint catalogue and the grant.
 */
export async function streamingPipelineWorkflow(input: StreamingPipelineInput): Promise<StreamingPipelineResult> {
  const spec: StreamingPipelineSpec = specOfKind(input.pipeline, 'streaming');
  const s = spec.stream;
  const { workflowId } = workflowInfo();
  const compiled = compileStreaming(spec);
  const watchTarget = { groupId: compiled.groupId, topic: compiled.sourceTopic };
  const carry: StreamCarry = input.carry ?? {
    generation: 0,
    parallelism: s.parallelism,
    paused: false,
    savepoints: [],
    disposed: 0,
    recoveryAttempts: 0,
    events: [],
    restoreFrom: input.restoreFrom,
  };
  const ms = (text: string) => parseDuration(text)!.ms;
  const st: StreamStatus = {
    pipeline: spec.name,
    state: carry.jobId ? 'RUNNING' : carry.paused ? 'PAUSED' : 'STARTING',
    generation: carry.generation,
    jobId: carry.jobId,
    parallelism: carry.parallelism,
    maxParallelism: s.maxParallelism,
    flinkRestarts: 0,
    recoveryAttempts: carry.recoveryAttempts,
    lastCheckpoint: carry.lastCheckpoint,
    lastSavepoint: carry.savepoints.at(-1),
    events: carry.events,
  };
  let jobId = carry.jobId;
  let lease: AdmissionLease | undefined = carry.lease ? adoptAdmission(s.pool, carry.lease) : undefined;
  let revokedBecause: string | undefined;
  const ops: Op[] = [];
  let pauseRequested = false;
  let resumeRequested = false;
  let cancelRequest: { reason: string; savepoint: boolean } | undefined;
  let watchScope: CancellationScope | undefined;
  let admissionScope: CancellationScope | undefined;
  const wake = () => {
    watchScope?.cancel();
    if (cancelRequest || pauseRequested) admissionScope?.cancel();
  };

  const note = (what: string) => {
    carry.events.push({ at: Date.now(), what });
    if (carry.events.length > MAX_EVENTS) carry.events.splice(0, carry.events.length - MAX_EVENTS);
  };
  const setState = (state: StreamState, details: string) => {
    if (st.state !== state) upsertSearchAttributes([{ key: SluiceState, value: state }]);
    st.state = state;
    st.generation = carry.generation;
    st.parallelism = carry.parallelism;
    st.jobId = jobId;
    setCurrentDetails(
      `**${state}** ${spec.name}: ${details}\n\ngeneration ${carry.generation}, parallelism ${carry.parallelism}` +
        (jobId ? `, Flink job ${jobId}` : '') +
        (st.lastSavepoint ? `\n\nlast savepoint: ${st.lastSavepoint.path}` : ''),
    );
  };
  const watchLease = (l: AdmissionLease) =>
    l.onRevoke((reason) => {
      if (l !== lease) return; // a grant being given back (the old one of a rescale)
      revokedBecause = reason;
      wake();
    });
  if (lease) watchLease(lease);

  // ---- messages

  setHandler(streamStatus, () => st);
  setHandler(savepoints, () => ({
    pipeline: spec.name,
    savepoints: [
      ...carry.savepoints.map((r) => ({ ...r, pinned: r.path === carry.restoreFrom })),
      ...(carry.lastCheckpoint?.path
        ? [
            {
              path: carry.lastCheckpoint.path,
              kind: 'checkpoint' as const,
              reason: 'checkpoint' as const,
              generation: carry.generation,
              jobId: jobId ?? '',
              takenAt: carry.lastCheckpoint.at,
            },
          ]
        : []),
    ],
    retain: {
      count: s.savepoints.retain.count,
      maxAgeMs: s.savepoints.retain.maxAge ? ms(s.savepoints.retain.maxAge) : undefined,
    },
    disposed: carry.disposed,
  }));
  setHandler(pause, () => {
    // A pause after a resume that has not run yet withdraws it: the last word wins.
    if ((carry.paused || pauseRequested) && resumeRequested) {
      resumeRequested = false;
      return note('resume withdrawn by a pause');
    }
    if (carry.paused || pauseRequested) return note('pause ignored: already paused');
    pauseRequested = true;
    note('pause requested');
    wake();
  });
  setHandler(resume, () => {
    if (!carry.paused && !pauseRequested) return note(`resume ignored: the stream is ${st.state}, not paused`);
    resumeRequested = true;
    note('resume requested');
  });
  setHandler(cancelStream, (request) => {
    if (cancelRequest) return;
    cancelRequest = { reason: request?.reason ?? 'cancelled by signal', savepoint: request?.savepoint ?? true };
    note(`cancel requested: ${cancelRequest.reason}`);
    wake();
  });
  const runOp = async (op: Op): Promise<unknown> => {
    ops.push(op);
    wake();
    await condition(() => op.done === true);
    if (op.error !== undefined) {
      throw ApplicationFailure.nonRetryable(
        op.error,
        op.kind === 'rescale' ? ErrorType.rescaleFailed : ErrorType.savepointFailed,
      );
    }
    return op.result;
  };
  const mustRun = (what: string) => {
    if (st.state !== 'RUNNING' || !jobId) {
      throw ApplicationFailure.nonRetryable(
        `${what}: stream/${spec.name} is ${st.state}; it must be RUNNING`,
        ErrorType.invalidStreamState,
      );
    }
  };
  setHandler(
    rescale,
    async ({ parallelism, timeoutMs }) =>
      (await runOp({
        kind: 'rescale',
        parallelism,
        timeoutMs: timeoutMs ?? DEFAULT_RESCALE_TIMEOUT_MS,
      })) as RescaleResult,
    {
      // Runs before the update enters history: a bad request changes nothing.
      validator: (request) => {
        const p = (request as { parallelism?: unknown } | undefined)?.parallelism;
        if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > s.maxParallelism) {
          throw new Error(
            `parallelism: expected an integer from 1 to maxParallelism ${s.maxParallelism}, got ${JSON.stringify(p)}`,
          );
        }
        const t = (request as { timeoutMs?: unknown }).timeoutMs;
        if (t !== undefined && (typeof t !== 'number' || !(t > 0))) {
          throw new Error(`timeoutMs: expected a positive number of milliseconds, got ${JSON.stringify(t)}`);
        }
        mustRun('rescale');
        if (ops.length > 0) throw new Error(`rescale: another operation (${ops[0]!.kind}) is in progress`);
      },
    },
  );
  setHandler(savepoint, async () => (await runOp({ kind: 'savepoint' })) as SavepointRecord, {
    validator: () => mustRun('savepoint'),
  });

  upsertSearchAttributes([
    { key: SluicePipeline, value: spec.name },
    { key: SluiceKind, value: 'streaming' },
    { key: SluicePool, value: s.pool },
    { key: SluiceTenant, value: s.tenant },
  ]);

  // ---- steps

  const askFor = (parallelism: number) => ({
    tenant: s.tenant,
    queue: s.queue,
    priority: s.priority,
    demand: streamDemand(spec, parallelism),
    kind: 'streaming' as const,
    preemptible: true,
    acrossRuns: true,
  });

  const record = (taken: SnapshotTaken, reason: SnapshotReason, forJob: string): SavepointRecord => {
    const entry: SavepointRecord = {
      path: taken.location!,
      kind: 'savepoint',
      reason,
      generation: carry.generation,
      jobId: forJob,
      takenAt: Date.now(),
      offsets: taken.offsets,
      restorable: true,
    };
    carry.savepoints.push(entry);
    st.lastSavepoint = entry;
    note(`${reason} savepoint ${entry.path}`);
    return entry;
  };

  /** Stops the live job (with a savepoint unless told not to) and forgets it; returns the savepoint. */
  const stopJob = async (reason: SnapshotReason, withSavepoint = true): Promise<SavepointRecord | undefined> => {
    const stopping = jobId!;
    const taken = await flink.stopStreamJob({
      jobId: stopping,
      triggerKey: `${workflowId}#${carry.generation}#stop`,
      savepoint: withSavepoint,
      ...watchTarget,
    });
    jobId = undefined;
    st.jobId = undefined;
    return withSavepoint ? record(taken, reason, stopping) : undefined;
  };

  /** Ends a job without a savepoint (a failed generation, a rollback, a stop Flink could not savepoint). */
  const cancelJob = (id: string) =>
    flink.stopStreamJob({
      jobId: id,
      triggerKey: `${workflowId}#${carry.generation}#stop`,
      savepoint: false,
      ...watchTarget,
    });

  /** Submits the next generation (from `carry.restoreFrom`) and waits for it to run. */
  const submit = async (parallelism: number, timeoutMs = START_TIMEOUT_MS): Promise<JobSnapshot> => {
    carry.generation += 1;
    const sub = await flink.submitStreamGeneration({
      workflowId,
      firstRunId: workflowInfo().firstExecutionRunId,
      pipeline: spec.name,
      generation: carry.generation,
      parallelism,
      compiled,
      restoreFrom: carry.restoreFrom,
    });
    jobId = sub.jobId;
    st.jobName = sub.jobName;
    st.jobUrl = sub.jobUrl;
    note(
      `generation ${carry.generation} submitted as ${sub.jobId} at parallelism ${parallelism}${carry.restoreFrom ? ` from ${carry.restoreFrom}` : ''}`,
    );
    return flink.awaitStreamRunning({ jobId: sub.jobId, parallelism, timeoutMs });
  };

  /** Disposes savepoints beyond the retention (count and age); never the one a restore needs. */
  const applyRetention = async () => {
    const { count, maxAge } = s.savepoints.retain;
    const checked = await flink.checkRestorable({ topic: compiled.sourceTopic, snapshots: carry.savepoints });
    for (const c of checked) {
      const entry = carry.savepoints.find((r) => r.path === c.path);
      if (entry) Object.assign(entry, { restorable: c.restorable, unrestorableBecause: c.because });
    }
    // Kept: the savepoint the next restore needs and the newest restorable one, always; then the
    // newest others up to the count. Everything else, and whatever is past the age limit, goes.
    const mandatory = new Set(
      [carry.restoreFrom, [...carry.savepoints].reverse().find((r) => r.restorable)?.path].filter(Boolean),
    );
    const now = Date.now();
    const kept = new Set<string>(mandatory as Set<string>);
    for (const r of [...carry.savepoints].reverse()) {
      if (kept.size >= count) break;
      if (maxAge === undefined || now - r.takenAt <= ms(maxAge)) kept.add(r.path);
    }
    const victims = carry.savepoints.filter((r) => !kept.has(r.path));
    for (const victim of victims) {
      await flink.disposeSavepoint({ path: victim.path });
      // Removed from the catalogue only once Flink has disposed of it: no orphaned files.
      carry.savepoints = carry.savepoints.filter((r) => r !== victim);
      carry.disposed += 1;
      note(`disposed savepoint ${victim.path}`);
    }
  };

  /**
   * The newest point a failed or lost job can restart from, newest first: its newest completed
   * checkpoint (as the JobManager reports it, or as retained on disk when the JobManager forgot
   * the job), then savepoints it took, then the point it started from, and only then older
   * savepoints. Never an older point than the newest: the sinks have committed everything up to
   * it, and restoring an older one would commit those windows twice.
   */
  const restorePoint = async (lostJob: string | undefined, snap?: JobSnapshot): Promise<string | undefined> => {
    let newest = snap?.checkpoint?.path;
    // Before this patch the disk was searched only when a watch round had reported a checkpoint,
    // and older savepoints came before the generation's own start: a generation lost before its
    // first reported checkpoint restarted from a point older than what its sinks had committed.
    const fixed = patched(RESTORE_NEWEST_FIRST);
    if (!newest && lostJob && (fixed || carry.lastCheckpoint?.path)) {
      newest = await flink.newestRetainedCheckpoint({ knownCheckpoint: carry.lastCheckpoint?.path, jobId: lostJob });
    }
    const newestFirst = [...carry.savepoints].reverse();
    const ordered: { path: string }[] = fixed
      ? [
          ...newestFirst.filter((r) => r.generation === carry.generation),
          ...(carry.restoreFrom
            ? [carry.savepoints.find((r) => r.path === carry.restoreFrom) ?? { path: carry.restoreFrom }]
            : []),
          ...newestFirst.filter((r) => r.generation !== carry.generation),
        ]
      : newestFirst;
    const candidates = [...(newest ? [{ path: newest }] : []), ...ordered].filter(
      (c, i, all) => all.findIndex((o) => o.path === c.path) === i,
    );
    if (candidates.length === 0) return carry.restoreFrom;
    const checked = await flink.checkRestorable({ topic: compiled.sourceTopic, snapshots: candidates });
    const chosen = checked.find((c) => c.restorable)?.path ?? carry.restoreFrom;
    const startedFrom = candidates.findIndex((c) => c.path === carry.restoreFrom);
    if (fixed && chosen && startedFrom >= 0 && candidates.findIndex((c) => c.path === chosen) > startedFrom) {
      note(
        `restoring ${chosen}, older than where generation ${carry.generation} started: windows may be committed twice`,
      );
    }
    return chosen;
  };

  /**
   * Stops the live job for a pause, a revocation or a cancel, and returns where it resumes from:
   * its savepoint, or, when Flink cannot take one (a failing job, a job the JobManager lost), the
   * newest retained checkpoint, after the job was cancelled. The stop itself always happens.
   */
  const stopForGood = async (reason: SnapshotReason, withSavepoint = true): Promise<string | undefined> => {
    const stopping = jobId!;
    try {
      return (await stopJob(reason, withSavepoint))?.path;
    } catch (err) {
      const type = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause.type : '';
      if (type !== ErrorType.savepointFailed && type !== ErrorType.streamJobGone) throw err;
      note(`${reason}: no savepoint (${rootCauseMessage(err)}); stopping without one`);
      await cancelJob(stopping);
      jobId = undefined;
      return restorePoint(stopping);
    }
  };

  const releaseLease = async () => {
    await lease?.release();
    lease = undefined;
  };

  /** A failed or lost job: restart from the newest restorable point, with bounded attempts and backoff. */
  const recover = async (why: string, snap?: JobSnapshot) => {
    carry.recoveryAttempts += 1;
    st.recoveryAttempts = carry.recoveryAttempts;
    st.rootCause = snap?.rootCause ?? st.rootCause;
    if (carry.recoveryAttempts > s.restart.attempts) {
      const message = `${why}; gave up after ${s.restart.attempts} restarts${st.rootCause ? `: ${st.rootCause}` : ''}`;
      st.error = message;
      note(message);
      if (jobId) await cancelJob(jobId);
      jobId = undefined;
      await releaseLease();
      setState('FAILED', message);
      throw ApplicationFailure.nonRetryable(message, ErrorType.streamNotRunning);
    }
    setState('RECOVERING', `${why}; restart ${carry.recoveryAttempts} of ${s.restart.attempts}`);
    const lostJob = jobId;
    if (jobId) {
      // Make sure the old generation has ended before the next one starts: never two jobs.
      await cancelJob(jobId);
      jobId = undefined;
    }
    await sleep(ms(s.restart.backoff) * carry.recoveryAttempts);
    carry.restoreFrom = await restorePoint(lostJob, snap);
    recovering = true;
    note(`recovering (${why}) from ${carry.restoreFrom ?? 'the start of the topic'}`);
  };

  const doRescale = async (op: Extract<Op, { kind: 'rescale' }>) => {
    const from = carry.parallelism;
    const to = op.parallelism;
    st.operation = `rescale ${from} → ${to}`;
    setState('RESCALING', `rescaling ${from} → ${to}: asking pool ${s.pool} for the new demand`);
    // 1. Admit the new demand first, while the old grant is still held: nothing stops before the
    //    pool has room for the new parallelism.
    let next: AdmissionLease | undefined;
    const waitScope = new CancellationScope();
    const timerScope = new CancellationScope();
    timerScope.run(() => sleep(op.timeoutMs).then(() => waitScope.cancel())).catch(() => undefined);
    try {
      next = await waitScope.run(() => acquireAdmission(s.pool, askFor(to)));
    } catch (err) {
      if (!isCancellation(err)) throw err;
    } finally {
      timerScope.cancel();
    }
    if (!next) {
      op.error = `rescale ${from} → ${to}: pool ${s.pool} had no room for ${JSON.stringify(streamDemand(spec, to))} within ${op.timeoutMs} ms; nothing was changed`;
      note(op.error);
      setState('RUNNING', 'rescale refused by the pool');
      return;
    }
    // 2. Stop with a savepoint; 3. restore from it at the new parallelism; 4. check it in Flink.
    setState('RESCALING', `rescaling ${from} → ${to}: stop with savepoint`);
    let sp: SavepointRecord;
    try {
      sp = (await stopJob('rescale'))!;
    } catch (err) {
      // Nothing stopped (no savepoint): the old generation runs on, under the old grant.
      await next.release();
      throw err;
    }
    carry.restoreFrom = sp.path;
    try {
      setState('RESCALING', `rescaling ${from} → ${to}: restoring from ${sp.path}`);
      const snap = await submit(to, op.timeoutMs);
      // The old grant goes back once the caller has its answer (both are held until then).
      releaseAfterOp = lease;
      lease = next;
      watchLease(lease);
      carry.parallelism = to;
      op.result = { from, to, savepoint: sp.path, jobId: jobId!, vertexParallelism: snap.vertexParallelism };
      note(`rescaled ${from} → ${to}`);
    } catch (err) {
      if (isCancellation(err)) throw err;
      // Roll back: end the new generation, restore the old parallelism from the same savepoint.
      const cause = rootCauseMessage(err);
      note(`rescale ${from} → ${to} failed (${cause}); rolling back`);
      setState('RESCALING', `rescale to ${to} failed; rolling back to ${from} from ${sp.path}`);
      if (jobId) await stopJob('rescale', false);
      await next.release();
      carry.restoreFrom = sp.path;
      await submit(from);
      op.error = `rescale ${from} → ${to} failed: ${cause}; rolled back to parallelism ${from} from savepoint ${sp.path}`;
    } finally {
      st.operation = undefined;
    }
  };

  const doSavepoint = async (op: Extract<Op, { kind: 'savepoint' }>) => {
    st.operation = 'savepoint';
    const n = carry.savepoints.length + carry.disposed + 1;
    const taken = await flink.takeSavepoint({
      jobId: jobId!,
      triggerKey: `${workflowId}#${carry.generation}#savepoint#${n}`,
      ...watchTarget,
    });
    op.result = record(taken, 'on-demand', jobId!);
    st.operation = undefined;
  };

  // ---- the state machine

  let rounds = 0;
  /** Set by `recover`: the next submission is a recovery, not a start or a resume. */
  let recovering = false;
  let finalRestorePoint: string | undefined;
  let releaseAfterOp: AdmissionLease | undefined;
  try {
    for (;;) {
      if (cancelRequest && !jobId) break;

      if (carry.paused) {
        await releaseLease();
        setState(
          'PAUSED',
          `paused${carry.restoreFrom ? `; resumes from ${carry.restoreFrom}` : ''}; signal resume to go on`,
        );
        await condition(() => resumeRequested || cancelRequest !== undefined);
        if (cancelRequest) continue;
        // A resume and then a pause in one activation: the condition was met after the resume, and
        // the pause withdrew it before this line ran (no microtask runs between an activation's
        // jobs). The last word wins: still paused (seen in CI: the stream resumed anyway).
        if (!resumeRequested) continue;
        resumeRequested = false;
        carry.paused = false;
        note('resumed');
      }

      if (!lease) {
        setState(
          'WAITING_ADMISSION',
          `asking pool ${s.pool} for ${JSON.stringify(streamDemand(spec, carry.parallelism))}`,
        );
        admissionScope = new CancellationScope();
        try {
          lease = await admissionScope.run(() => acquireAdmission(s.pool, askFor(carry.parallelism)));
        } catch (err) {
          if (isCancellation(err) && cancelRequest) continue;
          if (isCancellation(err) && pauseRequested) {
            // Paused while waiting: nothing runs, nothing to stop.
            pauseRequested = false;
            carry.paused = true;
            continue;
          }
          throw err;
        } finally {
          admissionScope = undefined;
        }
        revokedBecause = undefined;
        watchLease(lease);
      }

      if (!jobId) {
        setState(
          recovering ? 'RECOVERING' : 'STARTING',
          `submitting generation ${carry.generation + 1}${carry.restoreFrom ? ` from ${carry.restoreFrom}` : ''}`,
        );
        try {
          const snap = await submit(carry.parallelism);
          st.flinkState = snap.state;
        } catch (err) {
          if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) throw err;
          if (err.cause.type !== ErrorType.streamNotRunning) throw err;
          await recover(`generation ${carry.generation} did not start: ${err.cause.message}`);
          continue;
        }
        recovering = false;
        setState('RUNNING', `generation ${carry.generation} runs`);
      }

      // Between watch rounds: the operations that arrived, in order.
      if (revokedBecause) {
        setState('PAUSING', `pool ${s.pool} revoked the grant (${revokedBecause}): stop with savepoint`);
        carry.restoreFrom = await stopForGood('revoked');
        await releaseLease();
        note(`paused by the pool (${revokedBecause}); resumes when re-admitted`);
        await applyRetention();
        revokedBecause = undefined;
        continue;
      }
      if (cancelRequest || pauseRequested) {
        // Operations queued behind a pause or a cancel do not run.
        for (const queued of ops.splice(0)) {
          queued.error = `stream/${spec.name} was ${cancelRequest ? 'cancelled' : 'paused'} before the ${queued.kind} could run`;
          queued.done = true;
        }
      }
      if (cancelRequest) {
        setState('CANCELLING', cancelRequest.reason);
        // Where a later run of this stream picks up: the final savepoint, or the newest checkpoint
        // when Flink could not take one.
        finalRestorePoint = await stopForGood('cancel', cancelRequest.savepoint);
        continue;
      }
      if (pauseRequested) {
        setState('PAUSING', 'stop with savepoint');
        carry.restoreFrom = await stopForGood('pause');
        pauseRequested = false;
        carry.paused = true;
        await applyRetention();
        continue;
      }
      const op = ops[0];
      if (op) {
        try {
          if (op.kind === 'rescale') await doRescale(op);
          else await doSavepoint(op);
        } catch (err) {
          if (isCancellation(err)) throw err;
          op.error = rootCauseMessage(err);
        }
        op.done = true;
        ops.shift();
        if (jobId) setState('RUNNING', `generation ${carry.generation} runs`);
        await releaseAfterOp?.release();
        releaseAfterOp = undefined;
        // Retention after the caller has its answer: disposing old savepoints is not the operation's cost.
        if (op.result) {
          await applyRetention().catch((err: unknown) => {
            if (isCancellation(err)) throw err;
            note(`retention failed: ${rootCauseMessage(err)}`);
          });
        }
        continue;
      }

      // Continue as new between operations, with the job running and the grant held.
      if (
        (workflowInfo().continueAsNewSuggested ||
          (input.continueAsNewAfterRounds !== undefined && rounds >= input.continueAsNewAfterRounds)) &&
        ops.length === 0
      ) {
        // An update that arrives meanwhile runs first (its handler waits for this loop).
        await condition(() => allHandlersFinished() || ops.length > 0);
        if (ops.length === 0 && !pauseRequested && !cancelRequest && !revokedBecause) {
          return await continueAsNew<typeof streamingPipelineWorkflow>({
            pipeline: spec,
            carry: { ...carry, jobId, lease: lease && { requestId: lease.requestId, grantedAt: lease.grantedAt } },
            continueAsNewAfterRounds: input.continueAsNewAfterRounds,
          });
        }
      }

      // Periodic savepoints, when the spec asks for them. One that fails is noted, not fatal: the
      // job runs on and the next interval tries again.
      if (s.savepoints.interval && Date.now() - (carry.lastPeriodicSavepointAt ?? 0) >= ms(s.savepoints.interval)) {
        carry.lastPeriodicSavepointAt = Date.now();
        const n = carry.savepoints.length + carry.disposed + 1;
        try {
          const taken = await flink.takeSavepoint({
            jobId: jobId!,
            triggerKey: `${workflowId}#${carry.generation}#savepoint#${n}`,
            ...watchTarget,
          });
          record(taken, 'periodic', jobId!);
          await applyRetention();
        } catch (err) {
          if (isCancellation(err)) throw err;
          note(`periodic savepoint failed: ${rootCauseMessage(err)}`);
        }
      }

      // Watch one round; an operation, a revocation or a cancel cuts it short.
      rounds += 1;
      let snap: JobSnapshot | undefined;
      watchScope = new CancellationScope();
      try {
        snap = await watchScope.run(() =>
          watcher.watchStreamJob({ jobId: jobId!, ...watchTarget, maxMs: WATCH_ROUND_MS }),
        );
      } catch (err) {
        if (!isCancellation(err)) throw err;
      } finally {
        watchScope = undefined;
      }
      if (!snap) continue;
      st.flinkState = snap.state;
      st.flinkRestarts = snap.restarts;
      st.lag = snap.lag;
      if (snap.rootCause) st.rootCause = snap.rootCause;
      if (snap.checkpoint && snap.checkpoint.id !== carry.lastCheckpoint?.id) {
        carry.lastCheckpoint = snap.checkpoint;
        st.lastCheckpoint = snap.checkpoint;
        // A checkpoint completed after the restart: the failure streak is over.
        if (carry.recoveryAttempts > 0 && snap.state === 'RUNNING' && snap.checkpoint.id !== snap.restored?.id) {
          carry.recoveryAttempts = 0;
          st.recoveryAttempts = 0;
        }
      }
      if (snap.state === 'GONE') {
        await recover('the JobManager no longer knows the job (restarted?)');
        jobId = undefined;
      } else if (
        snap.state === 'FAILED' ||
        snap.state === 'CANCELED' ||
        snap.state === 'FINISHED' ||
        snap.state === 'SUSPENDED'
      ) {
        await recover(`the job ended ${snap.state}`, snap);
      } else if (snap.state === 'RESTARTING' || snap.state === 'INITIALIZING' || snap.state === 'CREATED') {
        setState(
          'RECOVERING',
          `Flink restarts the job (restarts so far: ${snap.restarts})${snap.rootCause ? `: ${snap.rootCause}` : ''}`,
        );
      } else if (st.state !== 'RUNNING') {
        setState('RUNNING', `generation ${carry.generation} runs`);
      }
    }
  } catch (err) {
    // Continue-as-new is thrown too: the job and the grant go on in the next run.
    if (err instanceof ContinueAsNew) throw err;
    if (!isCancellation(err)) {
      st.error ??= rootCauseMessage(err);
      // Never leave a job running unwatched, nor a grant held by a failed workflow.
      await CancellationScope.nonCancellable(async () => {
        if (jobId) await cancelJob(jobId).catch(() => undefined);
        await releaseLease();
      });
      if (st.state !== 'FAILED') setState('FAILED', st.error);
      throw err;
    }
    // A Temporal cancellation: stop the job (no savepoint can be awaited safely), release, end.
    // (A failure lands here too, below: the job is stopped and the grant released before failing.)
    await CancellationScope.nonCancellable(async () => {
      if (jobId) await cancelJob(jobId);
      await releaseLease();
      setState('CANCELLED', 'workflow cancelled');
    });
    throw err;
  }

  await releaseLease();
  // Cancelled while paused (or waiting for admission): the pause's savepoint is where a later run picks up.
  if (cancelRequest!.savepoint) finalRestorePoint ??= carry.restoreFrom;
  setState('CANCELLED', cancelRequest!.reason);
  return {
    pipeline: spec.name,
    state: 'CANCELLED',
    generation: carry.generation,
    savepoint: finalRestorePoint,
  };
}
