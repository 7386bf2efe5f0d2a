/**
 * The admission contract, defined once: the `requestAdmission` message a holder sends its pool's
 * scheduler, and the resource records (capacity, demand) it carries. The scheduler parses with the
 * schema; `RequestAdmission` (workflows/messages.ts) and `AdmissionAsk` (workflows/pool/admission.ts)
 * are derived from it. Pure (zod only): workflow code imports it.
 */
import { z } from 'zod';
import { once } from './lazy';

/**
 * Builds the schemas (once, on first use: see `lib/lazy.ts`). Every holder run imports this
 * module for its types and never parses; only a pool scheduler pays for the construction.
 */
export const admissionSchemas = once(() => {
  const resourceName = z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, 'expected a resource name such as cpu or memoryMb');
  // An amount: 'expected a number' for a string, NaN or Infinity; its own message for a negative.
  const amount = () =>
    z
      .number({ error: (issue) => (issue.code === 'invalid_type' ? 'expected a number' : undefined) })
      .nonnegative({ error: (issue) => `must be >= 0, got ${String(issue.input)}` });

  /** A pool's capacity: at least one resource. */
  const CapacitySchema = z
    .record(resourceName, amount())
    .refine((c) => Object.keys(c).length > 0, 'expected at least one resource, e.g. {"cpu": 8}');
  /** What a request holds while granted: a positive amount of at least one resource. */
  const DemandSchema = z
    .record(resourceName, amount())
    .refine((d) => Object.values(d).some((v) => v > 0), 'expected a positive amount of at least one resource');

  const RequestAdmissionSchema = z.strictObject({
    requestId: z.string().min(1).max(512),
    /** The workflow that holds the grant; the scheduler signals it back and watches that it lives. */
    holderWorkflowId: z.string().min(1),
    /** The holder's run: a reset or a new run of the same id is another holder. */
    holderRunId: z.string().min(1).optional(),
    /** The pool this request is meant for; a scheduler rejects a request for another pool. */
    pool: z.string().optional(),
    tenant: z.string().min(1),
    /** The capacity queue (capacity policy). @default 'default' */
    queue: z.string().min(1).optional(),
    /** Higher runs first. @default 0 */
    priority: z.number().finite().optional(),
    demand: DemandSchema,
    kind: z.enum(['batch', 'streaming']),
    /** May be revoked to make room for others (capacity policy). @default false */
    preemptible: z.boolean().optional(),
    /** Expected runtime once granted (backfill policy). @default undefined (unknown) */
    estimatedRuntimeMs: z.number().finite().positive().optional(),
  });

  return { capacity: CapacitySchema, demand: DemandSchema, requestAdmission: RequestAdmissionSchema };
});
type AdmissionSchemas = ReturnType<typeof admissionSchemas>;

/** The `requestAdmission` signal's body, as a holder sends it (and, with no defaults, as parsed). */
export type RequestAdmission = z.input<AdmissionSchemas['requestAdmission']>;
