/**
 * The state of one resource pool, as a plain class the scheduler workflow delegates to (docs/architecture.md#pools:
 * an entity workflow keeps its state in a class; handlers call it; the main body waits). Pure and
 * deterministic: the caller passes `now`; nothing here touches Temporal, so it is unit-tested alone.
 *
 * Invariants kept here:
 * - the sum of running demands (revoking grants included, until their holder lets go) never exceeds
 *   capacity when a grant is made: every admit is re-checked against free capacity, whatever the
 *   policy said;
 * - a request id is granted at most once (`duplicateGrants` counts violations and stays 0);
 * - every request ends exactly once: released, withdrawn, rejected or reclaimed.
 */
import { z } from 'zod';
import { admissionSchemas, type RequestAdmission } from '../../lib/admission';
import { once } from '../../lib/lazy';
import { NAME_MESSAGE, NAME_PATTERN } from '../../lib/names';
import { formatZodIssues, parseOrThrow } from '../../lib/zod-issues';
import {
  createPolicy,
  demandProblem,
  exceedsCapacity,
  fitsIn,
  freeCapacity,
  PolicyConfigSchema,
  shortfallOf,
  takeFrom,
  type AdmissionRequest,
  type PolicyConfig,
  type ResourceVector,
  type SchedulingPolicy,
} from '../../scheduler-policies';
import type {
  ConfigurePool,
  Explanation,
  PoolCounters,
  PoolStateView,
  RecordsPage,
  RequestRecord,
  RevocationReason,
} from '../messages';

export interface PoolOptions {
  /** How often the holders of grants and requests are checked for being alive. @default 30_000 */
  holderCheckIntervalMs: number;
  /** How long a revoked holder has to stop and release before its grant is reclaimed anyway. @default 300_000 */
  revokeGraceMs: number;
  /** Completed request records kept in the ring (the newest), at most 2000. @default 1000 */
  recordLimit: number;
  /**
   * Signals to holders (grants, revocations, rejections) in flight at once; the rest wait in a
   * backlog. Keep it under the server's pending-signals limit (`limit.numPendingSignals.error`,
   * 2000 by default): the server refuses a workflow task that would leave more pending, and would
   * refuse every retry of it too. @default 500
   */
  maxSignalsInFlight: number;
  /**
   * Continue-as-new once the history has this many events even if Temporal has not suggested it.
   * @default undefined (only when Temporal suggests it)
   */
  continueAsNewAfterEvents?: number;
}

/** The most completed-request records a pool keeps. */
export const MAX_RECORD_LIMIT = 2000;

export const DEFAULT_POOL_OPTIONS: PoolOptions = {
  holderCheckIntervalMs: 30_000,
  revokeGraceMs: 300_000,
  recordLimit: 1000,
  maxSignalsInFlight: 500,
};

/** Builds the pool's schemas (once, on first use: see `lib/lazy.ts`). */
const poolSchemas = once(() => {
  const { capacity: CapacitySchema } = admissionSchemas();
  const PoolOptionsSchema = z.strictObject({
    holderCheckIntervalMs: z.number().int().min(100).optional(),
    revokeGraceMs: z.number().int().min(0).optional(),
    // Records are carried across continue-as-new (about 250 bytes each): keep the input well
    // under Temporal's 2 MB payload limit.
    recordLimit: z
      .number()
      .int()
      .min(0)
      .max(MAX_RECORD_LIMIT, { error: `at most ${MAX_RECORD_LIMIT}: the records travel in the continue-as-new input` })
      .optional(),
    continueAsNewAfterEvents: z.number().int().min(100).optional(),
    maxSignalsInFlight: z.number().int().min(1).max(1900).optional(),
  });

  const PoolInputSchema = z.strictObject({
    name: z.string().regex(NAME_PATTERN, NAME_MESSAGE),
    capacity: CapacitySchema,
    policy: PolicyConfigSchema,
    options: PoolOptionsSchema.optional(),
    carried: z.any().optional(),
  });

  const ConfigurePoolSchema = z
    .strictObject({ capacity: CapacitySchema.optional(), policy: PolicyConfigSchema.optional() })
    .refine((u) => u.capacity !== undefined || u.policy !== undefined, 'expected capacity, policy or both');

  return {
    poolInput: PoolInputSchema,
    configurePool: ConfigurePoolSchema,
  };
});

