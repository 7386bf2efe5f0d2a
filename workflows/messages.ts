/**
 * Every signal, query and update of Sluice, defined once (docs/architecture.md#admission-protocol). The TypeScript name matches
 * the wire name, and a shipped name is never changed: names live in workflow histories forever.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CheckReport, LateData } from '../lib/consistency/report';
import type { RequestAdmission } from '../lib/admission';
import type { z } from 'zod';
import type { PolicyConfig, ResourceVector } from '../scheduler-policies';
import type { ConfigurePoolSchema } from './pool/pool-state';

/** The workflow id of a pool's scheduler. */
export const poolWorkflowId = (pool: string) => `pool/${pool}`;

// ---- holder → scheduler ----------------------------------------------------------------------

/** Derived from the one schema the scheduler parses with (`lib/admission.ts`). */
export type { RequestAdmission };
export const requestAdmission = defineSignal<[RequestAdmission]>('requestAdmission');

export interface ReleaseAdmission {
  requestId: string;
}
/** Releases a grant, or withdraws a request still waiting. Idempotent. */
export const releaseAdmission = defineSignal<[ReleaseAdmission]>('releaseAdmission');

// ---- scheduler → holder ----------------------------------------------------------------------

export interface AdmissionGranted {
  requestId: string;
  grantedAt: number;
}
export const admissionGranted = defineSignal<[AdmissionGranted]>('admissionGranted');

export type RevocationReason = 'preempted' | 'holder-gone' | 'pool-resized';
export interface AdmissionRevoked {
  requestId: string;
  reason: RevocationReason;
}
export const admissionRevoked = defineSignal<[AdmissionRevoked]>('admissionRevoked');

export interface AdmissionRejected {
  requestId: string;
  reason: string;
}
export const admissionRejected = defineSignal<[AdmissionRejected]>('admissionRejected');

// ---- operators → scheduler -------------------------------------------------------------------

/** The `configurePool` update's argument: a new capacity, policy or both (derived from its schema). */
export type ConfigurePool = z.input<typeof ConfigurePoolSchema>;
export interface PoolConfigView {
  capacity: ResourceVector;
  policy: PolicyConfig;
}
/** Validated synchronously (a bad config is rejected and never enters history); answers the new config. */
export const configurePool = defineUpdate<PoolConfigView, [ConfigurePool]>('configurePool');

export interface GrantView {
  requestId: string;
  holderWorkflowId: string;
  tenant: string;
  queue?: string;
  priority: number;
  demand: ResourceVector;
  kind: 'batch' | 'streaming';
  preemptible: boolean;
  submittedAt: number;
  grantedAt: number;
  /** Set while a revocation waits for the holder to stop. */
  revoking?: RevocationReason;
}
export interface PendingView {
  requestId: string;
  holderWorkflowId: string;
  tenant: string;
  queue?: string;
  priority: number;
  demand: ResourceVector;
  kind: 'batch' | 'streaming';
  submittedAt: number;
  /**
   * Waited so far as of `PoolStateView.asOf`. A query sees the scheduler's clock frozen at its last
   * workflow task, so a reader that wants the wait up to now computes it from `submittedAt`.
   */
  waitingMs: number;
  reason: string;
}
export interface PoolStateView {
  pool: string;
  capacity: ResourceVector;
  used: ResourceVector;
  policy: PolicyConfig;
  running: GrantView[];
  pending: PendingView[];
  counters: PoolCounters;
  /** Continue-as-new generations so far. */
  generation: number;
  /** The scheduler's time when it last ran (its workflow clock; queries do not advance it). */
  asOf: number;
}
export interface PoolCounters {
  submitted: number;
  granted: number;
  released: number;
  rejected: number;
  revoked: number;
  reclaimed: number;
  /** A request granted while already granted: must stay 0 (checked by tests and the benchmark). */
  duplicateGrants: number;
}
export const poolState = defineQuery<PoolStateView>('poolState');

