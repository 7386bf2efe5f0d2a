/**
 * A kafka intake on the real stack: another topic (keyed by user, values JSON with ISO times)
 * re-keyed by page and normalised into a schema'd topic by `intake/<name>` in `sluice worker`
 * processes, one SIGKILLed with a batch sent and not committed. The source also holds what a
 * reader must not take: an aborted transaction's messages and a tombstone. Checked through Kafka
 * itself, read_committed: every valid message exactly once, re-keyed; malformed ones in
 * `<topic>.dlq` with their reasons and source offsets.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { INTAKE_COMMIT_FAILPOINT } from '../../activities/intake';
import { poolTaskQueue } from '../../config/env';
import { ensureTopic } from '../../engines/kafka';
import { defineIntake } from '../../lib/intake/spec';
import { poolSchedulerWorkflow } from '../../workflows';
import { intakeWorkflowId, type IntakeStatus } from '../../workflows/messages';
import { awaitRecordsIn, readCommitted } from '../helpers/intake';
import {
  armedHold,
  connectTestClient,
  runSluice,
  spawnWorkerProcess,
  testDeps,
  testEnv,
  type WorkerProcess,
} from '../helpers/worker';

jest.setTimeout(600_000);
const id = Date.now().toString(36);
const env = testEnv('it-intake-kafka');
const deps = testDeps(env);
const pool = `it-intake-kafka-${id}`;
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-intake-kafka-logs-'));
const failpoints = path.join(logDir, 'failpoints');
const sourceTopic = `it-intake-kafka-src-${id}`;
const topic = `it-intake-kafka-${id}`;
let client: Client;
let worker: WorkerProcess | undefined;
let workers = 0;
const startWorker = () => spawnWorkerProcess(env, logDir, ++workers, [], { SLUICE_FAILPOINTS_DIR: failpoints });

const spec = defineIntake({
  name: `kafka-${id}`,
  source: { kind: 'kafka', topic: sourceTopic, format: 'json' },
  schema: { user: 'string', page: 'string', n: 'int', at: 'timestamp' },
  eventTime: 'at',
  topic,
  partitions: 2,
  key: ['page'],
  intake: { pool, tenant: 'it', resources: { cpu: 0.5, memoryMb: 256 }, batchRecords: 200, pollInterval: '1 second' },
});

const USERS = ['ann', 'bob', 'cat', 'dan', 'eve'];
const PAGES = ['home', 'cart', 'search'];
const BASE = Date.UTC(2026, 11, 1, 10);
const valid: { user: string; page: string; n: number; at: number }[] = [];
const malformed: { value: string; reason: string }[] = [];
/** Messages the intake reads: the valid ones, the malformed ones, and the tombstones it skips. */
let messagesRead = 0;

function event(): { key: string; value: string } {
  const n = valid.length;
  const e = { user: USERS[n % USERS.length]!, page: PAGES[(n * 7) % PAGES.length]!, n, at: BASE + n * 1000 };
  valid.push(e);
  messagesRead += 1;
  return { key: e.user, value: JSON.stringify({ ...e, at: new Date(e.at).toISOString(), extra: 1 }) };
}
function bad(value: string, reason: string): { key: string; value: string } {
  malformed.push({ value, reason });
  messagesRead += 1;
  return { key: 'ann', value };
}
const events = (count: number) => Array.from({ length: count }, () => event());

async function produce(messages: { key: string; value: string | null }[]): Promise<void> {
  const producer = deps.kafka.kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 500) {
      await producer.send({ topic: sourceTopic, acks: -1, messages: messages.slice(i, i + 500) });
    }
  } finally {
    await producer.disconnect();
  }
}

