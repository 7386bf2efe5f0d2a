/**
 * The admission benchmark's baseline (bench/admission.ts): one long-running echo server and many
 * clients that each make one signal round trip to it. Shaped like the pool scheduler on purpose, so
 * that the comparison measures what admission adds: the handler only queues, the main loop sends
 * the replies of a whole batch concurrently, and the server continues-as-new when Temporal
 * suggests it, carrying what it still owes. Bench-only: registered by the bench's own worker on
 * its own task queue, never by Sluice's workers. Deterministic; imports only the workflow SDK.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';

export interface EchoPing {
  /** The client's workflow id: where the pong goes. */
  from: string;
  id: string;
}
export interface EchoPong {
  id: string;
}
export const echoPing = defineSignal<[EchoPing]>('echoPing');
export const echoPong = defineSignal<[EchoPong]>('echoPong');
export interface EchoStats {
  /** Continue-as-new generations so far. */
  generation: number;
  /** Pongs sent so far, over all generations. */
  answered: number;
}
export const echoStats = defineQuery<EchoStats>('echoStats');

/** What a run carries into the next: pings not answered yet, and the stats. */
export interface EchoCarried {
  owed: EchoPing[];
  stats: EchoStats;
}

/**
 * Pongs in flight at most. The server fails a workflow task that would leave more than 2000
 * signals to other workflows pending (`limit.numPendingSignals.error`), and every retry of that
 * task fails alike: the workflow would be stuck for good behind a large enough backlog.
 */
export const MAX_PONGS_IN_FLIGHT = 500;

/** Answers every ping with a pong to its sender; `carried` is what a previous run left. */
export async function echoServerWorkflow(carried?: EchoCarried): Promise<void> {
  const queue = carried?.owed ?? [];
  const stats: EchoStats = carried
    ? { ...carried.stats, generation: carried.stats.generation + 1 }
    : { generation: 0, answered: 0 };
  setHandler(echoPing, (ping) => void queue.push(ping));
  setHandler(echoStats, () => stats);

  const inFlight = new Set<Promise<void>>();
  const send = (ping: EchoPing) => {
    stats.answered += 1;
    const p = getExternalWorkflowHandle(ping.from)
      .signal(echoPong, { id: ping.id })
      .catch(() => undefined) // the client is gone: nobody to answer
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const canSend = () => queue.length > 0 && inFlight.size < MAX_PONGS_IN_FLIGHT;

  for (;;) {
    await condition(() => canSend() || workflowInfo().continueAsNewSuggested);
    queue.splice(0, MAX_PONGS_IN_FLIGHT - inFlight.size).forEach(send);
    if (workflowInfo().continueAsNewSuggested) {
      // As the scheduler does: the pongs already sent complete before the boundary; pings that
      // arrive meanwhile, or wait for room, are carried and answered first thing by the next run.
      await condition(allHandlersFinished);
      await Promise.all([...inFlight]);
      await continueAsNew<typeof echoServerWorkflow>({ owed: queue, stats });
    }
  }
}

/**
 * One round trip: pings `serverId` with its own workflow id and returns once the pong is back. With
 * `pings` > 1, sends that many pings in one workflow task and waits for every pong: the bench's
 * measure of how far batching messages per workflow task gets past the per-workflow cost.
 */
export async function echoClientWorkflow(serverId: string, pings = 1): Promise<number> {
  const { workflowId } = workflowInfo();
  const ids = Array.from({ length: pings }, (_, k) => (pings === 1 ? workflowId : `${workflowId}#${k}`));
  const waiting = new Set(ids);
  setHandler(echoPong, ({ id }) => void waiting.delete(id));
  const server = getExternalWorkflowHandle(serverId);
  await Promise.all(ids.map((id) => server.signal(echoPing, { from: workflowId, id })));
  await condition(() => waiting.size === 0);
  return pings;
}
