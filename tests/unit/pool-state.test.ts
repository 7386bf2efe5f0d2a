/**
 * PoolState alone: pure, no Temporal server. The scheduler workflow (workflows/pool/scheduler.ts)
 * only feeds it messages with the workflow clock, sends its outbox, and calls `reclaim` for holders
 * that the liveness check reports gone or that a signal could not reach.
 */
import type { RequestAdmission } from '../../lib/admission';
import type { Decision, PolicyConfig, PoolSnapshot, ResourceVector, SchedulingPolicy } from '../../scheduler-policies';
import { PoolState, type Outgoing, type PoolOptions } from '../../workflows/pool/pool-state';

const T0 = 1_750_000_000_000;

function pool(
  capacity: ResourceVector,
  options: Partial<PoolOptions> = {},
  policy: PolicyConfig = { kind: 'fifo' },
  makePolicy?: (config: PolicyConfig) => SchedulingPolicy,
): PoolState {
  return new PoolState({ name: 'test', capacity, policy, options }, makePolicy);
}

/** A request from holder `holder-<id>` (run `run-1` unless given). */
function ask(id: string, demand: ResourceVector, extra: Partial<RequestAdmission> = {}): RequestAdmission {
  return {
    requestId: id,
    holderWorkflowId: `holder-${id}`,
    holderRunId: 'run-1',
    tenant: 't',
    demand,
    kind: 'batch',
    ...extra,
  };
}

const ids = (out: Outgoing[], signal: Outgoing['signal']) =>
  out.filter((o) => o.signal === signal).map((o) => o.requestId);
const runningIds = (p: PoolState, now: number) => p.view(now).running.map((g) => g.requestId);
const pendingIds = (p: PoolState, now: number) => p.view(now).pending.map((e) => e.requestId);
const recordOf = (p: PoolState, id: string) => p.recordsPage().records.find((r) => r.requestId === id);

