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
import { dlqTopic, parseIntakeSpec, type IntakeSpec } from '../../lib/intake/spec';
import { cancelStream, intakeStatus, pause, resume, type IntakeStatus } from '../messages';
import { isRevocation, withAdmission } from '../pool/admission';

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
  /** Register the topic's schema even if it drops or retypes a column of the registered one. */
  forceSchema?: boolean;
  /** Carried over continue-as-new: the last status and whether it was paused. */
  carry?: { status: IntakeStatus; paused: boolean };
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
    source: `${spec.source.kind}:${spec.source.dir}/${spec.source.pattern} (${spec.source.format})`,
    recordsIn: 0,
    recordsOut: 0,
    deadLetters: 0,
    commits: 0,
    lagBytes: 0,
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
  try {
    while (!cancelled && slices < SLICES_PER_RUN) {
      if (paused) {
        status.state = 'PAUSED';
        await condition(() => !paused || cancelled);
        continue;
      }
      status.state = 'ADMITTING';
      try {
        await withAdmission(
          spec.intake.pool,
          {
            tenant: spec.intake.tenant,
            queue: spec.intake.queue,
            priority: spec.intake.priority,
            demand: spec.intake.resources,
            kind: 'streaming',
          },
          async () => {
            status.state = 'RUNNING';
            while (!paused && !cancelled && slices < SLICES_PER_RUN) {
              running = new CancellationScope();
              try {
                const r = await running.run(() => intake.runIntakeSlice({ intake: spec, sliceMs: SLICE_MS }));
                Object.assign(status, r.counts, { commits: r.commits, lagBytes: r.lagBytes, files: r.files });
                delete status.error;
                slices += 1;
              } catch (err) {
                if (isCancellation(err) && (paused || cancelled)) return;
                throw err;
              } finally {
                running = undefined;
              }
            }
          },
        );
      } catch (err) {
        // A revoked grant (preemption, a shrinking pool): queue again; the position is in Kafka.
        if (isRevocation(err)) continue;
        if (isCancellation(err)) {
          cancelled = true;
          break;
        }
        status.state = 'FAILED';
        status.error = rootCauseMessage(err);
        throw err;
      }
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelled = true;
  }
  if (cancelled) {
    // The slice stopped part-way: its last committed transaction has the final counts.
    const last = await CancellationScope.nonCancellable(() => reader.intakeProgress({ intake: spec }));
    Object.assign(status, last.counts, { commits: last.commits, files: last.files });
    status.state = 'CANCELLED';
    return status;
  }
  // The run's history is long enough: a new run carries the status (and a pause) on.
  return continueAsNew<typeof intakeWorkflow>({ intake: spec, carry: { status, paused } });
}
