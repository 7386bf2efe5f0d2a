/**
 * The pool scheduler on a real Temporal dev server, with real holder workflows (holdResourcesWorkflow
 * through withAdmission) and the real liveness-check activity. Set RECORD_HISTORIES=1 to refresh
 * the recorded histories under tests/histories/.
 */
import {
  ApplicationFailure,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { PolicyConfig, ResourceVector } from '../../scheduler-policies';
import { holdResourcesWorkflow, poolSchedulerWorkflow, type PoolOptions } from '../../workflows';
import {
  configurePool,
  poolState,
  requestAdmission,
  requestRecords,
  type RequestRecord,
} from '../../workflows/messages';
import { recordHistory } from '../helpers/histories';
import { startWorkflowSuite, type WorkflowSuite } from '../helpers/temporal';
import { until } from '../../lib/poll';
import { completedActivities, historyEvents } from '../helpers/history';

jest.setTimeout(600_000);

let suite: WorkflowSuite;
let env: TestWorkflowEnvironment;
const taskQueue = 'pool-tests';

beforeAll(async () => {
  suite = await startWorkflowSuite([{ taskQueue, options: { maxConcurrentWorkflowTaskExecutions: 20 } }]);
  env = suite.env;
});
afterAll(() => suite?.stop());

async function startPool(
  name: string,
  capacity: ResourceVector,
  policy: PolicyConfig,
  options: Partial<PoolOptions> = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof poolSchedulerWorkflow>> {
  return env.client.workflow.start(poolSchedulerWorkflow, {
    taskQueue,
    workflowId: `pool/${name}`,
    args: [{ name, capacity, policy, options }],
  });
}

function hold(pool: string, id: string, demand: ResourceVector, holdMs: number, extra: Record<string, unknown> = {}) {
  return env.client.workflow.start(holdResourcesWorkflow, {
    taskQueue,
    workflowId: id,
    args: [{ pool, demand, holdMs, tenant: 't', kind: 'batch', requestId: `${id}#r`, ...extra }],
  });
}

/** Sweeps grant and end events in the scheduler's own order: use must never exceed capacity. */
function maxUse(records: RequestRecord[]): ResourceVector {
  const events: { seq: number; sign: 1 | -1; demand: ResourceVector }[] = [];
  for (const r of records) {
    if (r.grantedSeq === undefined) continue;
    events.push({ seq: r.grantedSeq, sign: 1, demand: r.demand });
    if (r.endedSeq !== undefined) events.push({ seq: r.endedSeq, sign: -1, demand: r.demand });
  }
  events.sort((a, b) => a.seq - b.seq);
  const use: ResourceVector = {};
  const max: ResourceVector = {};
  for (const e of events) {
    for (const [k, v] of Object.entries(e.demand)) {
      use[k] = (use[k] ?? 0) + e.sign * v;
      max[k] = Math.max(max[k] ?? 0, use[k]!);
    }
  }
  return max;
}

test('500 holders across 3+ continue-as-new boundaries: each granted exactly once and released, capacity never exceeded, FIFO kept', async () => {
  const capacity = { cpu: 16, memoryMb: 32_768 };
  const pool = await startPool(
    'fifo500',
    capacity,
    { kind: 'fifo' },
    {
      continueAsNewAfterEvents: 700,
      recordLimit: 2000,
      holderCheckIntervalMs: 60_000,
    },
  );
  let seed = 12345;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const holders: WorkflowHandle<typeof holdResourcesWorkflow>[] = [];
  for (let i = 0; i < 500; i += 25) {
    holders.push(
      ...(await Promise.all(
        Array.from({ length: 25 }, (_, j) =>
          hold('fifo500', `h500-${i + j}`, { cpu: 1 + rand(8), memoryMb: 512 * (1 + rand(16)) }, 20 + rand(300)),
        ),
      )),
    );
  }
  const results = await Promise.all(holders.map((h) => h.result()));
  expect(results.every((r) => r.outcome === 'released')).toBe(true);

  const { records, dropped } = await pool.query(requestRecords);
  expect(dropped).toBe(0);
  expect(records).toHaveLength(500);
  expect(new Set(records.map((r) => r.requestId)).size).toBe(500);
  for (const r of records) {
    expect(r.outcome).toBe('released');
    expect(r.grantedSeq).toBeDefined();
    expect(r.endedSeq!).toBeGreaterThan(r.grantedSeq!);
  }
  // What each holder saw is what the scheduler recorded.
  const byId = new Map(records.map((r) => [r.requestId, r]));
  for (const r of results) expect(r.grantedAt).toBe(byId.get(r.requestId)!.grantedAt);
  // Causality, on the server's one clock: asked, then granted by the scheduler, then seen by the holder.
  for (const r of results) {
    expect(r.requestedAt!).toBeLessThanOrEqual(r.grantedAt!);
    expect(r.grantedAt!).toBeLessThanOrEqual(r.admittedAt!);
    expect(r.admittedAt!).toBeLessThanOrEqual(r.releasedAt!);
  }

  const max = maxUse(records);
  expect(max.cpu).toBeLessThanOrEqual(capacity.cpu);
  expect(max.memoryMb).toBeLessThanOrEqual(capacity.memoryMb);
  expect(max.cpu).toBeGreaterThan(capacity.cpu / 2); // the pool was really shared, not serialised

  // FIFO: grants come in the order the requests arrived.
  const grantOrder = [...records].sort((a, b) => a.grantedSeq! - b.grantedSeq!).map((r) => r.submittedSeq);
  expect(grantOrder).toEqual([...grantOrder].sort((a, b) => a - b));

  const state = await pool.query(poolState);
  expect(state.generation).toBeGreaterThanOrEqual(3);
  expect(state.counters).toMatchObject({
    submitted: 500,
    granted: 500,
    released: 500,
    duplicateGrants: 0,
    rejected: 0,
  });
  expect(state.running).toEqual([]);
  expect(state.pending).toEqual([]);

  // The first run: it ends in continue-as-new, so replaying it covers the carry-over path.
  await recordHistory(
    'pool-scheduler-fifo-can.json',
    env.client.workflow.getHandle(pool.workflowId, pool.firstExecutionRunId),
  );
  await pool.terminate('test done');
});

test('a holder terminated while holding is reclaimed within the bound; a live long-running holder never is', async () => {
  const intervalMs = 1000;
  const pool = await startPool('leases', { cpu: 4 }, { kind: 'fifo' }, { holderCheckIntervalMs: intervalMs });
  const doomed = await hold('leases', 'lease-doomed', { cpu: 1 }, 600_000);
  const live = await hold('leases', 'lease-live', { cpu: 1 }, 600_000);
  await until('both granted', async () => ((await pool.query(poolState)).running.length === 2 ? true : undefined));

  await doomed.terminate('simulated crash');
  const terminatedAt = Date.now();
  await until('the doomed grant reclaimed', async () => {
    const s = await pool.query(poolState);
    return s.running.some((g) => g.holderWorkflowId === 'lease-doomed') ? undefined : true;
  });
  const reclaimMs = Date.now() - terminatedAt;
  // Bound: one check interval plus the check itself (a describe per holder) and a workflow task.
  expect(reclaimMs).toBeLessThan(intervalMs + 4000);

  // Three more liveness checks later (each one a completed findGoneHolders in the scheduler's
  // history), the live holder still holds its grant.
  const checksBefore = completedActivities(await historyEvents(pool)).filter((a) => a === 'findGoneHolders').length;
  await until('three more liveness checks', async () => {
    const checks = completedActivities(await historyEvents(pool)).filter((a) => a === 'findGoneHolders').length;
    return checks >= checksBefore + 3 ? true : undefined;
  });
  const s = await pool.query(poolState);
  expect(s.running.map((g) => g.holderWorkflowId)).toEqual(['lease-live']);
  expect(s.counters.reclaimed).toBe(1);

  // Cancelling a holder releases its grant (withAdmission's finally), it is not reclaimed.
  await live.cancel();
  await expect(live.result()).rejects.toThrow(WorkflowFailedError);
  await until('the cancelled holder released', async () =>
    (await pool.query(poolState)).running.length === 0 ? true : undefined,
  );
  const records = (await pool.query(requestRecords)).records;
  expect(records.find((r) => r.holderWorkflowId === 'lease-doomed')?.outcome).toBe('reclaimed');
  expect(records.find((r) => r.holderWorkflowId === 'lease-live')?.outcome).toBe('released');
  await pool.terminate('test done');
});

test('under the capacity policy a preemption revokes a grant and the preempted holder observes it', async () => {
  const pool = await startPool(
    'capq',
    { cpu: 10 },
    {
      kind: 'capacity',
      queues: [
        { name: 'prod', guaranteed: 0.6, max: 1 },
        { name: 'dev', guaranteed: 0.2, max: 1 },
      ],
    },
  );
  const d1 = await hold('capq', 'cap-dev-1', { cpu: 4 }, 600_000, { queue: 'dev', preemptible: true });
  await until('d1 granted', async () => ((await pool.query(poolState)).running.length === 1 ? true : undefined));
  const d2 = await hold('capq', 'cap-dev-2', { cpu: 4 }, 600_000, { queue: 'dev', preemptible: true });
  await until('d2 granted', async () => ((await pool.query(poolState)).running.length === 2 ? true : undefined));

  // prod is below its guarantee (0 of 6 cpu) and its request does not fit in the 2 free cpu:
  // dev is above its guarantee (8 of 2), so its newest grant is preempted.
  const p1 = await hold('capq', 'cap-prod-1', { cpu: 5 }, 200, { queue: 'prod' });
  const revoked = await d2.result();
  expect(revoked.outcome).toBe('revoked');
  expect(revoked.reason).toBe('preempted');
  const prod = await p1.result();
  expect(prod.outcome).toBe('released');

  const s = await pool.query(poolState);
  expect(s.running.map((g) => g.holderWorkflowId)).toEqual(['cap-dev-1']);
  expect(s.counters.revoked).toBe(1);
  const records = (await pool.query(requestRecords)).records;
  expect(maxUse(records).cpu).toBeLessThanOrEqual(10);
  await recordHistory('hold-preempted.json', d2);
  await recordHistory('pool-scheduler-capacity.json', pool);
  await d1.terminate('test done');
  await pool.terminate('test done');
});

test('bad messages are rejected back to their holder with a reason and never fail the scheduler', async () => {
  const pool = await startPool('strict', { cpu: 4, memoryMb: 4096 }, { kind: 'fifo' });
  const reasonOf = async (id: string, demand: unknown, extra: Record<string, unknown> = {}) => {
    const r = await (await hold('strict', id, demand as ResourceVector, 10, extra)).result();
    expect(r.outcome).toBe('rejected');
    return r.reason!;
  };
  expect(await reasonOf('bad-negative', { cpu: -1 })).toMatch(/invalid request: demand\.cpu: must be >= 0, got -1/);
  expect(await reasonOf('bad-nan', { cpu: 'lots' })).toMatch(/invalid request: demand\.cpu: expected a number/);
  expect(await reasonOf('bad-big', { cpu: 8 })).toMatch(/demand cpu 8 exceeds pool capacity 4/);
  expect(await reasonOf('bad-gpu', { gpu: 1 })).toMatch(/demand gpu 1 exceeds pool capacity 0 \(the pool has no gpu\)/);

  // A duplicate request id with a different demand: the second is rejected, the first granted.
  const first = await hold('strict', 'dup-1', { cpu: 1 }, 3000, { requestId: 'shared-id' });
  await until('dup-1 granted', async () => ((await pool.query(poolState)).running.length === 1 ? true : undefined));
  const second = await (await hold('strict', 'dup-2', { cpu: 2 }, 10, { requestId: 'shared-id' })).result();
  expect(second.outcome).toBe('rejected');
  expect(second.reason).toMatch(/duplicate requestId shared-id with a different demand/);
  expect((await first.result()).outcome).toBe('released');

  // A request meant for another pool, and a message with no holder to answer at all.
  await pool.signal(requestAdmission, {
    requestId: 'elsewhere',
    holderWorkflowId: 'nobody',
    pool: 'other',
    tenant: 't',
    demand: { cpu: 1 },
    kind: 'batch',
  });
  await pool.signal(requestAdmission, {} as never);
  const explained = await until('the foreign request recorded', async () => {
    const r = (await pool.query(requestRecords)).records.find((x) => x.requestId === 'elsewhere');
    return r;
  });
  expect(explained.reason).toMatch(/unknown pool "other": this scheduler is pool strict/);

  // Unknown pool: no scheduler runs for it.
  const orphan = await hold('nopool', 'orphan', { cpu: 1 }, 10);
  const failure = await orphan.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  const cause = (failure as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect(cause.type).toBe('UnknownPool');
  expect(cause.nonRetryable).toBe(true);
  expect(cause.message).toMatch(
    /unknown pool nopool: no scheduler workflow pool\/nopool is running .*sluice pool nopool/,
  );

  // Still healthy: a good request is granted and released.
  expect((await (await hold('strict', 'good-after', { cpu: 4 }, 10)).result()).outcome).toBe('released');
  expect((await pool.describe()).status.name).toBe('RUNNING');
  await pool.terminate('test done');
});

test('configurePool validates synchronously and shrinking revokes preemptible grants until use fits', async () => {
  const pool = await startPool('resize', { cpu: 8 }, { kind: 'fifo' });
  await expect(pool.executeUpdate(configurePool, { args: [{ capacity: { cpu: -2 } }] })).rejects.toThrow(
    WorkflowUpdateFailedError,
  );
  const err = await pool
    .executeUpdate(configurePool, { args: [{ policy: { kind: 'nope' } as never }] })
    .catch((e) => e);
  expect(String(err.cause?.message ?? err.message)).toMatch(/policy/);

  const keep = await hold('resize', 'rs-keep', { cpu: 4 }, 600_000);
  await until('keep granted', async () => ((await pool.query(poolState)).running.length === 1 ? true : undefined));
  const victim = await hold('resize', 'rs-victim', { cpu: 4 }, 600_000, { preemptible: true });
  await until('victim granted', async () => ((await pool.query(poolState)).running.length === 2 ? true : undefined));

  const answer = await pool.executeUpdate(configurePool, {
    args: [{ capacity: { cpu: 5 }, policy: { kind: 'priority' } }],
  });
  expect(answer).toEqual({ capacity: { cpu: 5 }, policy: { kind: 'priority' } });
  expect((await victim.result()).outcome).toBe('revoked');
  const s = await until('victim gone', async () => {
    const v = await pool.query(poolState);
    return v.running.length === 1 ? v : undefined;
  });
  expect(s.running[0]!.holderWorkflowId).toBe('rs-keep');
  expect(s.capacity).toEqual({ cpu: 5 });
  await keep.terminate('test done');
  await pool.terminate('test done');
});