/** A transaction of the source's producer that aborts: a read_committed reader never sees it. */
async function produceAborted(): Promise<void> {
  const producer = deps.kafka.kafka.producer({
    transactionalId: `it-src-${id}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    const txn = await producer.transaction();
    await txn.send({
      topic: sourceTopic,
      messages: USERS.map((user) => ({ key: user, value: JSON.stringify({ user, page: 'aborted', n: -1, at: BASE }) })),
    });
    await txn.abort();
  } finally {
    await producer.disconnect();
  }
}

const readAll = (handle: WorkflowHandle) => awaitRecordsIn(handle, () => messagesRead, 'messages');

beforeAll(async () => {
  await ensureTopic(deps.kafka, sourceTopic, 3);
  client = await connectTestClient(env);
  await client.workflow.start(poolSchedulerWorkflow, {
    taskQueue: poolTaskQueue(env),
    workflowId: `pool/${pool}`,
    args: [{ name: pool, capacity: { cpu: 4, memoryMb: 8192 }, policy: { kind: 'fifo' } }],
  });
  worker = startWorker();
});

afterAll(async () => {
  for (const wf of [intakeWorkflowId(spec.name), `pool/${pool}`]) {
    await client?.workflow
      .getHandle(wf)
      .terminate('test over')
      .catch(() => undefined);
  }
  await worker?.kill();
  await client?.connection.close();
});

test('another topic re-keyed and normalised, with a SIGKILL mid-batch: every message once, nothing aborted', async () => {
  await produce([
    ...events(50),
    bad('{"user": "ann", "page": ', 'not JSON'),
    bad(JSON.stringify({ user: 'ann', page: 'home', at: BASE }), 'column "n": missing'),
    bad(JSON.stringify({ user: 'ann', page: 'home', n: 1, at: 'noon' }), 'column "at": expected epoch milliseconds'),
    ...events(50),
  ]);
  await produceAborted();
  // A tombstone: read and skipped (no value to hold to the schema).
  await produce([{ key: 'bob', value: null }]);
  messagesRead += 1;

  const specFile = path.join(logDir, 'intake.json');
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const started = runSluice(env, ['intake', specFile]);
  expect([started.status, started.stderr]).toEqual([
    0,
    expect.stringContaining(`started ${intakeWorkflowId(spec.name)}`),
  ]);
  const handle = client.workflow.getHandle(intakeWorkflowId(spec.name));
  await readAll(handle);

  // A large burst, and the worker SIGKILLed with a batch of it sent and not committed.
  await armedHold(failpoints, INTAKE_COMMIT_FAILPOINT, async () => {
    await produce(events(3000));
  });
  await worker!.kill();
  await produce(events(100));
  worker = startWorker();
  const final = await readAll(handle);
  expect(final.recordsIn).toBe(messagesRead);

  const shown = runSluice(env, ['status', intakeWorkflowId(spec.name), '--json']);
  expect(shown.status).toBe(0);
  expect(JSON.parse(shown.stdout)).toMatchObject({
    state: 'RUNNING',
    recordsIn: messagesRead,
    lagMessages: expect.any(Number),
  });
  expect(runSluice(env, ['cancel', intakeWorkflowId(spec.name)]).status).toBe(0);
  const result = (await handle.result()) as IntakeStatus;
  expect(result).toMatchObject({
    state: 'CANCELLED',
    recordsIn: messagesRead,
    recordsOut: valid.length,
    deadLetters: malformed.length,
    skipped: 1,
  });

  // Kafka's view, read_committed: each valid message once, normalised, keyed by its page.
  const out = await readCommitted(deps.brokers, topic);
  const values = out.map((r) => r.value as { user: string; page: string; n: number; at: number });
  expect([...values].sort((a, b) => a.n - b.n)).toEqual(valid);
  for (const page of PAGES) {
    const ofPage = out.filter((r) => (r.value as { page: string }).page === page);
    expect(ofPage.every((r) => r.key === JSON.stringify([page]))).toBe(true);
    expect(new Set(ofPage.map((r) => r.partition)).size).toBe(1);
    // One user's messages were in one source partition: they keep their order under the new key.
    for (const user of USERS) {
      const ns = ofPage
        .filter((r) => (r.value as { user: string }).user === user)
        .map((r) => (r.value as { n: number }).n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
    }
  }

  const dead = (await readCommitted(deps.brokers, `${topic}.dlq`)).map(
    (r) => r.value as { reason: string; raw: string; source: { topic: string; partition: number; offset: number } },
  );
  expect(dead.map((d) => d.raw)).toEqual(malformed.map((m) => m.value));
  dead.forEach((d, i) => {
    expect(d.reason).toContain(malformed[i]!.reason);
    // All keyed `ann`: one partition, in the order written.
    expect(d.source).toMatchObject({ topic: sourceTopic, partition: dead[0]!.source.partition });
  });
  expect(dead.map((d) => d.source.offset)).toEqual([...dead.map((d) => d.source.offset)].sort((a, b) => a - b));
});
