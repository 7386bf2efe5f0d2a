/**
 * A postgres intake on the real stack: a table's rows as of the intake's start (the snapshot),
 * then its inserts, updates and deletes read through logical decoding by `intake/<name>` in
 * `sluice worker` processes, one SIGKILLed with a batch sent and not committed, one with a batch
 * committed and the replication slot not yet moved past it. Checked through
 * Kafka itself, read_committed: each row's versions arrive exactly once each, in order, in one
 * partition per key; a delete is a tombstone; malformed rows are dead letters with their reasons
 * and LSNs; and PostgreSQL's own view shows the slot moved on (its WAL is not held for ever).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client as TemporalClient, WorkflowHandle } from '@temporalio/client';
import type { Client as PgClient } from 'pg';
import { INTAKE_COMMIT_FAILPOINT, INTAKE_COMMITTED_FAILPOINT } from '../../activities/intake';
import { poolTaskQueue } from '../../config/env';
import { parseLsn } from '../../engines/pgoutput';
import { connectPostgres } from '../../engines/postgres';
import { defineIntake, intakeSlotName } from '../../lib/intake/spec';
import { until } from '../../lib/poll';
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
const env = testEnv('it-intake-pg');
const deps = testDeps(env);
const pool = `it-intake-pg-${id}`;
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-intake-pg-logs-'));
const failpoints = path.join(logDir, 'failpoints');
const table = `public.it_orders_${id}`;
const topic = `it-intake-pg-${id}`;
let temporal: TemporalClient;
let db: PgClient;
let worker: WorkerProcess | undefined;
let workers = 0;
const startWorker = () => spawnWorkerProcess(env, logDir, ++workers, [], { SLUICE_FAILPOINTS_DIR: failpoints });

const spec = defineIntake({
  name: `pg-${id}`,
  source: { kind: 'postgres', table, deletes: 'tombstone' },
  // `qty` is text in the table and an int here: a row whose qty is not a number is a dead letter.
  schema: { id: 'int', customer: 'string', version: 'int', amount: 'double', qty: 'int', updated_at: 'timestamp' },
  eventTime: 'updated_at',
  topic,
  partitions: 3,
  key: ['id'],
  intake: { pool, tenant: 'it', resources: { cpu: 0.5, memoryMb: 256 }, batchRecords: 50, pollInterval: '1 second' },
});

/** Changes made to the table, as the test counts them: every one must arrive once. */
let changes = 0;
async function sql(text: string, params: unknown[] = []): Promise<number> {
  const r = await db.query(text, params);
  return r.rowCount ?? 0;
}
/** One transaction of statements; returns the rows they changed. */
async function transaction(statements: string[]): Promise<number> {
  await sql('BEGIN');
  let n = 0;
  for (const s of statements) n += await sql(s);
  await sql('COMMIT');
  changes += n;
  return n;
}
const insert = (from: number, to: number, qty = "'1'") =>
  `INSERT INTO ${table} (id, customer, version, amount, qty) SELECT i, 'c' || (i % 4), 0, i * 1.25, ${qty} FROM generate_series(${from}, ${to}) i`;
const bumpAll = `UPDATE ${table} SET version = version + 1, updated_at = now() WHERE qty ~ '^[0-9]+$' AND amount IS NOT NULL`;

const sluice = (args: string[]) => runSluice(env, args);

const readAll = (handle: WorkflowHandle, n: () => number) => awaitRecordsIn(handle, n, 'changes');

beforeAll(async () => {
  db = await connectPostgres(env.SLUICE_POSTGRES_URL);
  await sql(
    `CREATE TABLE ${table} (id int PRIMARY KEY, customer text NOT NULL, version int NOT NULL,
       amount numeric(10, 2), qty text, updated_at timestamptz NOT NULL DEFAULT now())`,
  );
  temporal = await connectTestClient(env);
  await temporal.workflow.start(poolSchedulerWorkflow, {
    taskQueue: poolTaskQueue(env),
    workflowId: `pool/${pool}`,
    args: [{ name: pool, capacity: { cpu: 4, memoryMb: 8192 }, policy: { kind: 'fifo' } }],
  });
  worker = startWorker();
});

afterAll(async () => {
  for (const wf of [intakeWorkflowId(spec.name), `pool/${pool}`]) {
    await temporal?.workflow
      .getHandle(wf)
      .terminate('test over')
      .catch(() => undefined);
  }
  await worker?.kill();
  await temporal?.connection.close();
  if (db) {
    const slot = intakeSlotName(spec.name);
    await until(
      `slot ${slot} to be dropped`,
      async () =>
        (await db
          .query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot])
          .then(() => true)
          .catch(() => undefined)) ?? undefined,
      { timeoutMs: 30_000, intervalMs: 500 },
    ).catch(() => undefined);
    await sql(`DROP PUBLICATION IF EXISTS ${slot}`).catch(() => undefined);
    await sql(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await db.end();
  }
});

