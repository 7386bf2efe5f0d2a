/**
 * `intakeWorkflow` (`intake/<name>`, docs/intake.md): a source read into a schema'd Kafka topic,
 * exactly once, for as long as the intake runs. The workflow holds a pool grant (as a streaming
 * job holds one) and runs the intake's activity in slices; what makes the delivery exactly once
 * lives in Kafka, not here: every batch commits its records and the source position in one
 * transaction (activities/intake.ts). A pause cancels the running slice (its open transaction is
 * aborted, the last committed position stays) and gives the grant back; a resume asks again.
 * `cancel` (the signal, or Temporal's own cancellation) stops it for good.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES, rootCauseMessage } from '../../lib/errors';
import { describeSource, dlqTopic, parseIntakeSpec, type IntakeSpec } from '../../lib/intake/spec';
import { cancelStream, intakeStatus, pause, resume, type IntakeStatus } from '../messages';
import {
  acquireAdmission,
  adoptAdmission,
  type AdmissionAsk,
  type AdmissionGrant,
  type AdmissionLease,
} from '../pool/admission';

/** How long one slice runs before it reports its counts (a history event pair per slice). */
export const SLICE_MS = 10_000;
/** Slices per run before continue-as-new keeps the history short. */
const SLICES_PER_RUN = 500;

const intake = proxyActivities<Activities>({
  startToCloseTimeout: SLICE_MS + 120_000,
  heartbeatTimeout: '30 seconds',
  // A pause waits until the slice has stopped (its producer closed) before the grant is given back.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
  },
});

const reader = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
});

export interface IntakeInput {
  intake: IntakeSpec;
  /** Slices per run before continue-as-new. @default 500 */
  slicesPerRun?: number;
  /** Register the topic's schema even if it drops or retypes a column of the registered one. */
  forceSchema?: boolean;
  /** Carried over continue-as-new: the last status and whether it was paused. */
  carry?: { status: IntakeStatus; paused: boolean; lease?: Omit<AdmissionGrant, 'pool'> };
}

export async function intakeWorkflow(input: IntakeInput): Promise<IntakeStatus> {
  let spec: IntakeSpec;
  try {
    spec = parseIntakeSpec(input.intake);
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.invalidInput);
  }
  const status: IntakeStatus = input.carry?.status ?? {
    intake: spec.name,
    state: 'ADMITTING',
    topic: spec.topic,
    deadLetterTopic: dlqTopic(spec.topic),
    source: describeSource(spec),
    recordsIn: 0,
    recordsOut: 0,
    deadLetters: 0,
    commits: 0,
    files: [],
  };
  let paused = input.carry?.paused ?? false;
  let cancelled = false;
  let running: CancellationScope | undefined;
  setHandler(intakeStatus, () => status);
  setHandler(pause, () => {
    paused = true;
    running?.cancel();
  });
  setHandler(resume, () => {
    paused = false;
  });
  setHandler(cancelStream, () => {
    cancelled = true;
    running?.cancel();
  });

  let slices = 0;
  const slicesPerRun = input.slicesPerRun ?? SLICES_PER_RUN;
  if (!input.carry) {
    // The topic's schema is registered (or found unchanged) before anything is written to it; an
    // incompatible change fails the intake here, by name, with nothing admitted or produced.
    try {
      const version = await reader.registerIntakeSchema({ intake: spec, force: input.forceSchema });
      status.schemaVersion = version.version;
    } catch (err) {
      status.state = 'FAILED';
      status.error = rootCauseMessage(err);
      throw err;
    }
  }
  // The grant is held by the workflow id, not the run, so a continue-as-new keeps the intake's place
  // in its pool (as a stream keeps its own): the next run adopts it.
  const ask: AdmissionAsk = {
    tenant: spec.intake.tenant,
    queue: spec.intake.queue,
    priority: spec.intake.priority,
    demand: spec.intake.resources,
    kind: 'streaming',
    acrossRuns: true,
  };
  // A revocation cancels whatever runs under the grant (the slice, or nothing while paused).
  const held = (l: AdmissionLease) => (l.onRevoke(() => running?.cancel()), l);
  let lease: AdmissionLease | undefined = input.carry?.lease
    ? held(adoptAdmission(spec.intake.pool, input.carry.lease))
    : undefined;
  const giveBack = async () => {
    await lease?.release();
    lease = undefined;
  };
  try {
    while (!cancelled && slices < slicesPerRun) {
      if (lease?.revoked) await giveBack(); // revoked while nothing ran under it
      if (paused) {
        await giveBack();
        status.state = 'PAUSED';
        await condition(() => !paused || cancelled);
        continue;
      }
      running = new CancellationScope();
      try {
        if (!lease) {
          status.state = 'ADMITTING';
          // A pause or a cancel while waiting withdraws the request (the scope is cancelled).
          lease = held(await running.run(() => acquireAdmission(spec.intake.pool, ask)));
        }
        status.state = 'RUNNING';
        const r = await running.run(() => intake.runIntakeSlice({ intake: spec, sliceMs: SLICE_MS }));
        Object.assign(status, r.counts, {
          commits: r.commits,
          ...(r.lagMessages !== undefined ? { lagMessages: r.lagMessages } : { lagBytes: r.lagBytes ?? 0 }),
          files: r.files,
          position: r.position,
        });
        delete status.error;
        slices += 1;
      } catch (err) {
        if (!isCancellation(err)) {
          status.state = 'FAILED';
          status.error = rootCauseMessage(err);
          throw err;
        }
        // A revoked grant (preemption, a shrinking pool): ask again; the position is in Kafka.
        if (lease?.revoked) {
          await giveBack();
          continue;
        }
        if (paused || cancelled) continue;
        cancelled = true; // Temporal's own cancellation of the workflow
      } finally {
        running = undefined;
      }
    }
  } catch (err) {
    await CancellationScope.nonCancellable(giveBack);
    throw err;
  }
  if (cancelled) {
    await CancellationScope.nonCancellable(giveBack);
    // The slice stopped part-way: its last committed transaction has the final counts.
    const last = await CancellationScope.nonCancellable(() => reader.intakeProgress({ intake: spec }));
    Object.assign(status, last.counts, { commits: last.commits, files: last.files, position: last.position });
    status.state = 'CANCELLED';
    return status;
  }
  // The run's history is long enough: a new run carries the status (and a pause) on.
  const carried = lease && { requestId: lease.requestId, grantedAt: lease.grantedAt };
  return continueAsNew<typeof intakeWorkflow>({
    intake: spec,
    slicesPerRun: input.slicesPerRun,
    carry: { status, paused, lease: carried },
  });
}
