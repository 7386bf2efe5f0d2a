/**
 * Scheduling policies for a resource pool's admission controller (docs/architecture.md#scheduling-policies): pure,
 * deterministic functions of a {@link PoolSnapshot}, safe to import from Temporal workflow code
 * (no clock, no randomness, no I/O; the only dependency is zod).
 *
 * ```ts
 * const policy = createPolicy({ kind: 'fair', weights: { analytics: 2 } });
 * const { admit, preempt, waiting } = policy.decide({ capacity, running, pending, now });
 * ```
 */
export type { AdmissionRequest, Decision, Grant, PoolSnapshot, ResourceVector, SchedulingPolicy } from './types';
export { parsePolicyConfig, PolicyConfigError, PolicyConfigSchema } from './config';
export type {
  BackfillConfig,
  CapacityConfig,
  CapacityQueueConfig,
  FairConfig,
  FifoConfig,
  PolicyConfig,
  PriorityConfig,
} from './config';
export {
  demandProblem,
  exceedsCapacity,
  fitsIn,
  formatAmount,
  freeCapacity,
  RELATIVE_TOLERANCE,
  shortfallOf,
  slackOf,
  takeFrom,
} from './resources';
export { createPolicy } from './create-policy';
export { BackfillPolicy } from './backfill';
export { CapacityPolicy, DEFAULT_QUEUE } from './capacity';
export { FairPolicy } from './fair';
export { FifoPolicy } from './fifo';
export { PriorityPolicy } from './priority';
