import { z } from 'zod';
import { once } from '../lib/lazy';
import { parseOrThrow } from '../lib/zod-issues';

/** Builds the policy schemas (once, on first use: see `lib/lazy.ts`). */
const policySchemas = once(() => {
  const SHARE_MESSAGE = 'share must be a number between 0 and 1';
  const share = z.number({ error: SHARE_MESSAGE }).min(0, { error: SHARE_MESSAGE }).max(1, { error: SHARE_MESSAGE });

  /** `{ kind: 'fifo' }`: strict submission order; the head blocks everything behind it. */
  const FifoConfigSchema = z.strictObject({ kind: z.literal('fifo') });

  /** `{ kind: 'priority' }`: higher (effective) priority first, ties by submission time. */
  const PriorityConfigSchema = z.strictObject({
    kind: z.literal('priority'),
    /**
     * How much a waiting request's effective priority rises per minute of waiting; 0 disables
     * aging (and then a low priority can starve under a steady stream of higher ones).
     * @default 0
     */
    agingPerMinute: z
      .number({ error: 'agingPerMinute must be a number' })
      .min(0, { error: 'agingPerMinute must be >= 0' })
      .refine(Number.isFinite, { error: 'agingPerMinute must be finite' })
      .optional(),
  });

  /** `{ kind: 'fair' }`: weighted Dominant Resource Fairness across tenants. */
  const FairConfigSchema = z.strictObject({
    kind: z.literal('fair'),
    /**
     * Weight per tenant; a tenant with weight 2 is entitled to twice the dominant share.
     * Tenants not listed weigh 1.
     * @default {}
     */
    weights: z
      .record(
        z.string(),
        z
          .number({ error: 'weight must be a number' })
          .gt(0, { error: 'weight must be > 0' })
          .refine(Number.isFinite, { error: 'weight must be finite' }),
      )
      .optional(),
  });

  /** One capacity queue; shares are fractions of the pool in every dimension. */
  const CapacityQueueSchema = z
    .strictObject({
      name: z.string({ error: 'name must be a string' }).min(1, { error: 'name must not be empty' }),
      /** Share the queue gets back (by preemption if enabled) whenever it has waiting work. */
      guaranteed: share,
      /** Share the queue may grow to by using idle capacity. */
      max: share,
    })
    .refine((q) => q.guaranteed <= q.max, {
      error: (issue) => {
        const q = issue.input as { guaranteed: number; max: number };
        return `guaranteed ${q.guaranteed} > max ${q.max}`;
      },
      path: ['guaranteed'],
    });

  /** `{ kind: 'capacity' }`: YARN-style capacity queues with elastic use and preemption. */
  const CapacityConfigSchema = z
    .strictObject({
      kind: z.literal('capacity'),
      /** At least one queue; names unique; guaranteed shares sum to at most 1. */
      queues: z.array(CapacityQueueSchema).min(1, { error: 'at least one queue is required' }),
      /**
       * Whether a queue below its guarantee may preempt preemptible grants of queues above theirs.
       * @default true
       */
      preemption: z.boolean({ error: 'preemption must be a boolean' }).optional(),
    })
    .superRefine((config, ctx) => {
      const seen = new Set<string>();
      config.queues.forEach((q, i) => {
        if (seen.has(q.name)) {
          ctx.addIssue({ code: 'custom', path: ['queues', i, 'name'], message: `duplicate queue name '${q.name}'` });
        }
        seen.add(q.name);
      });
      const total = config.queues.reduce((sum, q) => sum + q.guaranteed, 0);
      if (total > 1 + 1e-9) {
        ctx.addIssue({ code: 'custom', path: ['queues'], message: `guaranteed shares sum to ${round(total)} > 1` });
      }
    });

  /** `{ kind: 'backfill' }`: FIFO with EASY backfilling on runtime estimates. */
  const BackfillConfigSchema = z.strictObject({ kind: z.literal('backfill') });

  /** Every policy configuration, discriminated on `kind`. */
  const PolicyConfigSchema = z.discriminatedUnion(
    'kind',
    [FifoConfigSchema, PriorityConfigSchema, FairConfigSchema, CapacityConfigSchema, BackfillConfigSchema],
    {
      error: (issue) =>
        issue.code === 'invalid_union'
          ? `unknown policy kind ${describeKind(issue.input)}; expected fifo | priority | fair | capacity | backfill`
          : undefined,
    },
  );
  return {
    fifo: FifoConfigSchema,
    priority: PriorityConfigSchema,
    fair: FairConfigSchema,
    capacityQueue: CapacityQueueSchema,
    capacity: CapacityConfigSchema,
    backfill: BackfillConfigSchema,
    policy: PolicyConfigSchema,
  };
});
type PolicySchemas = ReturnType<typeof policySchemas>;

/**
 * Every policy configuration, discriminated on `kind` (fifo | priority | fair | capacity |
 * backfill). Synchronous: the pool scheduler's `configurePool` update validator parses with it.
 */
export const PolicyConfigSchema = z.lazy(() => policySchemas().policy);

export type PolicyConfig = z.output<PolicySchemas['policy']>;
export type FifoConfig = z.output<PolicySchemas['fifo']>;
export type PriorityConfig = z.output<PolicySchemas['priority']>;
export type FairConfig = z.output<PolicySchemas['fair']>;
export type CapacityConfig = z.output<PolicySchemas['capacity']>;
export type CapacityQueueConfig = z.output<PolicySchemas['capacityQueue']>;
export type BackfillConfig = z.output<PolicySchemas['backfill']>;

/** Thrown by {@link parsePolicyConfig} and `createPolicy`; `issues` are `path: message` lines. */
export class PolicyConfigError extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`invalid policy config: ${issues.join('; ')}`);
    this.name = 'PolicyConfigError';
    this.issues = issues;
  }
}

/** Validates `input` as a {@link PolicyConfig}; throws {@link PolicyConfigError} naming each bad field. */
export function parsePolicyConfig(input: unknown): PolicyConfig {
  return parseOrThrow(PolicyConfigSchema, input, (issues) => new PolicyConfigError(issues));
}

function describeKind(input: unknown): string {
  const kind = input !== null && typeof input === 'object' ? (input as { kind?: unknown }).kind : input;
  if (kind === undefined) return '(missing)';
  return typeof kind === 'string' ? `'${kind}'` : JSON.stringify(kind);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