describe('PoolState', () => {
  test('a revoked holder that never releases is reclaimed once revokeGraceMs has passed, not before', () => {
    const graceMs = 1_000;
    const p = pool({ cpu: 8 }, { revokeGraceMs: graceMs });
    p.request(ask('a', { cpu: 6 }, { preemptible: true }), T0);
    p.decide(T0);
    expect(ids(p.takeOutbox(), 'admissionGranted')).toEqual(['a']);

    // Shrinking below the 6 cpu in use revokes the preemptible grant; its holder never lets go.
    const revokedAt = T0 + 10;
    p.configure({ capacity: { cpu: 4 } }, revokedAt);
    expect(p.takeOutbox()).toEqual([
      {
        signal: 'admissionRevoked',
        holder: { workflowId: 'holder-a', runId: 'run-1' },
        requestId: 'a',
        reason: 'pool-resized',
      },
    ]);

    p.decide(revokedAt + graceMs - 1);
    expect(p.view(revokedAt + graceMs - 1).running).toEqual([
      expect.objectContaining({ requestId: 'a', revoking: 'pool-resized' }),
    ]);
    expect(p.view(revokedAt).counters.reclaimed).toBe(0);

    p.decide(revokedAt + graceMs);
    expect(runningIds(p, revokedAt + graceMs)).toEqual([]);
    expect(p.view(revokedAt + graceMs).counters.reclaimed).toBe(1);
    expect(recordOf(p, 'a')).toMatchObject({
      outcome: 'reclaimed',
      revoked: 'pool-resized',
      endedAt: revokedAt + graceMs,
      reason: `no release within ${graceMs} ms of revocation`,
    });
  });

  test('a reset holder (same workflow id, another run) loses the old run’s grant; the new run’s request stays', () => {
    const p = pool({ cpu: 4 });
    p.request(ask('old', { cpu: 4 }, { holderWorkflowId: 'h', holderRunId: 'r1' }), T0);
    p.decide(T0);
    p.takeOutbox();
    // The reset run asks again under its own request id; the pool is full, so it waits.
    p.request(ask('new', { cpu: 4 }, { holderWorkflowId: 'h', holderRunId: 'r2' }), T0 + 1);
    p.decide(T0 + 1);
    expect(pendingIds(p, T0 + 1)).toEqual(['new']);

    // The liveness check describes h/r1 as gone (its current run is r2).
    expect(p.reclaim([{ workflowId: 'h', runId: 'r1' }], T0 + 2)).toBe(1);
    expect(recordOf(p, 'old')).toMatchObject({ outcome: 'reclaimed', reason: 'holder-gone' });
    expect(pendingIds(p, T0 + 2)).toEqual(['new']);
    expect(p.dirty).toBe(true);

    p.decide(T0 + 2);
    expect(p.takeOutbox()).toEqual([
      { signal: 'admissionGranted', holder: { workflowId: 'h', runId: 'r2' }, requestId: 'new', grantedAt: T0 + 2 },
    ]);
  });

  test('a holder that cannot be signalled is reclaimed through the signal’s own holder, once', () => {
    const p = pool({ cpu: 4 });
    p.request(ask('x', { cpu: 4 }), T0);
    p.request(ask('y', { cpu: 4 }), T0);
    p.decide(T0);
    const [grant] = p.takeOutbox();
    expect(grant).toMatchObject({ signal: 'admissionGranted', requestId: 'x' });

    // What the scheduler does when `handle.signal` fails: reclaim the outgoing message's holder.
    expect(p.reclaim([grant!.holder], T0 + 5)).toBe(1);
    expect(recordOf(p, 'x')).toMatchObject({ outcome: 'reclaimed', reason: 'holder-gone', endedAt: T0 + 5 });
    expect(p.view(T0 + 5).counters.reclaimed).toBe(1);
    // A second failed signal to the same holder finds nothing left.
    expect(p.reclaim([grant!.holder], T0 + 6)).toBe(0);

    // The freed capacity goes to the next request.
    p.decide(T0 + 6);
    expect(ids(p.takeOutbox(), 'admissionGranted')).toEqual(['y']);
  });

  test('a holder gone from the liveness check withdraws its waiting request', () => {
    const p = pool({ cpu: 4 });
    p.request(ask('busy', { cpu: 4 }), T0);
    p.request(ask('waits', { cpu: 1 }), T0);
    p.decide(T0);
    expect(p.reclaim([{ workflowId: 'holder-waits' }], T0 + 1)).toBe(1);
    expect(pendingIds(p, T0 + 1)).toEqual([]);
    expect(runningIds(p, T0 + 1)).toEqual(['busy']);
    expect(recordOf(p, 'waits')).toMatchObject({ outcome: 'withdrawn', reason: 'holder-gone' });
    expect(p.view(T0 + 1).counters.reclaimed).toBe(0); // only grants count as reclaimed
  });

  test('a shrink rejects the waiting requests that no longer fit and keeps the others', () => {
    const p = pool({ cpu: 8 });
    p.request(ask('running', { cpu: 4 }), T0);
    p.request(ask('big', { cpu: 6 }), T0); // waits: 4 free
    p.request(ask('small', { cpu: 3 }), T0); // waits behind big (fifo)
    p.decide(T0);
    p.takeOutbox();
    expect(pendingIds(p, T0)).toEqual(['big', 'small']);

    const smaller = 5;
    expect(p.configure({ capacity: { cpu: smaller } }, T0 + 1)).toEqual({
      capacity: { cpu: smaller },
      policy: { kind: 'fifo' },
    });
    const reason = `demand cpu 6 exceeds pool capacity ${smaller} (after the pool was resized)`;
    expect(p.takeOutbox()).toEqual([
      { signal: 'admissionRejected', holder: { workflowId: 'holder-big', runId: 'run-1' }, requestId: 'big', reason },
    ]);
    expect(recordOf(p, 'big')).toMatchObject({ outcome: 'rejected', reason });
    expect(pendingIds(p, T0 + 1)).toEqual(['small']);
    expect(runningIds(p, T0 + 1)).toEqual(['running']); // 4 <= 5: nothing to revoke

    // 5 - 4 = 1 free: small (3) still waits.
    p.decide(T0 + 1);
    expect(p.takeOutbox()).toEqual([]);
  });

  test('a holder that asks again with the same request is sent its grant again, not granted twice', () => {
    const p = pool({ cpu: 4 });
    const a = ask('a', { cpu: 2 });
    p.request(a, T0);
    p.decide(T0);
    expect(p.takeOutbox()).toEqual([
      { signal: 'admissionGranted', holder: { workflowId: 'holder-a', runId: 'run-1' }, requestId: 'a', grantedAt: T0 },
    ]);

    p.request({ ...a }, T0 + 100);
    expect(p.takeOutbox()).toEqual([
      { signal: 'admissionGranted', holder: { workflowId: 'holder-a', runId: 'run-1' }, requestId: 'a', grantedAt: T0 },
    ]);
    p.decide(T0 + 100);
    expect(p.takeOutbox()).toEqual([]);
    expect(p.view(T0 + 100).counters).toMatchObject({ submitted: 1, granted: 1, duplicateGrants: 0 });
  });

  test('the pool’s own capacity check catches a policy that admits more than fits', () => {
    const admitsEverything: SchedulingPolicy = {
      name: 'greedy',
      decide: (s: PoolSnapshot): Decision => ({ admit: s.pending.map((r) => r.id), preempt: [], waiting: {} }),
    };
    const capacity = 4;
    const demand = 3;
    const p = pool({ cpu: capacity }, {}, { kind: 'fifo' }, () => admitsEverything);
    p.request(ask('first', { cpu: demand }), T0);
    p.request(ask('second', { cpu: demand }), T0);
    p.decide(T0);

    expect(ids(p.takeOutbox(), 'admissionGranted')).toEqual(['first']);
    const v = p.view(T0);
    expect(v.used.cpu).toBe(demand);
    expect(v.counters.granted).toBe(1);
    expect(v.pending).toEqual([
      expect.objectContaining({
        requestId: 'second',
        reason: `admitted by the greedy policy but does not fit: needs ${demand} cpu, ${capacity - demand} free`,
      }),
    ]);
  });

  test('the injected policy factory also builds the policy a configure installs', () => {
    const built: PolicyConfig[] = [];
    const p = pool({ cpu: 4 }, {}, { kind: 'fifo' }, (config) => {
      built.push(config);
      return { name: config.kind, decide: () => ({ admit: [], preempt: [], waiting: {} }) };
    });
    p.configure({ policy: { kind: 'priority' } }, T0);
    expect(built).toEqual([{ kind: 'fifo' }, { kind: 'priority' }]);
  });
});