export interface Explanation {
  requestId: string;
  status: 'pending' | 'running' | 'released' | 'rejected' | 'unknown';
  /** Why it waits, why it was granted, or how it ended. */
  explanation: string;
  /** Epoch ms, when the scheduler knows the request: a reader computes the wait up to now from it. */
  submittedAt?: number;
  grantedAt?: number;
}
export const explain = defineQuery<Explanation, [string]>('explain');

/** One request's life as the scheduler recorded it (bounded ring, newest last). */
export interface RequestRecord {
  requestId: string;
  holderWorkflowId: string;
  tenant: string;
  queue?: string;
  demand: ResourceVector;
  submittedAt: number;
  /** Order of arrival at the scheduler. */
  submittedSeq: number;
  grantedAt?: number;
  grantedSeq?: number;
  endedAt?: number;
  /** Order of the end (release, reclaim, rejection) among all events. */
  endedSeq?: number;
  outcome?: 'released' | 'rejected' | 'reclaimed' | 'withdrawn';
  /** Set when the pool revoked the grant (the holder then released it, or was reclaimed). */
  revoked?: RevocationReason;
  waitMs?: number;
  reason?: string;
}
export interface RecordsPage {
  records: RequestRecord[];
  /** Records dropped from the ring so far (oldest first). */
  dropped: number;
}
export const requestRecords = defineQuery<RecordsPage>('requestRecords');

// ---- pipeline runs (batch runs and backfills) ----------------------------------------------------

/** Finish the current step, then wait before the next one (a backfill starts no new partition). */
export const pause = defineSignal('pause');
export const resume = defineSignal('resume');
export interface CancelRun {
  reason?: string;
}
/** Stop now: kill the running engine job, release the grant, mark the run cancelled. */
export const cancel = defineSignal<[CancelRun]>('cancel');

export type BatchState =
  'queued' | 'paused' | 'waiting-admission' | 'running' | 'validating' | 'succeeded' | 'failed' | 'cancelled';

export interface BatchStatus {
  pipeline: string;
  partition: string;
  state: BatchState;
  paused: boolean;
  /** Steps done of the run's steps (admission, spark, validation). */
  progress: { step: string; done: number; total: number };
  /** Where the step runs (the spec's `batch.engine`). */
  engine?: 'connect' | 'submit';
  applicationId?: string;
  /** Connect: the step's write operation (heartbeats carry it too). */
  operationId?: string;
  /** Where Spark's UI shows the step's jobs. */
  sparkUi?: string;
  rows?: number;
  /** The Iceberg table written (lake.<pipeline>.batch) and the snapshot that committed the partition. */
  table?: string;
  snapshotId?: string;
  error?: string;
  /** Spark submissions so far (more than one only after a revocation re-queued the step). */
  submissions: number;
}
export const status = defineQuery<BatchStatus>('status');

export interface PartitionDone {
  partition: string;
  state: 'succeeded' | 'failed' | 'cancelled';
  error?: string;
}
/** A batch child tells its backfill that its partition ended (children address the parent by id). */
export const partitionDone = defineSignal<[PartitionDone]>('partitionDone');

/** Queue failed partitions of a running backfill again (all of them when none are named). */
export const retryPartitions = defineSignal<[{ partitions?: string[] }]>('retryPartitions');

export interface BackfillProgress {
  pipeline: string;
  from: string;
  to: string;
  concurrency: number;
  paused: boolean;
  total: number;
  done: number;
  running: string[];
  failed: { partition: string; error?: string }[];
  cancelled: string[];
  remaining: number;
  generation: number;
  /** Set once the backfill was cancelled. */
  cancelledBecause?: string;
}
export const progress = defineQuery<BackfillProgress>('progress');

// ---- streaming pipelines (docs/architecture.md#streaming-pipelines) -------------------------------

/** The workflow id of a streaming pipeline: one long-running workflow per pipeline. */
export const streamWorkflowId = (pipeline: string) => `stream/${pipeline}`;

