import { Kafka, logLevel, Partitioners, type Admin } from 'kafkajs';
import { until } from '../lib/poll';

/** Offsets of one topic: partition → offset (Kafka's own JSON shape for Spark's starting/endingOffsets). */
export type PartitionOffsets = Record<string, number>;

export interface KafkaClient {
  kafka: Kafka;
  /** The bootstrap brokers, for messages that name where a topic was looked for. */
  brokers: string[];
  withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T>;
}

/** A topic that does not exist on the cluster: a source nobody created yet, or a typo. */
export class TopicNotFound extends Error {
  constructor(
    readonly topic: string,
    brokers: string[],
  ) {
    super(`Kafka topic "${topic}" does not exist on ${brokers.join(',')}: create it, or produce to it first`);
    this.name = 'TopicNotFound';
  }
}

/**
 * kafkajs logs retriable conditions (a coordinator still loading after a broker start) as errors,
 * although it retries them itself. Only errors that are not retried reach stderr. A consumer's
 * "Restarting the consumer" follows a crash that is logged on its own line when it matters.
 */
const RETRIABLE =
  /coordinator is (not available|loading)|not the correct coordinator|leader(ship)? (is )?not available|There is no leader|Restarting the consumer|another concurrent operation on the same transaction/i;
/** True for a kafkajs log line about a condition kafkajs retries by itself. */
export function isRetriedKafkaLog(message: string, error?: string): boolean {
  return RETRIABLE.test(`${message} ${error ?? ''}`);
}
const logCreator = () => (entry: { level: number; label: string; log: { message: string; error?: string } }) => {
  if (entry.level > logLevel.ERROR) return;
  if (isRetriedKafkaLog(entry.log.message, entry.log.error)) return;
  process.stderr.write(
    `kafkajs ${entry.label}: ${entry.log.message}${entry.log.error ? `: ${entry.log.error}` : ''}\n`,
  );
};

export interface KafkaClientOptions {
  clientId?: string;
  /** kafkajs retries of each request. @default 8 */
  retries?: number;
  /** @default 1000 (kafkajs' default) */
  connectionTimeoutMs?: number;
  /** Log nothing at all (health checks, whose failures are the answer). */
  silent?: boolean;
}

export function createKafkaClient(brokers: string[], opts: KafkaClientOptions = {}): KafkaClient {
  const kafka = new Kafka({
    clientId: opts.clientId ?? 'sluice',
    brokers,
    logLevel: opts.silent ? logLevel.NOTHING : logLevel.ERROR,
    logCreator,
    retry: { retries: opts.retries ?? 8 },
    ...(opts.connectionTimeoutMs ? { connectionTimeout: opts.connectionTimeoutMs } : {}),
  });
  return {
    kafka,
    brokers,
    async withAdmin(fn) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        return await fn(admin);
      } finally {
        await admin.disconnect();
      }
    },
  };
}

/**
 * Creates a topic if it does not exist (idempotent: safe for activity retries), with `config`
 * entries such as `cleanup.policy=compact` for a new one.
 */
export async function ensureTopic(
  client: KafkaClient,
  topic: string,
  partitions = 1,
  config: Record<string, string> = {},
): Promise<void> {
  await client.withAdmin(async (admin) => {
    const existing = await admin.listTopics();
    if (existing.includes(topic)) return;
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
        },
      ],
      waitForLeaders: true,
    });
  });
}

/** True when the cluster is up: it names its brokers and a controller. */
export async function kafkaClusterReady(client: KafkaClient): Promise<boolean> {
  return client.withAdmin(async (admin) => {
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  });
}

/**
 * The high watermarks (next offset to be written) of every partition of a topic.
 * @throws TopicNotFound at once for a topic that does not exist (kafkajs would retry its metadata
 * for minutes, and the broker may even create the topic on the way)
 */
export async function endOffsets(client: KafkaClient, topic: string): Promise<PartitionOffsets> {
  return client.withAdmin(async (admin) => {
    if (!(await admin.listTopics()).includes(topic)) throw new TopicNotFound(topic, client.brokers);
    const offsets = await admin.fetchTopicOffsets(topic);
    return Object.fromEntries(offsets.map((o) => [String(o.partition), Number(o.high)]));
  });
}

