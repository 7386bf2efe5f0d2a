/**
 * Reading what an intake wrote the way a downstream consumer would: every record of a topic,
 * `read_committed`, to the end of each partition (so an aborted transaction's records, which a
 * killed worker leaves behind, are never counted, and a duplicate would be).
 */
import type { WorkflowHandle } from '@temporalio/client';
import { Kafka, logLevel } from 'kafkajs';
import { until } from '../../lib/poll';
import { intakeStatus, type IntakeStatus } from '../../workflows/messages';

/**
 * The topic's committed records, in partition order, each with its partition and key. Done when
 * the reading group has consumed to the end offsets of every partition (control records included),
 * not after a pause: no record can arrive later, since the writer has stopped before the call.
 */
export async function readCommitted(
  brokers: string[],
  topic: string,
): Promise<{ partition: number; offset: number; key: string | null; value: unknown }[]> {
  const kafka = new Kafka({ brokers, clientId: `it-read-${topic}`, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `it-read-${topic}-${Date.now()}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false });
  const rows: { partition: number; offset: number; key: string | null; value: unknown }[] = [];
  await consumer.connect();
  try {
    const end = await admin.fetchTopicOffsets(topic);
    await consumer.subscribe({ topic, fromBeginning: true });
    const position = new Map<number, number>();
    // Emitted for every fetched batch, also one of only control records (which never reaches
    // eachBatch): lastOffset counts them, so the position reaches the end offset.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) =>
      position.set(payload.partition, Number(payload.lastOffset) + 1),
    );
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          rows.push({
            partition: batch.partition,
            offset: Number(m.offset),
            key: m.key ? String(m.key) : null,
            value: JSON.parse(String(m.value)),
          });
        }
      },
    });
    await until(
      () => `${topic} read to its end offsets ${JSON.stringify(end.map((e) => e.high))}`,
      () =>
        end.every((e) => Number(e.high) === 0 || (position.get(e.partition) ?? 0) >= Number(e.high)) ? true : undefined,
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  } finally {
    await consumer.disconnect();
    await admin.disconnect();
  }
  return rows;
}

/** The running slice's heartbeat: its counts as of its last committed batch (none between slices). */
export async function heartbeatCounts(handle: WorkflowHandle): Promise<IntakeStatus | undefined> {
  const d = await handle.describe();
  const payload = d.raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0]?.data;
  return payload ? (JSON.parse(Buffer.from(payload).toString('utf8')) as IntakeStatus) : undefined;
}

/**
 * Waits until the intake has read `n()` source items (lines, changes, messages), by the running
 * slice's heartbeat or, between slices, the status query; either may fail while no worker runs.
 */
export function awaitRecordsIn(handle: WorkflowHandle, n: () => number, what = 'source items') {
  return until(
    () => `the intake to have read ${n()} ${what}`,
    async () => {
      const c =
        (await heartbeatCounts(handle).catch(() => undefined)) ??
        (await handle.query(intakeStatus).catch(() => undefined));
      return c && c.recordsIn >= n() ? c : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 200 },
  );
}
