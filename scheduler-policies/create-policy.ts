import { BackfillPolicy } from './backfill';
import { CapacityPolicy } from './capacity';
import { parsePolicyConfig, type PolicyConfig } from './config';
import { FairPolicy } from './fair';
import { FifoPolicy } from './fifo';
import { PriorityPolicy } from './priority';
import type { SchedulingPolicy } from './types';

/**
 * Builds the policy `config` describes, after validating it with `PolicyConfigSchema`.
 * @throws PolicyConfigError naming every invalid field, e.g.
 *   `invalid policy config: queues[1].guaranteed: guaranteed 0.6 > max 0.5`.
 */
export function createPolicy(config: PolicyConfig): SchedulingPolicy {
  const valid = parsePolicyConfig(config);
  switch (valid.kind) {
    case 'fifo':
      return new FifoPolicy();
    case 'priority':
      return new PriorityPolicy(valid);
    case 'fair':
      return new FairPolicy(valid);
    case 'capacity':
      return new CapacityPolicy(valid);
    case 'backfill':
      return new BackfillPolicy();
  }
}
