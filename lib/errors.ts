/**
 * The error types Sluice's activities and workflows fail with, by name (the `type` of an
 * `ApplicationFailure`, as it shows in the Temporal UI and as callers match it). Defined once:
 * every retry policy takes {@link NON_RETRYABLE_ERROR_TYPES}, and code matches on these constants.
 * Pure: importable from workflow code.
 */
export const ErrorType = {
  /** Spark refused the step itself (bad SQL, a missing column or input path). */
  sparkJobRejected: 'SparkJobRejected',
  /** Flink refused the statement itself (bad SQL, an unknown connector option). */
  flinkSqlRejected: 'FlinkSqlRejected',
  /** A pipeline spec that does not validate. */
  invalidPipelineSpec: 'InvalidPipelineSpec',
  /** Any other malformed input of a workflow or activity (a partition, a concurrency, a lake path). */
  invalidInput: 'InvalidInput',
  /** A pool's input or configuration that does not validate. */
  invalidPoolConfig: 'InvalidPoolConfig',
  /** A written partition that fails its pipeline's validation plan. */
  outputValidationFailed: 'OutputValidationFailed',
  /** A source a step reads does not exist (a Kafka topic nobody created). */
  sourceNotFound: 'SourceNotFound',
  /** Admission: the pool refused the request (bad demand, more than the pool has). */
  admissionRejected: 'AdmissionRejected',
  /** Admission: the pool took the grant back (preempted, resized). The caller may queue again. */
  admissionRevoked: 'AdmissionRevoked',
  /** Admission: no scheduler runs for the pool named. */
  unknownPool: 'UnknownPool',
  /** A stream's Flink job did not reach RUNNING (at the asked parallelism) in time, or ended. */
  streamNotRunning: 'StreamNotRunning',
  /** A stream's Flink job is unknown to the JobManager or has ended: it cannot be stopped or savepointed. */
  streamJobGone: 'StreamJobGone',
  /** Flink could not take a savepoint (its cause attached). */
  savepointFailed: 'SavepointFailed',
  /** A rescale that could not complete (rolled back) or was refused. */
  rescaleFailed: 'RescaleFailed',
  /** An operation that does not apply to the stream's current state (a savepoint of a paused stream). */
  invalidStreamState: 'InvalidStreamState',
  /** An intake's schema that would drop or retype a column of its topic's registered one. */
  schemaIncompatible: 'SchemaIncompatible',
} as const;

export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/**
 * Failures no retry can fix. `AdmissionRevoked` is not among them: a revoked step is queued again
 * by its workflow, not failed.
 */
export const NON_RETRYABLE_ERROR_TYPES: readonly ErrorTypeName[] = [
  ErrorType.sparkJobRejected,
  ErrorType.flinkSqlRejected,
  ErrorType.invalidPipelineSpec,
  ErrorType.invalidInput,
  ErrorType.invalidPoolConfig,
  ErrorType.outputValidationFailed,
  ErrorType.sourceNotFound,
  ErrorType.admissionRejected,
  ErrorType.unknownPool,
  ErrorType.streamNotRunning,
  ErrorType.streamJobGone,
  ErrorType.savepointFailed,
  ErrorType.rescaleFailed,
  ErrorType.invalidStreamState,
  ErrorType.schemaIncompatible,
];

/**
 * The innermost cause's message: "Kafka topic ... does not exist" rather than "Activity task
 * failed" (Temporal wraps a failure once per layer it crosses; engine clients keep theirs as `cause`).
 */
export function rootCauseMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