/**
 * A stream's state, as its `SluiceState` search attribute and current details say it. `RUNNING`,
 * `PAUSED`, `RESCALING`, `RECOVERING`, `FAILED` and `CANCELLED` are the states users filter on;
 * the others are the short steps between them.
 */
export type StreamState =
  | 'WAITING_ADMISSION'
  | 'STARTING'
  | 'RUNNING'
  | 'PAUSING'
  | 'PAUSED'
  | 'RESCALING'
  | 'RECOVERING'
  | 'CANCELLING'
  | 'FAILED'
  | 'CANCELLED';

/** Why a savepoint or retained checkpoint was taken. */
export type SnapshotReason = 'pause' | 'rescale' | 'periodic' | 'on-demand' | 'cancel' | 'revoked' | 'checkpoint';

/** One entry of a stream's savepoint catalogue. */
export interface SavepointRecord {
  /** `file:///...` as Flink reports it; what `execution.state-recovery.path` takes. */
  path: string;
  kind: 'savepoint' | 'checkpoint';
  reason: SnapshotReason;
  generation: number;
  jobId: string;
  /** Workflow time when it completed (epoch ms). */
  takenAt: number;
  /** The pipeline's committed Kafka offsets when it completed (partition → offset), as the group recorded them. */
  offsets?: Record<string, string>;
  /** Last restorability check: its files present and its offsets still inside the topic's retention. */
  restorable?: boolean;
  /** Why it is not restorable, when it is not. */
  unrestorableBecause?: string;
  /** Never disposed while set: a pause, resume or rollback needs it. */
  pinned?: boolean;
}

export interface SavepointCatalogue {
  pipeline: string;
  /** Newest last. */
  savepoints: SavepointRecord[];
  retain: { count: number; maxAgeMs?: number };
  /** Disposed so far (through Flink's REST API). */
  disposed: number;
}
export const savepoints = defineQuery<SavepointCatalogue>('savepoints');

/** One operation or recovery of a stream, as the workflow recorded it (bounded, newest last). */
export interface StreamEvent {
  at: number;
  what: string;
}

export interface StreamStatus {
  pipeline: string;
  state: StreamState;
  /** Submissions so far; each has its own Flink JobID. */
  generation: number;
  /** The current (or last) generation's Flink job. */
  jobId?: string;
  jobName?: string;
  /** Link to the job in Flink's web UI. */
  jobUrl?: string;
  /** The job's state as Flink last reported it (RUNNING, RESTARTING, ...). */
  flinkState?: string;
  parallelism: number;
  maxParallelism: number;
  /** Records behind the topic's last stable offset (as committed on the last checkpoint). */
  lag?: number;
  lastCheckpoint?: { id: number; path?: string; at: number };
  lastSavepoint?: SavepointRecord;
  /** Flink's own restarts of the current job (a lost TaskManager...). */
  flinkRestarts: number;
  /** Sluice's resubmissions after a failure or a lost job, in this failure streak. */
  recoveryAttempts: number;
  /** Flink's root exception of the last failure. */
  rootCause?: string;
  /** The operation in progress, if any. */
  operation?: string;
  error?: string;
  events: StreamEvent[];
}
/** Same wire name as the batch runs' `status`: `temporal workflow query --name status` works on both. */
export const streamStatus = defineQuery<StreamStatus>('status');

export interface RescaleRequest {
  parallelism: number;
  /** How long the new demand may wait for the pool and the new generation for RUNNING. @default 90_000 */
  timeoutMs?: number;
}
export interface RescaleResult {
  from: number;
  to: number;
  /** The savepoint the new generation restored from. */
  savepoint: string;
  jobId: string;
  /** Each vertex's parallelism as Flink's `/jobs/<id>` reported it after the rescale. */
  vertexParallelism: number[];
}
/**
 * Rescale a running stream: validated at once (1 ≤ parallelism ≤ maxParallelism); admits the new
 * demand, stops with a savepoint, restores at the new parallelism and checks it in Flink. A rescale
 * that cannot complete rolls back to the old parallelism from the same savepoint and fails the update.
 */