test('snapshot, inserts, updates, deletes and a SIGKILL mid-batch: each change once, in order per key', async () => {
  // The table before the intake starts: 30 good rows and two that break the schema.
  await transaction([insert(1, 30), insert(31, 31, "'many'")]);
  await transaction([`INSERT INTO ${table} (id, customer, version, amount, qty) VALUES (32, 'c0', 0, NULL, '1')`]);
  const specFile = path.join(logDir, 'intake.json');
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const started = sluice(['intake', specFile]);
  expect([started.status, started.stderr]).toEqual([
    0,
    expect.stringContaining(`started ${intakeWorkflowId(spec.name)}`),
  ]);
  const handle = temporal.workflow.getHandle(intakeWorkflowId(spec.name));
  await readAll(handle, () => changes);

  // Changes after the snapshot: inserts, a whole-table update per transaction, a delete.
  await transaction([insert(33, 60)]);
  await transaction([bumpAll]);
  await transaction([`DELETE FROM ${table} WHERE id = 5`]);
  await transaction([bumpAll, bumpAll]);
  await readAll(handle, () => changes);

  // Many transactions, and the worker killed with a batch of them sent and not committed.
  await armedHold(failpoints, INTAKE_COMMIT_FAILPOINT, async () => {
    for (let round = 0; round < 8; round++) await transaction([bumpAll]);
  });
  await worker!.kill();
  await transaction([bumpAll]);
  worker = startWorker();
  // Killed again, now with a batch committed in Kafka and the slot not moved past it: the next
  // worker reads those transactions again and must skip them.
  await armedHold(failpoints, INTAKE_COMMITTED_FAILPOINT, async () => {
    for (let round = 0; round < 3; round++) await transaction([bumpAll]);
  });
  await worker.kill();
  worker = startWorker();
  await transaction([insert(61, 70), `UPDATE ${table} SET version = version + 1 WHERE id = 61`]);
  const final = await readAll(handle, () => changes);
  expect(final.recordsIn).toBe(changes);

  const shown = sluice(['status', intakeWorkflowId(spec.name), '--json']);
  expect(shown.status).toBe(0);
  const status = JSON.parse(shown.stdout) as IntakeStatus;
  expect(status).toMatchObject({ state: 'RUNNING', recordsIn: changes, deadLetters: 2, topic });

  expect(sluice(['cancel', intakeWorkflowId(spec.name)]).status).toBe(0);
  const result = (await handle.result()) as IntakeStatus;
  expect(result).toMatchObject({ state: 'CANCELLED', recordsIn: changes, deadLetters: 2 });
  expect(result.position).toMatch(new RegExp(`^LSN [0-9A-F]+/[0-9A-F]+ \\(slot ${intakeSlotName(spec.name)}\\)$`));

  // Kafka's view, read_committed: per id, versions 0, 1, 2, ... up to the table's, each once.
  const out = await readCommitted(deps.brokers, topic);
  expect(out.length).toBe(changes - 2);
  // Milliseconds cut, not rounded, as the intake's ISO reading cuts PostgreSQL's microseconds.
  const rows = await db.query<{ id: number; version: number; amount: string; ms: string }>(
    `SELECT id, version, amount, floor(extract(epoch FROM updated_at) * 1000)::bigint::text AS ms
       FROM ${table} WHERE id NOT IN (31, 32) ORDER BY id`,
  );
  // 1-30 without the deleted 5, 33-60, 61-70.
  expect(rows.rows.length).toBe(29 + 28 + 10);
  for (const row of rows.rows) {
    const ofId = out.filter((r) => r.key === JSON.stringify([row.id]));
    expect(new Set(ofId.map((r) => r.partition)).size).toBe(1);
    const versions = ofId.map((r) => (r.value as { version: number }).version);
    expect(versions).toEqual(Array.from({ length: row.version + 1 }, (_, v) => v));
    // The last record is the row as the table holds it now, normalised to the schema's types.
    expect(ofId.at(-1)!.value).toEqual({
      id: row.id,
      customer: `c${row.id % 4}`,
      version: row.version,
      amount: Number(row.amount),
      qty: 1,
      updated_at: Number(row.ms),
    });
  }
  // The deleted row: its versions before the delete, then a tombstone (a null value) for its key.
  const five = out.filter((r) => r.key === JSON.stringify([5]));
  expect(five.map((r) => (r.value === null ? null : (r.value as { version: number }).version))).toEqual([0, 1, null]);

  const dead = (await readCommitted(deps.brokers, `${topic}.dlq`)).map(
    (r) => r.value as { intake: string; reason: string; raw: string; source: { lsn: string; snapshot?: string } },
  );
  expect(dead.map((d) => [JSON.parse(d.raw).id, d.reason, d.source.snapshot])).toEqual([
    ['31', 'column "qty": expected a 32-bit integer, got "many"', 'initial'],
    ['32', 'column "amount": missing', 'initial'],
  ]);

  // PostgreSQL's view: the slot confirmed everything the intake committed, so its WAL is freed.
  const committedLsn = parseLsn(/^LSN (\S+)/.exec(result.position!)![1]!);
  const slot = await db.query<{ confirmed: string }>(
    'SELECT confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1',
    [intakeSlotName(spec.name)],
  );
  expect(parseLsn(slot.rows[0]!.confirmed)).toBeGreaterThanOrEqual(committedLsn);
});
