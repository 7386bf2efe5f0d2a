import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { SluiceKind, SluicePool, SluiceState } from '../../lib/search-attributes';
import {
  admissionGranted,
  admissionRejected,
  admissionRevoked,
  configurePool,
  explain,
  poolState,
  releaseAdmission,
  requestAdmission,
  requestRecords,
} from '../messages';
import { ErrorType } from '../../lib/errors';
import { parseOrThrow } from '../../lib/zod-issues';
import { PoolInputSchema, PoolState, type Outgoing, type PoolInput } from './pool-state';

const { findGoneHolders } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/**
 * One long-running scheduler per resource pool (workflow id `pool/<name>`): the admission
 * controller. Holders ask by signal; after each batch of messages (Temporal delivers the signals
 * that arrived together in one workflow task, and the handlers only queue them) the pool's policy
 * decides, and grants, revocations and rejections are signalled back. Holders that end without
 * releasing are found by a periodic liveness check and reclaimed. The history stays bounded by
 * continuing-as-new with the whole state when Temporal suggests it.
 */
export async function poolSchedulerWorkflow(input: PoolInput): Promise<void> {
  try {
    parseOrThrow(PoolInputSchema, input, 'pool input');
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.invalidPoolConfig);
  }
  const pool = new PoolState(input);
  const now = () => Date.now(); // workflow time: deterministic

  setHandler(requestAdmission, (msg) => pool.request(msg, now()));
  setHandler(releaseAdmission, (msg) => pool.release(msg, now()));
  setHandler(configurePool, (update) => pool.configure(update, now()), {
    validator: (update) => void PoolState.validateConfigure(update),
    description: 'Change the pool capacity and/or policy; validated before it is accepted.',
  });
  setHandler(poolState, () => pool.view(now()), { description: 'Capacity, use, running grants, pending requests.' });
  setHandler(explain, (requestId) => pool.explain(requestId), {
    description: 'Why a request waits, or why it was granted.',
  });
  setHandler(requestRecords, () => pool.recordsPage(), {
    description: 'Per request: submitted, granted, ended, wait time.',
  });
  upsertSearchAttributes([
    { key: SluiceKind, value: 'pool' },
    { key: SluicePool, value: pool.name },
    { key: SluiceState, value: 'running' },
  ]);

  // Signals to holders run concurrently with the loop, at most `maxSignalsInFlight` at once: the
  // server refuses a workflow task that leaves too many signals pending (2000 by default), and a
  // refused task would be refused again on every retry, leaving the pool stuck. The rest wait in a
  // backlog, sent as earlier signals complete. CAN waits for all of them.
  const inFlight = new Set<Promise<void>>();
  const backlog: Outgoing[] = [];
  const flush = () => {
    while (backlog.length > 0 && inFlight.size < pool.options.maxSignalsInFlight) sendNow(backlog.shift()!);
  };
  const send = (o: Outgoing) => {
    backlog.push(o);
    flush();
  };
  const sendNow = (o: Outgoing) => {
    const handle = getExternalWorkflowHandle(o.holder.workflowId, o.holder.runId);
    const p = (
      o.signal === 'admissionGranted'
        ? handle.signal(admissionGranted, { requestId: o.requestId, grantedAt: o.grantedAt })
        : o.signal === 'admissionRevoked'
          ? handle.signal(admissionRevoked, { requestId: o.requestId, reason: o.reason })
          : handle.signal(admissionRejected, { requestId: o.requestId, reason: o.reason })
    )
      .catch(() => {
        // The holder cannot be signalled: it is gone. Reclaim what it holds at once.
        if (pool.reclaim([o.holder], now()) > 0)
          log.info('reclaimed a holder that could not be signalled', { ...o.holder });
      })
      .finally(() => {
        inFlight.delete(p);
        flush();
      });
    inFlight.add(p);
  };

  // The liveness check: a timer and an activity per interval, beside the main loop.
  let checking = true;
  void (async () => {
    while (checking) {
      await sleep(pool.options.holderCheckIntervalMs);
      const holders = pool.holders();
      if (holders.length > 0) {
        const gone = await findGoneHolders(holders).catch((err: unknown) => {
          log.warn('holder liveness check failed; nothing reclaimed this round', { error: String(err) });
          return [];
        });
        if (gone.length > 0) log.info('reclaiming holders that ended without releasing', { count: gone.length });
        pool.reclaim(gone, now());
      }
      pool.dirty = true; // also lets revocation grace periods expire on time
    }
  })();

  const canNow = () => {
    const info = workflowInfo();
    const limit = pool.options.continueAsNewAfterEvents;
    return info.continueAsNewSuggested || (limit !== undefined && info.historyLength >= limit);
  };

  for (;;) {
    await condition(() => pool.dirty || pool.hasOutbox() || canNow());
    if (pool.hasOutbox()) pool.takeOutbox().forEach(send); // rejections, resent grants, resize revocations
    if (pool.dirty) {
      pool.decide(now());
      pool.takeOutbox().forEach(send);
      const v = pool.view(now());
      setCurrentDetails(
        `**pool ${pool.name}** (${v.policy.kind}): ${v.running.length} running, ${v.pending.length} pending\n\n` +
          `used ${JSON.stringify(v.used)} of ${JSON.stringify(v.capacity)}`,
      );
    }
    if (canNow()) {
      // Carry everything: wait for handlers and for the signals owed to holders, so no message is
      // lost or sent twice across the boundary.
      // No new decision here (under steady load that would never settle): requests that arrive
      // meanwhile are carried as pending, and the next run decides first thing.
      checking = false;
      await condition(allHandlersFinished);
      for (
        let owed = pool.takeOutbox();
        owed.length > 0 || inFlight.size > 0 || backlog.length > 0;
        owed = pool.takeOutbox()
      ) {
        owed.forEach(send);
        await Promise.all([...inFlight]);
      }
      await continueAsNew<typeof poolSchedulerWorkflow>({ ...input, carried: pool.carry() });
    }
  }
}