export const rescale = defineUpdate<RescaleResult, [RescaleRequest]>('rescale');

/** Take a savepoint now (the stream keeps running); answers its catalogue entry. */
export const savepoint = defineUpdate<SavepointRecord, []>('savepoint');

export interface CancelStream {
  reason?: string;
  /** Take a final savepoint before stopping. @default true */
  savepoint?: boolean;
}
/** The batch runs' `cancel` signal, with the stream's options: `temporal workflow signal --name cancel` works on both. */
export const cancelStream = defineSignal<[CancelStream?]>('cancel');

// ---- lambda pipelines (docs/lambda.md) ------------------------------------------------------------

/** The workflow id of a lambda pipeline; its layers run as `stream/<pipeline>` and `batch/<pipeline>/<partition>`. */
export const lambdaWorkflowId = (pipeline: string) => `lambda/${pipeline}`;

export type LambdaState = 'STARTING' | 'RUNNING' | 'PAUSED' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

/**
 * A partition's way through a lambda pipeline: closed in the stream layer, its batch run, the
 * check, then publication into the view (in partition order: the high-water mark has no holes).
 */
export type LambdaPartitionPhase =
  'batch-waiting' | 'batch-running' | 'checking' | 'recomputing' | 'ready' | 'published' | 'batch-failed';

/** The consistency report's figures, as the workflow keeps them per partition (the whole report is a file). */
export type CheckFigures = Pick<
  CheckReport,
  'consistent' | 'matched' | 'mismatched' | 'missingInBatch' | 'missingInStream' | 'duplicateKeys'
> & {
  /** Where the whole report is kept (JSON). */
  report: string;
  /** `local` (in-process) or `spark` (a Spark job, for large partitions). */
  engine: 'local' | 'spark';
  /** Batch minus stream of the count column, against the stream's late records of the partition. */
  lateData?: Pick<LateData, 'difference' | 'droppedLateRecords' | 'explained'>;
};

export interface LambdaPartition {
  partition: string;
  phase: LambdaPartitionPhase;
  /** Batch runs so far (2 after a recompute). */
  batchRuns: number;
  batchSnapshot?: string;
  batchRows?: number;
  /** The stream layer's snapshot the check compared against. */
  streamSnapshot?: string;
  /** Every check's figures, in order. */
  checks: CheckFigures[];
  /** Published although the layers disagree (from the batch side, the source of truth). */
  flagged?: boolean;
  /** The view snapshot that published it. */
  viewSnapshot?: string;
  error?: string;
}

export interface LambdaStatus {
  pipeline: string;
  state: LambdaState;
  paused: boolean;
  /** The stream layer's committed watermark (epoch ms) and snapshot. */
  watermarkMs?: number;
  streamSnapshot?: string;
  /** The next partition to close. */
  nextToClose: string;
  /** The contiguous verified batch high-water mark: the view serves batch rows up to it. */
  highWaterMark?: string;
  /** The view's current snapshot. */
  viewSnapshot?: string;
  /** Closed partitions that are not (yet) published after the high-water mark: holes the view reports. */
  gaps: string[];
  partitions: LambdaPartition[];
  events: StreamEvent[];
  error?: string;
}
/** Same wire name as the other runs' `status`. */
export const lambdaStatus = defineQuery<LambdaStatus>('status');

// ---- Kappa pipelines (docs/kappa.md) ---------------------------------------------------------------

/** The workflow id of a Kappa pipeline; generation n's stream runs as `stream/<pipeline>` (1) or `stream/<pipeline>-g<n>`. */
export const kappaWorkflowId = (pipeline: string) => `kappa/${pipeline}`;

/**
 * A generation's way through a Kappa pipeline: a reprocess starts it `catching-up` (replaying the
 * source from its earliest offsets), then `checking` against the serving one, then `serving` (the
 * view switched to it) or `rejected` (stopped, its table dropped). A replaced generation is
 * `retained` (paused with a savepoint, its table kept: a rollback goes back to it) until `removed`.
 */
