/**
 * Kafka's default partitioner for keyed records — `toPositive(murmur2(key)) % partitions`, as the
 * Java client and kafkajs's `DefaultPartitioner` compute it, so a key lands where any other client
 * would put it — with murmur2 in 32-bit integer arithmetic (`Math.imul`). kafkajs computes it with
 * a 64-bit Long library, which was about a tenth of an intake's CPU (docs/intake.md#throughput).
 * A record with an explicit partition, or without a key, is left to kafkajs's own partitioner.
 */
import { Partitioners, type ICustomPartitioner } from 'kafkajs';

const M = 0x5bd1e995;
const SEED = 0x9747b28c;

/** `org.apache.kafka.common.utils.Utils.murmur2`: the hash as a signed 32-bit integer. */
export function murmur2(data: Buffer): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The last one to three bytes, as Java's switch falls through them.
  const rest = length & 3;
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) h = Math.imul(h ^ data[whole]!, M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

export const javaCompatiblePartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  return (args) => {
    const { message, partitionMetadata } = args;
    if (message.partition !== undefined && message.partition !== null) return message.partition;
    if (message.key === undefined || message.key === null) return fallback(args);
    const key = Buffer.isBuffer(message.key) ? message.key : Buffer.from(String(message.key));
    return (murmur2(key) & 0x7fffffff) % partitionMetadata.length;
  };
};
