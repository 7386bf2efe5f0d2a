/**
 * The intake's partitioner must put every key where Kafka's Java client (and kafkajs's own default
 * partitioner) would: otherwise one key's records would split between partitions when the
 * partitioner changes. Checked against the values of Kafka's own test of murmur2 and, for random
 * keys and partition counts, against kafkajs's `DefaultPartitioner`.
 */
import fc from 'fast-check';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { javaCompatiblePartitioner, murmur2 } from '../../engines/kafka-partitioner';

const partitions = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));

test("murmur2 gives the values of Kafka's UtilsTest.testMurmur2", () => {
  const cases: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  expect(cases.map(([s]) => murmur2(Buffer.from(s)))).toEqual(cases.map(([, h]) => h));
});

test("a keyed record goes to the partition kafkajs's default partitioner chooses", () => {
  const ours = javaCompatiblePartitioner();
  const theirs = Partitioners.DefaultPartitioner();
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.uint8Array({ maxLength: 64 })), fc.integer({ min: 1, max: 64 }), (k, n) => {
      const key = typeof k === 'string' ? k : Buffer.from(k);
      const args = { topic: 't', partitionMetadata: partitions(n), message: { key, value: 'v' } };
      expect(ours(args)).toBe(theirs(args));
    }),
    { numRuns: 2000 },
  );
});

test('an explicit partition is kept; a record without a key goes to one of the partitions', () => {
  const ours = javaCompatiblePartitioner();
  expect(ours({ topic: 't', partitionMetadata: partitions(4), message: { key: 'k', value: 'v', partition: 3 } })).toBe(
    3,
  );
  const spread = new Set(
    Array.from({ length: 40 }, () => ours({ topic: 't', partitionMetadata: partitions(4), message: { value: 'v' } })),
  );
  expect([...spread].sort()).toEqual([0, 1, 2, 3]);
});
