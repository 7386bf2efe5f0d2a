import { Kafka, logLevel, type Admin } from 'kafkajs';

/** Offsets of one topic: partition → offset (Kafka's own JSON shape for Spark's starting/endingOffsets). */
export type PartitionOffsets = Record<string, number>;

export interface KafkaClient {
  kafka: Kafka;
  withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T>;
}

/**
 * kafkajs logs retriable conditions (a coordinator still loading after a broker start) as errors,
 * although it retries them itself. Only errors that are not retried reach stderr. A consumer's
 * "Restarting the consumer" follows a crash that is logged on its own line when it matters.
 */
const RETRIABLE =
  /coordinator is (not available|loading)|not the correct coordinator|leader(ship)? (is )?not available|There is no leader|Restarting the consumer/i;
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

export function createKafkaClient(brokers: string[], clientId = 'sluice'): KafkaClient {
  const kafka = new Kafka({ clientId, brokers, logLevel: logLevel.ERROR, logCreator, retry: { retries: 8 } });
  return {
    kafka,
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

/** Creates a topic if it does not exist (idempotent: safe for activity retries). */
export async function ensureTopic(client: KafkaClient, topic: string, partitions = 1): Promise<void> {
  await client.withAdmin(async (admin) => {
    const existing = await admin.listTopics();
    if (existing.includes(topic)) return;
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true,
    });
  });
}

/** The high watermarks (next offset to be written) of every partition of a topic. */
export async function endOffsets(client: KafkaClient, topic: string): Promise<PartitionOffsets> {
  return client.withAdmin(async (admin) => {
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
