import type { PipelineSpec } from '../../lib/pipelines';
import type { SavepointRecord, StreamEvent } from '../messages';

/**
 * What a streaming pipeline's workflow carries from one run to the next (continue-as-new) and what
 * a new run starts from. Everything the saga needs to go on: the generation counter (each Flink
 * submission has its own JobID), the parallelism, the savepoint catalogue and the state.
 */
export interface StreamCarry {
  generation: number;
  parallelism: number;
  /** Paused by the user (no job runs, no grant is held). */
  paused: boolean;
  /** Where the next generation restores from (a savepoint or a retained checkpoint). */
  restoreFrom?: string;
  savepoints: SavepointRecord[];
  disposed: number;
  /** The newest completed checkpoint seen (for a restart after a lost job). */
  lastCheckpoint?: { id: number; path?: string; at: number };
  recoveryAttempts: number;
  lastPeriodicSavepointAt?: number;
  events: StreamEvent[];
  /** The live generation's job, when the run continued as new while it ran. */
  jobId?: string;
  /** The grant the live generation holds (kept across continue-as-new). */
  lease?: { requestId: string; grantedAt: number };
}

export interface StreamingPipelineInput {
  /** The whole spec (kind `streaming`), so a run is reproducible whatever later happens to the code. */
  pipeline: PipelineSpec;
  /** Set by continue-as-new. */
  carry?: StreamCarry;
  /** A new run's first generation restores from this savepoint (a cancelled run's final one). */
  restoreFrom?: string;
  /**
   * Continue as new after this many watch rounds even when Temporal does not suggest it yet
   * (tests and the replay fixtures use a small number). @default only when suggested
   */
  continueAsNewAfterRounds?: number;
}

export interface StreamingPipelineResult {
  pipeline: string;
  state: 'CANCELLED';
  generation: number;
  /**
   * Where a later run picks up: the cancel's final savepoint, or the newest retained checkpoint when
   * Flink could not take one; unset for a cancel without savepoint.
   */
  savepoint?: string;
}
