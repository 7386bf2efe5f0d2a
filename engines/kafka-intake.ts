/**
 * Kafka's side of an intake (docs/intake.md#exactly-once): one transactional producer per intake,
 * and the intake's source position committed in the same transaction as the records it produced,
 * as Kafka Connect's exactly-once sources do with their offsets topic.
 *
 * The position travels as consumer-group offset metadata (`sendOffsets` inside the transaction):
 * the group `sluice-intake-position.<name>` commits, on the partitions of `_sluice_intake_positions`,
 * a commit number as the offset and the position as metadata. It becomes visible exactly when the
 * records do, and is read back with one admin call (no consumer, no group join), the mechanism of
 * `produceJsonOnce`. Offset metadata is bounded by the broker (`offset.metadata.max.bytes`, 4 KiB by
 * default): the position is split into chunks, one per partition, all stamped with the commit number.
 *
 * Order matters on a restart: {@link IntakeProducer.open} first (initialising the transactional id
 * fences the attempt before it, whose open transaction is aborted), then {@link readPosition}, so no
 * older transaction can commit after the position was read.
 */
import type { Producer } from 'kafkajs';
import { ensureTopic, fetchGroupOffsets, type KafkaClient } from './kafka';
import { javaCompatiblePartitioner } from './kafka-partitioner';
import { POSITIONS_TOPIC, intakeTransactionalId } from '../lib/intake/spec';

/**
 * Bytes of record keys and values (plus 32 a record) per produce request: the broker refuses a
 * record batch above its `message.max.bytes` (1 MiB by default; seen here: 20,000 records of 110
 * bytes in one send were refused), so a transaction's records go in sends of at most this much.
 * Large sends matter: kafkajs holds one request at a time in flight per broker for an idempotent
 * producer, so each send is a round trip (and their grouping is linear only with
 * patches/kafkajs+2.2.4.patch; docs/intake.md#throughput).
 */
export const SEND_BYTES = 768 * 1024;
/** A record value above this can never be written (the broker's default limit, less headroom). */
export const MAX_RECORD_BYTES = 1_000_000;

/** Partitions of the positions topic: at most this many chunks of 4,000 characters per position. */
export const POSITION_CHUNKS = 16;
const CHUNK_CHARS = 4000;

/** The consumer group whose committed metadata is an intake's position (it never has members). */
export const positionGroup = (intake: string) => `sluice-intake-position.${intake}`;

export class PositionTooLarge extends Error {
  constructor(intake: string, bytes: number) {
    super(
      `the source position of intake ${intake} is ${bytes} bytes; at most ${(POSITION_CHUNKS * CHUNK_CHARS * 3) / 4} fit (too many files tracked: remove or archive files already read)`,
    );
    this.name = 'PositionTooLarge';
  }
}

/** A committed position: the commit number (0: nothing committed yet) and the caller's JSON text. */
export interface CommittedPosition {
  commit: number;
  position: string | undefined;
}

/** Reads the intake's last committed position (read after {@link IntakeProducer.open}). */
export async function readPosition(client: KafkaClient, intake: string): Promise<CommittedPosition> {
  const offsets = await fetchGroupOffsets(client, positionGroup(intake), POSITIONS_TOPIC);
  const byPartition = new Map(
    offsets.flatMap((t) => t.partitions).map((p) => [p.partition, { offset: Number(p.offset), metadata: p.metadata }]),
  );
  const first = byPartition.get(0);
  if (!first || first.offset < 0 || !first.metadata) return { commit: 0, position: undefined };
  const [count] = first.metadata.split('|', 1);
  const n = Number(count);
  let text = '';
  for (let i = 0; i < n; i++) {
    const chunk = byPartition.get(i);
    // Every chunk of one commit carries its commit number as the offset: a mismatch is a torn read.
    if (!chunk || chunk.offset !== first.offset || !chunk.metadata) {
      throw new Error(`intake ${intake}: position chunk ${i} is not from commit ${first.offset}`);
    }
    text += chunk.metadata.slice(chunk.metadata.indexOf('|') + 1);
  }
  return { commit: first.offset, position: Buffer.from(text, 'base64').toString('utf8') };
}

export interface IntakeBatch {
  topic: string;
  /** A null value is a tombstone (a deleted row's key). */
  records: { key: string | null; value: string | null }[];
  deadLetterTopic: string;
  deadLetters: { key: string | null; value: string }[];
  /** The position after these records, as the caller's JSON text. */
  position: string;
  /** The commit number this batch's transaction writes (the last one + 1). */
  commit: number;
}

/** An intake's transactional producer; `open` fences every earlier producer of the intake. */
export class IntakeProducer {
  private constructor(
    private readonly producer: Producer,
    private readonly intake: string,
  ) {}

  static async open(
    client: KafkaClient,
    intake: string,
    opts: { transactionTimeoutMs?: number } = {},
  ): Promise<IntakeProducer> {
    await ensureTopic(client, POSITIONS_TOPIC, POSITION_CHUNKS);
    const producer = client.kafka.producer({
      transactionalId: intakeTransactionalId(intake),
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: javaCompatiblePartitioner,
      ...(opts.transactionTimeoutMs ? { transactionTimeout: opts.transactionTimeoutMs } : {}),
    });
    await producer.connect();
    return new IntakeProducer(producer, intake);
  }

  /**
   * Writes the records, the dead letters and the position in one transaction. `beforeCommit` runs
   * once everything is sent and before the commit (the crash tests' failpoint).
   */
  async commit(batch: IntakeBatch, beforeCommit?: () => Promise<void>): Promise<void> {
    const encoded = Buffer.from(batch.position, 'utf8').toString('base64');
    const chunks: string[] = [];
    for (let i = 0; i < encoded.length || i === 0; i += CHUNK_CHARS) chunks.push(encoded.slice(i, i + CHUNK_CHARS));
    if (chunks.length > POSITION_CHUNKS) throw new PositionTooLarge(this.intake, Buffer.byteLength(batch.position));
    const txn = await this.producer.transaction();
    try {
      for (const messages of bySize(batch.records)) await txn.send({ topic: batch.topic, acks: -1, messages });
      for (const messages of bySize(batch.deadLetters)) {
        await txn.send({ topic: batch.deadLetterTopic, acks: -1, messages });
      }
      await txn.sendOffsets({
        consumerGroupId: positionGroup(this.intake),
        topics: [
          {
            topic: POSITIONS_TOPIC,
            partitions: chunks.map((chunk, i) => ({
              partition: i,
              offset: String(batch.commit),
              metadata: i === 0 ? `${chunks.length}|${chunk}` : `${i}|${chunk}`,
            })),
          },
        ],
      });
      await beforeCommit?.();
      await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
  }
}

/** Messages in runs of at most {@link SEND_BYTES} of keys and values (a larger message alone). */
function bySize<M extends { key: string | null; value: string | null }>(messages: M[]): M[][] {
  const runs: M[][] = [];
  let run: M[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = (m.value ? Buffer.byteLength(m.value) : 0) + (m.key ? Buffer.byteLength(m.key) : 0) + 32;
    if (run.length && bytes + size > SEND_BYTES) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(m);
    bytes += size;
  }
  if (run.length) runs.push(run);
  return runs;
}
