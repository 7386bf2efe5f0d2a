/**
 * patches/kafkajs+2.2.4.patch makes kafkajs's producer several times faster (docs/intake.md#throughput):
 * varints written in place, a Long only for values beyond 30 bits, records sized to themselves and
 * built without spreading each message, and messages grouped by partition in linear time. These
 * tests hold the patched encoder to kafkajs's own (unpatched) decoder: every value and every
 * record batch reads back as written, for random inputs, including the Long paths the patch keeps.
 */
import fc from 'fast-check';

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs's internals have no types */
type Enc = {
  writeVarInt(v: number): Enc;
  writeVarLong(v: unknown): Enc;
  writeUVarInt(v: number): Enc;
  buffer: Buffer;
};
const Encoder = require('kafkajs/src/protocol/encoder') as {
  new (size?: number): Enc;
  sizeOfVarInt(v: number): number;
  sizeOfVarLong(v: unknown): number;
};
type Dec = {
  readVarInt(): number;
  readVarLong(): { toString(): string };
  readString(): string;
  readInt16(): number;
  readInt32(): number;
};
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => Dec;
const Long = require('kafkajs/src/utils/long') as { fromValue(v: unknown): { toString(): string } };
type ProduceRequest = (args: object) => { encode(): Promise<Enc> };
const produceRequest = require('kafkajs/src/protocol/requests/produce/v3/request') as ProduceRequest;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: Dec) => Promise<{
  records: {
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer>;
    timestamp: string;
    offset: string;
  }[];
}>;
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition') as (args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: { key: string; n: number }[];
  partitioner: (a: { message: { key: string } }) => number;
}) => Record<string, { key: string; n: number }[]>;
/* eslint-enable @typescript-eslint/no-require-imports */

test('varints read back as written, and their sizes are what is written', () => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => {
      const buf = new Encoder(1).writeVarInt(v).buffer; // size 1: the in-place write must grow the buffer
      expect(buf.length).toBe(Encoder.sizeOfVarInt(v));
      expect(new Decoder(buf).readVarInt()).toBe(v);
    }),
    { numRuns: 5000 },
  );
});

test('varlongs read back as written, on both sides of the 30-bit fast path, as numbers and as Longs', () => {
  const values = fc.oneof(
    fc.integer({ min: -(2 ** 30) - 4, max: 2 ** 30 + 4 }),
    fc.maxSafeInteger(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((b) => Long.fromValue(b.toString())),
  );
  fc.assert(
    fc.property(values, (v) => {
      const buf = new Encoder().writeVarLong(v).buffer;
      expect(buf.length).toBe(Encoder.sizeOfVarLong(v));
      expect(new Decoder(buf).readVarLong().toString()).toBe(Long.fromValue(v).toString());
    }),
    { numRuns: 5000 },
  );
});

test('a produce request reads back record for record: keys, values, headers, timestamps, offsets', async () => {
  const message = fc.record({
    key: fc.option(
      fc.oneof(
        fc.string(),
        fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      ),
    ),
    value: fc.option(
      fc.oneof(
        fc.string({ maxLength: 400 }),
        fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
      ),
    ),
    headers: fc.option(
      fc.dictionary(
        // Prefixed: kafkajs's decoder gathers headers in a plain object, so `toString` would read back mangled.
        fc.string({ minLength: 1, maxLength: 8 }).map((k) => `h-${k}`),
        fc.string(),
      ),
      { nil: undefined },
    ),
    // Beyond 30 bits (2^30 ms is 12 days) the delta takes the Long path.
    timestampDelta: fc.oneof(fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 2 ** 30, max: 2 ** 40 })),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 50 }), async (messages) => {
      const first = 1_796_083_200_000;
      const request = produceRequest({
        acks: -1,
        timeout: 30_000,
        transactionalId: 'sluice-intake.test',
        topicData: [
          {
            topic: 'intake-topic',
            partitions: [
              {
                partition: 3,
                firstSequence: 0,
                messages: messages.map((m) => ({
                  key: m.key,
                  value: m.value,
                  headers: m.headers,
                  timestamp: String(first + m.timestampDelta),
                })),
              },
            ],
          },
        ],
      });
      const d = new Decoder((await request.encode()).buffer);
      expect([d.readString(), d.readInt16(), d.readInt32(), d.readInt32(), d.readString(), d.readInt32()]).toEqual([
        'sluice-intake.test',
        -1,
        30_000,
        1,
        'intake-topic',
        1,
      ]);
      expect(d.readInt32()).toBe(3); // the partition, then the batch's size and the batch
      d.readInt32();
      const read = await decodeBatch(d);
      const bytes = (v: string | Buffer | null | undefined) => (v == null ? null : Buffer.from(v));
      // The batch's first timestamp is the smallest: each record's is read back from its delta.
      expect(read.records.map((r) => [r.key, r.value, r.offset, r.timestamp])).toEqual(
        messages.map((m, i) => [bytes(m.key), bytes(m.value), String(i), String(first + m.timestampDelta)]),
      );
      expect(
        read.records.map((r) => Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)]))),
      ).toEqual(messages.map((m) => m.headers ?? {}));
    }),
    { numRuns: 300 },
  );
});

test('grouping by partition keeps every message once, in its order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ maxLength: 3 }), { maxLength: 500 }),
      fc.integer({ min: 1, max: 8 }),
      (keys, n) => {
        const messages = keys.map((key, i) => ({ key, n: i }));
        const partitionOf = (key: string) => key.length % n;
        const grouped = groupMessagesPerPartition({
          topic: 't',
          partitionMetadata: Array.from({ length: n }),
          messages,
          partitioner: ({ message }) => partitionOf(message.key),
        });
        for (let p = 0; p < n; p++) {
          expect(grouped[p] ?? []).toEqual(messages.filter((m) => partitionOf(m.key) === p));
        }
      },
    ),
    { numRuns: 500 },
  );
});