/** Produces JSON records (keyed by `key(record)` when given); returns the offset range written. */
export async function produceJson(
  client: KafkaClient,
  topic: string,
  records: unknown[],
  key?: (record: unknown) => string,
): Promise<{ from: PartitionOffsets; to: PartitionOffsets }> {
  const from = await endOffsets(client, topic);
  const producer = client.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 1000) {
      await producer.send({
        topic,
        acks: -1,
        messages: records.slice(i, i + 1000).map((r) => ({ key: key?.(r), value: JSON.stringify(r) })),
      });
    }
  } finally {
    await producer.disconnect();
  }
  return { from, to: await endOffsets(client, topic) };
}

/** What a produce wrote: per partition, the first offset and the offset after the last record. */
export interface ProducedRange {
  from: PartitionOffsets;
  to: PartitionOffsets;
}

/** The consumer group whose committed offsets mark a produce as done (it never has members). */
export const produceMarkerGroup = (produceId: string) => `sluice-produced.${produceId}`;

/**
 * Produces JSON records exactly once per `produceId`, however often it is called (a retried
 * activity after a worker was killed at any instant):
 * - the records and a marker go in one Kafka transaction: the marker is an offset commit of the
 *   consumer group {@link produceMarkerGroup} whose metadata holds the range written, so the
 *   records are visible exactly when the marker is;
 * - a call first reads that group's offsets (an admin call, no consumer): a marker means the
 *   produce already happened, and its range is returned without writing anything;
 * - the transactional id derives from `produceId`: connecting fences an earlier attempt that died
 *   mid-transaction, whose records are then aborted (and lie before the range returned).
 * The range ends after the last record, not after the transaction's commit marker, so a reader
 * of `[from, to)` (Spark, Flink bounded by offsets) never waits on a control record.
 */