export type KappaGenerationState = 'catching-up' | 'checking' | 'serving' | 'retained' | 'rejected' | 'removed';

export interface KappaGeneration {
  generation: number;
  /** The pipeline name it runs under (its table is `lake.<pipeline>.stream`). */
  pipeline: string;
  workflowId: string;
  state: KappaGenerationState;
  startedAt: number;
  /** A reprocess: the serving generation's committed watermark when it was asked for; caught up once past it. */
  targetMs?: number;
  /** A reprocess with a changed computation: its transform. */
  transform?: unknown;
  force?: boolean;
  /** The diff against the generation it would replace: per partition, the check's figures. */
  checks: (CheckFigures & { partition: string })[];
  /** Why it was rejected, removed or rolled back from. */
  reason?: string;
  /** A retained generation is removed at this time (epoch ms). */
  retainUntil?: number;
  /** The view snapshot that switched to it. */
  switchSnapshot?: string;
}

export interface KappaStatus {
  pipeline: string;
  state: LambdaState;
  paused: boolean;
  /** The generation the view serves. */
  serving: number;
  /** The serving generation's committed watermark (epoch ms) and stream snapshot. */
  watermarkMs?: number;
  streamSnapshot?: string;
  viewSnapshot?: string;
  generations: KappaGeneration[];
  events: StreamEvent[];
  error?: string;
}
/** Same wire name as the other runs' `status`. */
export const kappaStatus = defineQuery<KappaStatus>('status');

export interface ReprocessRequest {
  /** A changed computation for the new generation (same output columns as the view's). @default the serving one's */
  transform?: unknown;
  /** Switch even when the diff finds differences (they are kept in the generation's checks). */
  force?: boolean;
}
export interface ReprocessResult {
  generation: number;
  workflowId: string;
  /** Caught up once its committed watermark passes this (epoch ms). */
  targetMs: number;
}
/** Replays the source as a new generation; refused while another reprocess is under way. */
export const reprocess = defineUpdate<ReprocessResult, [ReprocessRequest]>('reprocess');

export interface RollbackResult {
  serving: number;
  from: number;
  viewSnapshot?: string;
}
/** Switches the view back to the retained generation it replaced, in one commit. */
export const rollback = defineUpdate<RollbackResult, []>('rollback');

// ---- intakes (docs/intake.md) -------------------------------------------------------------------

/** The workflow of an intake. */
export const intakeWorkflowId = (intake: string) => `intake/${intake}`;

export type IntakeState = 'ADMITTING' | 'RUNNING' | 'PAUSED' | 'CANCELLED' | 'FAILED';

/**
 * An intake's `status` query. The counts are those of the last finished slice (a slice commits
 * many transactions; the running one heartbeats its own to the activity's details).
 */
export interface IntakeStatus {
  intake: string;
  state: IntakeState;
  topic: string;
  deadLetterTopic: string;
  source: string;
  /** Source lines or changes read, records written to the topic, records written to the dead-letter topic. */
  recordsIn: number;
  recordsOut: number;
  deadLetters: number;
  /** Changes read and not sent (a postgres source's deletes with `deletes: ignore`). */
  skipped?: number;
  /** The committed source position in a few words (`LSN 0/1529B60 (slot …)`, `3 files`). */
  position?: string;
  /** Transactions committed since the intake first started. */
  commits: number;
  /** Bytes of the source not yet read (the lag of files and of a postgres source's WAL), as of the last slice. */
  lagBytes?: number;
  /** Messages of the source topic not yet read (a kafka source's lag), as of the last slice. */
  lagMessages?: number;
  /** Files tracked and how far each is read (a files source). */
  files: { path: string; offset: number }[];
  /** The version of the topic's schema the intake registered (`_sluice_schemas`). */
  schemaVersion?: number;
  /** Why the intake failed (a retried slice's failure shows on its pending activity instead). */
  error?: string;
}
/** Same name as the streams' query: `temporal workflow query --type status` works on both. */
export const intakeStatus = defineQuery<IntakeStatus>('status');
