/**
 * Reading a topic from given offsets, pulled by the caller batch by batch (a `kafka` intake
 * source): the intake commits its own position, the next offset of every partition, in its Kafka
 * transaction, so the reader commits nothing to Kafka. kafkajs has no manual partition assignment:
 * the reader is the only member of a consumer group of its own (a new one per reader, never
 * committed) and seeks each partition to the position it was given. Whatever arrives below that
 * position (fetched before the seek applied, or again after a rebalance) is dropped by offset, so
 * each message is handed out once per reader.
 *
 * The source is read `read_committed`: an aborted transaction of its producer is never taken.
 */
import type { Consumer, EachBatchPayload } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { topicRange, type KafkaClient } from './kafka';

export interface TopicMessage {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

/** Messages buffered ahead of the caller; fetching pauses above this. */
const BUFFER_LIMIT = 20_000;

export class TopicReader {
  private readonly buffer: TopicMessage[] = [];
  /** The next offset to hand out per partition (what was given, then what was buffered). */
  private readonly next = new Map<number, bigint>();
  private drained: (() => void) | undefined;
  private arrived: (() => void) | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly client: KafkaClient,
    private readonly topic: string,
    private readonly consumer: Consumer,
  ) {}

  /** Starts reading `topic`; a partition missing from `from` is read from its oldest message. */
  static async open(client: KafkaClient, topic: string, from: Record<string, string>, name: string) {
    const consumer = client.kafka.consumer({
      groupId: `sluice-intake-read.${name}.${randomUUID()}`,
      readUncommitted: false,
      // One member, no rebalance to wait for.
      rebalanceTimeout: 10_000,
    });
    const reader = new TopicReader(client, topic, consumer);
    for (const [p, o] of Object.entries(from)) reader.next.set(Number(p), BigInt(o));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => reader.onBatch(payload),
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      reader.failure = payload.error;
      reader.arrived?.();
    });
    // Applied as each partition is assigned (kafkajs keeps seeks until then).
    for (const [p, o] of reader.next) consumer.seek({ topic, partition: p, offset: o.toString() });
    return reader;
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const from = this.next.get(batch.partition) ?? 0n;
    for (const m of batch.messages) {
      const offset = BigInt(m.offset);
      if (offset < from) continue;
      this.buffer.push({ partition: batch.partition, offset: m.offset, key: m.key, value: m.value });
      this.next.set(batch.partition, offset + 1n);
    }
    this.arrived?.();
    // Back-pressure: hold the fetch loop (heartbeating, so the group keeps this member) until the
    // caller has taken enough.
    while (this.buffer.length > BUFFER_LIMIT && isRunning() && !isStale()) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        setTimeout(resolve, 1000);
      });
      await heartbeat();
    }
  }

  /** Up to `max` messages, waiting at most `waitMs` for the first one (none: nothing new). */
  async take(max: number, waitMs: number): Promise<TopicMessage[]> {
    if (this.failure) throw this.failure;
    if (this.buffer.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.arrived = () => (clearTimeout(timer), resolve());
      });
      this.arrived = undefined;
      if (this.failure) throw this.failure;
    }
    const taken = this.buffer.splice(0, max);
    if (this.buffer.length <= BUFFER_LIMIT) this.drained?.();
    return taken;
  }

  /** Messages after `position` up to each partition's end (approximate: it counts transaction markers). */
  async lag(position: Record<string, string>): Promise<number> {
    const range = await topicRange(this.client, this.topic);
    let lag = 0n;
    for (const [p, { low, high }] of Object.entries(range)) {
      const at = BigInt(position[p] ?? low);
      if (BigInt(high) > at) lag += BigInt(high) - at;
    }
    return Number(lag);
  }

  async close(): Promise<void> {
    this.drained?.();
    await this.consumer.disconnect().catch(() => undefined);
  }
}