export async function produceJsonOnce(
  client: KafkaClient,
  topic: string,
  produceId: string,
  records: unknown[],
  key?: (record: unknown) => string,
): Promise<ProducedRange & { produced: boolean }> {
  const group = produceMarkerGroup(produceId);
  const done = await readProduceMarker(client, group, topic);
  if (done) return { ...done, produced: false };
  const before = await endOffsets(client, topic);
  const producer = client.kafka.producer({
    transactionalId: `sluice-produce.${produceId}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    const txn = await producer.transaction();
    const from: PartitionOffsets = {};
    const to: PartitionOffsets = {};
    try {
      // Each record's partition is chosen here, by kafkajs' own default partitioner, so that the
      // count per partition of every batch (hence where the batch ends) is known.
      const choose = Partitioners.DefaultPartitioner();
      const partitionMetadata = await client.withAdmin(
        async (admin) => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions,
      );
      for (let i = 0; i < records.length; i += 1000) {
        const messages = records.slice(i, i + 1000).map((r) => {
          const message = { key: key?.(r), value: JSON.stringify(r) };
          return { ...message, partition: choose({ topic, partitionMetadata, message }) };
        });
        const meta = await txn.send({ topic, acks: -1, messages });
        for (const m of meta) {
          const p = String(m.partition);
          const base = Number(m.baseOffset);
          from[p] ??= base;
          to[p] = base + messages.filter((msg) => msg.partition === m.partition).length;
        }
      }
      const range = fillRange(before, from, to);
      await txn.sendOffsets({
        consumerGroupId: group,
        topics: [
          {
            topic,
            partitions: Object.keys(range.to).map((p, i) => ({
              partition: Number(p),
              offset: String(range.to[p]),
              // Offset metadata is bounded (offset.metadata.max.bytes, 4 KiB): the range once.
              ...(i === 0 ? { metadata: JSON.stringify(range) } : {}),
            })),
          },
        ],
      });
      await txn.commit();
      return { ...range, produced: true };
    } catch (err) {
      await txn.abort().catch(() => undefined);
      throw err;
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * The offsets (and their metadata) a consumer group has committed on `topic`, by an admin call.
 * kafkajs' admin does not retry a group coordinator that is still moving or loading (seen on a
 * fresh broker: NOT_COORDINATOR_FOR_GROUP for a new group): asked again, as its consumers would.
 */
export async function fetchGroupOffsets(client: KafkaClient, group: string, topic: string) {
  return until(
    `the offsets of consumer group ${group}`,
    () =>
      client
        .withAdmin((admin) => admin.fetchOffsets({ groupId: group, topics: [topic] }))
        .catch((err: unknown) => {
          if ((err as { retriable?: boolean }).retriable) return undefined;
          throw err;
        }),
    { timeoutMs: 30_000, intervalMs: 250 },
  );
}

/** The range a committed produce marker records, or undefined when there is none. */
async function readProduceMarker(
  client: KafkaClient,
  group: string,
  topic: string,
): Promise<ProducedRange | undefined> {
  const offsets = await fetchGroupOffsets(client, group, topic);
  const withMetadata = offsets.flatMap((t) => t.partitions).find((p) => Number(p.offset) >= 0 && p.metadata);
  return withMetadata ? (JSON.parse(withMetadata.metadata!) as ProducedRange) : undefined;
}

/** Partitions the produce did not write keep their end offsets as an empty range. */
function fillRange(before: PartitionOffsets, from: PartitionOffsets, to: PartitionOffsets): ProducedRange {
  const range: ProducedRange = { from: {}, to: {} };
  for (const p of Object.keys(before)) {
    range.from[p] = from[p] ?? before[p]!;
    range.to[p] = to[p] ?? before[p]!;
  }
  return range;
}

/**
 * Reads every record of a topic up to its current end offsets and parses each value as JSON.
 * Bounded: returns once each partition's end (as seen at the start) is reached, or after `timeoutMs`.
 */
export async function consumeJson(client: KafkaClient, topic: string, timeoutMs = 30_000): Promise<unknown[]> {
  const end = await endOffsets(client, topic);
  const remaining = new Set(
    Object.entries(end)
      .filter(([, o]) => o > 0)
      .map(([p]) => p),
  );
  const out: unknown[] = [];
  if (remaining.size === 0) return out;
  const consumer = client.kafka.consumer({ groupId: `sluice-read-${topic}-${process.pid}-${Date.now()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`timed out after ${timeoutMs} ms reading ${topic} (partitions left: ${[...remaining]})`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const p = String(partition);
            if (!remaining.has(p) && Number(message.offset) >= (end[p] ?? 0)) return;
            if (Number(message.offset) < (end[p] ?? 0) && message.value) out.push(JSON.parse(message.value.toString()));
            if (Number(message.offset) + 1 >= (end[p] ?? 0)) remaining.delete(p);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** A consumer group's committed offsets on a topic (partition → offset; partitions with none are left out). */
export async function groupOffsets(
  client: KafkaClient,
  groupId: string,
  topic: string,
): Promise<Record<string, string>> {
  return client.withAdmin(async (admin) => {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const out: Record<string, string> = {};
    for (const p of entry?.partitions ?? []) if (p.offset !== '-1') out[String(p.partition)] = p.offset;
    return out;
  });
}

/** A topic's offset range per partition: `low` (oldest kept, after retention) and `high` (last stable offset). */
export async function topicRange(
  client: KafkaClient,
  topic: string,
): Promise<Record<string, { low: string; high: string }>> {
  return client.withAdmin(async (admin) => {
    const out: Record<string, { low: string; high: string }> = {};
    for (const p of await admin.fetchTopicOffsets(topic)) out[String(p.partition)] = { low: p.low, high: p.high };
    return out;
  });
}

/**
 * Records a group has not consumed: Σ (high − committed), a partition with no commit counting from
 * its oldest record. Stale by up to one checkpoint (Flink commits offsets on checkpoints).
 */
export function lagOf(range: Record<string, { low: string; high: string }>, committed: Record<string, string>): number {
  let lag = 0n;
  for (const [partition, { low, high }] of Object.entries(range)) {
    const from = BigInt(committed[partition] ?? low);
    if (BigInt(high) > from) lag += BigInt(high) - from;
  }
  return Number(lag);
}