/** A pool scheduler's input: name, capacity, policy, options (and state carried across continue-as-new). */
export const PoolInputSchema = z.lazy(() => poolSchemas().poolInput);
/** The `configurePool` update: a new capacity, policy or both. */
export const ConfigurePoolSchema = z.lazy(() => poolSchemas().configurePool);

export interface PoolInput {
  name: string;
  capacity: ResourceVector;
  policy: PolicyConfig;
  options?: Partial<PoolOptions>;
  /** State carried across continue-as-new; absent on a pool's first run. */
  carried?: CarriedState;
}

interface Holder {
  workflowId: string;
  runId?: string;
}

interface Entry {
  req: RequestAdmission & { priority: number; preemptible: boolean };
  submittedAt: number;
  submittedSeq: number;
}

interface GrantEntry extends Entry {
  grantedAt: number;
  grantedSeq: number;
  revoking?: { reason: RevocationReason; at: number };
}

/** Everything that survives continue-as-new: JSON-shaped (arrays, records, numbers). */
export interface CarriedState {
  capacity: ResourceVector;
  policy: PolicyConfig;
  pending: Entry[];
  running: GrantEntry[];
  records: RequestRecord[];
  dropped: number;
  counters: PoolCounters;
  seq: number;
  generation: number;
}

/** A signal the scheduler owes a holder. */
export type Outgoing =
  | { signal: 'admissionGranted'; holder: Holder; requestId: string; grantedAt: number }
  | { signal: 'admissionRevoked'; holder: Holder; requestId: string; reason: RevocationReason }
  | { signal: 'admissionRejected'; holder: Holder; requestId: string; reason: string };

const zeroCounters = (): PoolCounters => ({
  submitted: 0,
  granted: 0,
  released: 0,
  rejected: 0,
  revoked: 0,
  reclaimed: 0,
  duplicateGrants: 0,
});

export class PoolState {
  readonly name: string;
  readonly options: PoolOptions;
  private capacity: ResourceVector;
  private policyConfig: PolicyConfig;
  private policy: SchedulingPolicy;
  /** Waiting requests in arrival order (the policies break ties by this order). */
  private pending: Entry[];
  private running: GrantEntry[];
  /** Completed records, oldest first, at most `options.recordLimit`. */
  private records: RequestRecord[];
  private dropped: number;
  private counters: PoolCounters;
  private seq: number;
  readonly generation: number;
  /** Ids of every completed request still in the ring: a reused id is rejected. */
  private completedIds: Set<string>;
  /** The policy's reason per waiting request, from the latest decision. */
  private reasons: Record<string, string> = {};
  private outbox: Outgoing[] = [];
  /** Set by every change; the workflow runs a decision when it is set. */
  dirty = true;

  /**
   * @param makePolicy builds the policy from its config (on start and on `configure`); tests pass
   *   their own to check what the pool does with a policy's decision. @default createPolicy
   */
  constructor(
    input: PoolInput,
    private readonly makePolicy: (config: PolicyConfig) => SchedulingPolicy = createPolicy,
  ) {
    const c = input.carried;
    this.name = input.name;
    this.options = { ...DEFAULT_POOL_OPTIONS, ...input.options };
    this.capacity = c?.capacity ?? input.capacity;
    this.policyConfig = c?.policy ?? input.policy;
    this.policy = makePolicy(this.policyConfig);
    this.pending = c?.pending ?? [];
    this.running = c?.running ?? [];
    this.records = c?.records ?? [];
    this.dropped = c?.dropped ?? 0;
    this.counters = c?.counters ?? zeroCounters();
    this.seq = c?.seq ?? 0;
    this.generation = c ? c.generation + 1 : 0;
    this.completedIds = new Set(this.records.map((r) => r.requestId));
  }

  /** The state to carry into the next run. */
  carry(): CarriedState {
    return {
      capacity: this.capacity,
      policy: this.policyConfig,
      pending: this.pending,
      running: this.running,
      records: this.records,
      dropped: this.dropped,
      counters: this.counters,
      seq: this.seq,
      generation: this.generation,
    };
  }

  /** True when signals are owed to holders (the workflow wakes for them, as for a decision). */
  hasOutbox(): boolean {
    return this.outbox.length > 0;
  }

  /** Signals owed to holders since the last call; the workflow sends them. */
  takeOutbox(): Outgoing[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  // ---- messages ---------------------------------------------------------------------------------

  /** A requestAdmission signal. Never throws: a bad message is rejected back to its holder. */
  request(raw: unknown, now: number): void {
    const holder = holderOf(raw);
    const parsed = admissionSchemas().requestAdmission.safeParse(raw);
    if (!parsed.success) {
      if (holder) this.reject(holder, `invalid request: ${formatZodIssues(parsed.error).join('; ')}`, now);
      else this.counters.rejected += 1; // no holder to tell: counted, and visible in the scheduler's logs
      return;
    }
    const msg = parsed.data;
    const who: Holder = { workflowId: msg.holderWorkflowId, runId: msg.holderRunId };
    const fail = (reason: string) => this.reject({ ...who, requestId: msg.requestId }, reason, now, msg);
    if (msg.pool !== undefined && msg.pool !== this.name) {
      return fail(`unknown pool ${JSON.stringify(msg.pool)}: this scheduler is pool ${this.name}`);
    }
    const problem = demandProblem(msg.demand, this.capacity);
    if (problem) return fail(problem);

    const existing = this.find(msg.requestId);
    if (existing) {
      if (!sameDemand(existing.req.demand, msg.demand) || existing.req.holderWorkflowId !== msg.holderWorkflowId) {
        return fail(`duplicate requestId ${msg.requestId} with a different demand or holder`);
      }
      // The same request again (a retried signal): idempotent; a holder that asks again while
      // granted may have missed the grant, so it is sent once more.
      if ('grantedAt' in existing) {
        this.outbox.push({
          signal: 'admissionGranted',
          holder: who,
          requestId: msg.requestId,
          grantedAt: existing.grantedAt,
        });
      }
      return;
    }
    if (this.completedIds.has(msg.requestId)) return fail(`requestId ${msg.requestId} was already used`);

    this.counters.submitted += 1;
    this.pending.push({
      req: { ...msg, priority: msg.priority ?? 0, preemptible: msg.preemptible ?? false },
      submittedAt: now,
      submittedSeq: ++this.seq,
    });
    this.dirty = true;
  }

  /** A releaseAdmission signal: ends a grant or withdraws a waiting request. Idempotent. */
  release(raw: unknown, now: number): void {
    const requestId = (raw as { requestId?: unknown } | null)?.requestId;
    if (typeof requestId !== 'string') return;
    const r = this.running.findIndex((g) => g.req.requestId === requestId);
    if (r >= 0) {
      const [g] = this.running.splice(r, 1);
      this.counters.released += 1;
      this.complete(g!, 'released', now);
      this.dirty = true;
      return;
    }
    const p = this.pending.findIndex((e) => e.req.requestId === requestId);
    if (p >= 0) {
      const [e] = this.pending.splice(p, 1);
      this.complete(e!, 'withdrawn', now);
      this.dirty = true;
    }
  }

  /** Validated synchronously by the update's validator: throws naming the field. */
  static validateConfigure(update: unknown): ConfigurePool {
    return parseOrThrow(ConfigurePoolSchema, update, 'configurePool');
  }

  /**
   * Applies a new capacity and/or policy. Shrinking below current use revokes preemptible grants
   * (newest first, reason 'pool-resized') until the rest fits; non-preemptible grants run on, and
   * nothing new is admitted until use is back under capacity. Waiting requests that can no longer
   * fit at all are rejected.
   */
  configure(update: ConfigurePool, now: number): { capacity: ResourceVector; policy: PolicyConfig } {
    if (update.policy) {
      this.policy = this.makePolicy(update.policy);
      this.policyConfig = update.policy;
    }
    if (update.capacity) {
      this.capacity = update.capacity;
      const used = this.used();
      if (exceedsCapacity(used, this.capacity)) {
        const victims = this.running
          .filter((g) => g.req.preemptible && !g.revoking)
          .sort((a, b) => b.grantedSeq - a.grantedSeq);
        for (const g of victims) {
          if (!exceedsCapacity(this.used(true), this.capacity)) break;
          this.revoke(g, 'pool-resized', now);
        }
      }
      for (const e of [...this.pending]) {
        const problem = demandProblem(e.req.demand, this.capacity);
        if (problem) {
          this.pending.splice(this.pending.indexOf(e), 1);
          this.reject(
            { workflowId: e.req.holderWorkflowId, runId: e.req.holderRunId, requestId: e.req.requestId },
            `${problem} (after the pool was resized)`,
            now,
            e.req,
            e,
          );
        }
      }
    }
    this.dirty = true;
    return { capacity: this.capacity, policy: this.policyConfig };
  }

  /** Holders found gone (terminated, failed, timed out, reset): their grants and requests end. */
  reclaim(gone: Holder[], now: number): number {
    const isGone = (e: Entry) =>
      gone.some(
        (h) => h.workflowId === e.req.holderWorkflowId && (h.runId === undefined || h.runId === e.req.holderRunId),
      );
    let n = 0;
    for (const g of this.running.filter(isGone)) {
      this.running.splice(this.running.indexOf(g), 1);
      this.counters.reclaimed += 1;
      this.complete(g, 'reclaimed', now, 'holder-gone');
      n++;
    }
    for (const e of this.pending.filter(isGone)) {
      this.pending.splice(this.pending.indexOf(e), 1);
      this.complete(e, 'withdrawn', now, 'holder-gone');
      n++;
    }
    if (n > 0) this.dirty = true;
    return n;
  }

  /** Every distinct holder with a grant or a waiting request: what the liveness check describes. */
  holders(): Holder[] {
    const seen = new Map<string, Holder>();
    for (const e of [...this.running, ...this.pending]) {
      const key = `${e.req.holderWorkflowId}\u0000${e.req.holderRunId ?? ''}`;
      if (!seen.has(key)) seen.set(key, { workflowId: e.req.holderWorkflowId, runId: e.req.holderRunId });
    }
    return [...seen.values()];
  }

  // ---- the decision -----------------------------------------------------------------------------

  /**
   * Runs the policy over the current snapshot and applies its decision: revocations first (one wave
   * at a time: no new preemption while an earlier one still waits for its holder), then grants,
   * each re-checked against free capacity.
   */
  decide(now: number): void {
    this.dirty = false;
    // A revoked holder that never let go within the grace period is reclaimed.
    for (const g of this.running.filter((x) => x.revoking && now - x.revoking.at >= this.options.revokeGraceMs)) {
      this.running.splice(this.running.indexOf(g), 1);
      this.counters.reclaimed += 1;
      this.complete(g, 'reclaimed', now, `no release within ${this.options.revokeGraceMs} ms of revocation`);
    }
    if (this.pending.length === 0) {
      this.reasons = {};
      return;
    }
    const decision = this.policy.decide({
      capacity: this.capacity,
      now,
      running: this.running.map((g) => ({ request: toPolicyRequest(g), grantedAt: g.grantedAt })),
      pending: this.pending.map(toPolicyRequest),
    });
    this.reasons = decision.waiting;

    if (!this.running.some((g) => g.revoking)) {
      const byId = new Map(this.running.map((g) => [g.req.requestId, g]));
      for (const id of decision.preempt) {
        const g = byId.get(id);
        if (g && g.req.preemptible) this.revoke(g, 'preempted', now);
      }
    }

    const free = freeCapacity(this.capacity, this.used());
    const revoking = this.running.some((g) => g.revoking); // this decision's preemptions included
    const pendingById = new Map(this.pending.map((e) => [e.req.requestId, e]));
    const granted = new Set<string>();
    for (const id of decision.admit) {
      const e = pendingById.get(id);
      if (!e) continue;
      if (this.running.some((g) => g.req.requestId === id)) {
        this.counters.duplicateGrants += 1;
        continue;
      }
      if (!fitsIn(e.req.demand, free, this.capacity)) {
        // The policy counted on capacity that is still held (a revocation in flight): wait for it.
        // Without one, the policy admitted more than fits (a bug in it): the grant waits all the same.
        const short = shortfallOf(e.req.demand, free, this.capacity);
        this.reasons[id] = revoking
          ? `waiting for revoked grants to be released: ${short}`
          : `admitted by the ${this.policy.name} policy but does not fit: ${short}`;
        continue;
      }
      takeFrom(free, e.req.demand);
      granted.add(id);
      this.running.push({ ...e, grantedAt: now, grantedSeq: ++this.seq });
      this.counters.granted += 1;
      this.outbox.push({
        signal: 'admissionGranted',
        holder: { workflowId: e.req.holderWorkflowId, runId: e.req.holderRunId },
        requestId: id,
        grantedAt: now,
      });
    }
    if (granted.size > 0) this.pending = this.pending.filter((e) => !granted.has(e.req.requestId));
  }

  // ---- queries ----------------------------------------------------------------------------------

  view(now: number): PoolStateView {
    return {
      pool: this.name,
      capacity: this.capacity,
      used: this.used(),
      policy: this.policyConfig,
      running: this.running.map((g) => ({
        requestId: g.req.requestId,
        holderWorkflowId: g.req.holderWorkflowId,
        tenant: g.req.tenant,
        queue: g.req.queue,
        priority: g.req.priority,
        demand: g.req.demand,
        kind: g.req.kind,
        preemptible: g.req.preemptible,
        submittedAt: g.submittedAt,
        grantedAt: g.grantedAt,
        ...(g.revoking ? { revoking: g.revoking.reason } : {}),
      })),
      pending: this.pending.map((e) => ({
        requestId: e.req.requestId,
        holderWorkflowId: e.req.holderWorkflowId,
        tenant: e.req.tenant,
        queue: e.req.queue,
        priority: e.req.priority,
        demand: e.req.demand,
        kind: e.req.kind,
        submittedAt: e.submittedAt,
        waitingMs: now - e.submittedAt,
        reason: this.reasons[e.req.requestId] ?? 'arrived; not yet considered by the policy',
      })),
      counters: { ...this.counters },
      generation: this.generation,
      asOf: now,
    };
  }

  explain(requestId: string): Explanation {
    const g = this.running.find((x) => x.req.requestId === requestId);
    if (g) {
      const how = g.revoking ? `; being revoked (${g.revoking.reason}), waiting for its holder to stop` : '';
      return {
        requestId,
        status: 'running',
        submittedAt: g.submittedAt,
        grantedAt: g.grantedAt,
        explanation:
          `granted by the ${this.policy.name} policy after waiting ${g.grantedAt - g.submittedAt} ms: ` +
          `${fmt(g.req.demand)} fitted in the free capacity at that time${how}`,
      };
    }
    const p = this.pending.find((x) => x.req.requestId === requestId);
    if (p) {
      // Not "waiting N ms": a query sees the clock of the scheduler's last workflow task, not now.
      return {
        requestId,
        status: 'pending',
        submittedAt: p.submittedAt,
        explanation: `waiting since ${new Date(p.submittedAt).toISOString()} under the ${this.policy.name} policy: ${
          this.reasons[requestId] ?? 'arrived; not yet considered by the policy'
        }`,
      };
    }
    const r = [...this.records].reverse().find((x) => x.requestId === requestId);
    if (r) {
      const status = r.outcome === 'rejected' ? 'rejected' : 'released';
      const granted = r.grantedAt !== undefined ? `granted after ${r.waitMs} ms, ` : '';
      const revoked = r.revoked ? `revoked (${r.revoked}), then ` : '';
      return {
        requestId,
        status,
        submittedAt: r.submittedAt,
        ...(r.grantedAt !== undefined ? { grantedAt: r.grantedAt } : {}),
        explanation: `${granted}${revoked}${r.outcome}${r.reason ? `: ${r.reason}` : ''}`,
      };
    }
    return { requestId, status: 'unknown', explanation: `pool ${this.name} has no record of request ${requestId}` };
  }

  recordsPage(): RecordsPage {
    const active = [...this.running, ...this.pending].map((e) => this.recordOf(e));
    return {
      records: [...this.records, ...active].sort((a, b) => a.submittedSeq - b.submittedSeq),
      dropped: this.dropped,
    };
  }

  /** Resources held by grants; with `excludeRevoking`, those not already being given back. */
  used(excludeRevoking = false): ResourceVector {
    const used: ResourceVector = Object.fromEntries(Object.keys(this.capacity).map((k) => [k, 0]));
    for (const g of this.running) {
      if (excludeRevoking && g.revoking) continue;
      for (const [k, v] of Object.entries(g.req.demand)) used[k] = (used[k] ?? 0) + v;
    }
    return used;
  }

  // ---- internals --------------------------------------------------------------------------------

  private find(requestId: string): Entry | GrantEntry | undefined {
    return (
      this.running.find((g) => g.req.requestId === requestId) ?? this.pending.find((e) => e.req.requestId === requestId)
    );
  }

  private revoke(g: GrantEntry, reason: RevocationReason, now: number): void {
    g.revoking = { reason, at: now };
    this.counters.revoked += 1;
    this.outbox.push({
      signal: 'admissionRevoked',
      holder: { workflowId: g.req.holderWorkflowId, runId: g.req.holderRunId },
      requestId: g.req.requestId,
      reason,
    });
  }

  private reject(
    to: Holder & { requestId: string },
    reason: string,
    now: number,
    req?: Partial<RequestAdmission>,
    entry?: Entry,
  ): void {
    this.counters.rejected += 1;
    const holder: Holder = { workflowId: to.workflowId, runId: to.runId };
    this.outbox.push({ signal: 'admissionRejected', holder, requestId: to.requestId, reason });
    // A rejected duplicate must not shadow the live request's record.
    if (this.find(to.requestId)) return;
    this.pushRecord({
      requestId: to.requestId,
      holderWorkflowId: to.workflowId,
      tenant: req?.tenant ?? '?',
      queue: req?.queue,
      demand: req?.demand ?? {},
      submittedAt: entry?.submittedAt ?? now,
      submittedSeq: entry?.submittedSeq ?? ++this.seq,
      endedAt: now,
      endedSeq: ++this.seq,
      outcome: 'rejected',
      reason,
    });
  }

  private complete(e: Entry | GrantEntry, outcome: RequestRecord['outcome'], now: number, reason?: string): void {
    this.pushRecord({ ...this.recordOf(e), endedAt: now, endedSeq: ++this.seq, outcome, reason });
  }

  private recordOf(e: Entry | GrantEntry): RequestRecord {
    const g = 'grantedAt' in e ? e : undefined;
    return {
      requestId: e.req.requestId,
      holderWorkflowId: e.req.holderWorkflowId,
      tenant: e.req.tenant,
      queue: e.req.queue,
      demand: e.req.demand,
      submittedAt: e.submittedAt,
      submittedSeq: e.submittedSeq,
      ...(g ? { grantedAt: g.grantedAt, grantedSeq: g.grantedSeq, waitMs: g.grantedAt - g.submittedAt } : {}),
      ...(g?.revoking ? { revoked: g.revoking.reason } : {}),
    };
  }

  private pushRecord(r: RequestRecord): void {
    this.records.push(r);
    this.completedIds.add(r.requestId);
    while (this.records.length > this.options.recordLimit) {
      const old = this.records.shift()!;
      this.completedIds.delete(old.requestId);
      this.dropped += 1;
    }
  }
}

function holderOf(raw: unknown): (Holder & { requestId: string }) | undefined {
  const m = raw as { requestId?: unknown; holderWorkflowId?: unknown; holderRunId?: unknown } | null;
  if (!m || typeof m.requestId !== 'string' || typeof m.holderWorkflowId !== 'string' || !m.holderWorkflowId) {
    return undefined;
  }
  return {
    requestId: m.requestId,
    workflowId: m.holderWorkflowId,
    runId: typeof m.holderRunId === 'string' ? m.holderRunId : undefined,
  };
}

function toPolicyRequest(e: Entry): AdmissionRequest {
  return {
    id: e.req.requestId,
    tenant: e.req.tenant,
    queue: e.req.queue,
    priority: e.req.priority,
    demand: e.req.demand,
    submittedAt: e.submittedAt,
    preemptible: e.req.preemptible,
    estimatedRuntimeMs: e.req.estimatedRuntimeMs,
    kind: e.req.kind,
  };
}

function sameDemand(a: ResourceVector, b: ResourceVector): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}

function fmt(v: ResourceVector): string {
  return Object.entries(v)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
}
