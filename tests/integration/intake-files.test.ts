/**
 * A files intake on the real stack: JSON-lines log files (appended, a partial line completed later,
 * rotated by rename) read into a schema'd topic by `intake/<name>` through `sluice worker` processes,
 * paused and resumed through the `temporal` CLI, one worker SIGKILLed while the intake is mid-way
 * through a large append. Checked through Kafka itself, read_committed: every valid record exactly
 * once, normalised, in order per key; every malformed one in `<topic>.dlq` with its reason and
 * source position.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { poolTaskQueue } from '../../config/env';
import { INTAKE_COMMIT_FAILPOINT } from '../../activities/intake';
import { readTopicSchema } from '../../engines/schema-registry';
import { defineIntake } from '../../lib/intake/spec';
import { pageViews } from '../../pipelines/page-views';
import { until } from '../../lib/poll';
import { poolSchedulerWorkflow } from '../../workflows';
import { intakeStatus, intakeWorkflowId, poolState } from '../../workflows/messages';
import { awaitRecordsIn, heartbeatCounts, readCommitted } from '../helpers/intake';
import {
  armedHold,
  connectTestClient,
  runSluice,
  runTemporalCli,
  spawnWorkerProcess,
  testDeps,
  testEnv,
  type WorkerProcess,
} from '../helpers/worker';

jest.setTimeout(600_000);
const id = Date.now().toString(36);
const env = testEnv('it-intake');
const deps = testDeps(env);
const pool = `it-intake-${id}`;
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-intake-logs-'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-intake-src-'));
const topic = `it-intake-${id}`;
let client: Client;
let worker: WorkerProcess | undefined;
let workers = 0;
const failpoints = path.join(logDir, 'failpoints');
const startWorker = () => spawnWorkerProcess(env, logDir, ++workers, [], { SLUICE_FAILPOINTS_DIR: failpoints });

const spec = defineIntake({
  name: `files-${id}`,
  source: { kind: 'files', dir, pattern: 'app.log*', format: 'jsonl' },
  schema: { id: 'string', page: 'string', n: 'int', ts: 'epoch_millis' },
  eventTime: 'ts',
  topic,
  partitions: 2,
  key: ['page'],
  intake: { pool, tenant: 'it', resources: { cpu: 0.5, memoryMb: 256 }, batchRecords: 200, pollInterval: '1 second' },
});

const PAGES = ['home', 'cart', 'search'];
const BASE = Date.UTC(2026, 11, 1, 10);
let serial = 0;
/** The next valid event: ids and per-page sequence numbers increase; some times are ISO strings. */
const valid: { id: string; page: string; n: number; ts: number }[] = [];
function event(): string {
  const i = serial++;
  const e = { id: `e-${i}`, page: PAGES[i % 3]!, n: i, ts: BASE + i * 1000 };
  valid.push(e);
  const ts = i % 5 === 0 ? new Date(e.ts).toISOString() : e.ts;
  // `extra` is not declared: dropped from the record.
  return JSON.stringify({ ...e, ts, extra: 'dropped' });
}
const malformed: { line: string; reason: string }[] = [];
function bad(line: string, reason: string): string {
  malformed.push({ line, reason });
  return line;
}
const lines = (n: number) => Array.from({ length: n }, () => event()).join('\n') + '\n';

const sluice = (args: string[]) => runSluice(env, args);

beforeAll(async () => {
  client = await connectTestClient(env);
  await client.workflow.start(poolSchedulerWorkflow, {
    taskQueue: poolTaskQueue(env),
    workflowId: `pool/${pool}`,
    args: [{ name: pool, capacity: { cpu: 4, memoryMb: 8192 }, policy: { kind: 'fifo' } }],
  });
  worker = startWorker();
});

afterAll(async () => {
  for (const wf of [intakeWorkflowId(spec.name), intakeWorkflowId(`files-${id}-v2`), `pool/${pool}`]) {
    await client?.workflow
      .getHandle(wf)
      .terminate('test over')
      .catch(() => undefined);
  }
  await worker?.kill();
  await client?.connection.close();
});

test('files appended, completed, rotated, paused and resumed by the temporal CLI, a SIGKILL mid-way: every record once, dead letters with reasons', async () => {
  const log = path.join(dir, 'app.log');
  fs.writeFileSync(
    log,
    lines(40) +
      bad('{"id": "x-1", "page": "home"', 'not JSON') +
      '\n' +
      bad(JSON.stringify({ id: 'x-2', page: 'home', ts: BASE }), 'column "n": missing') +
      '\n' +
      bad(JSON.stringify({ id: 'x-3', page: 'home', n: 'seven', ts: BASE }), 'column "n": expected a 32-bit integer') +
      '\n' +
      bad(
        JSON.stringify({ id: 'x-4', page: 'home', n: 1, ts: 'yesterday' }),
        'column "ts": expected epoch milliseconds',
      ) +
      '\n' +
      bad('[1, 2, 3]', 'expected a JSON object') +
      '\n' +
      // Valid, but larger than the broker takes: a dead letter, not a transaction failing for ever.
      bad(
        JSON.stringify({ id: 'x-5', page: 'p'.repeat(1_100_000), n: 1, ts: BASE }),
        `record of ${Buffer.byteLength(JSON.stringify({ id: 'x-5', page: 'p'.repeat(1_100_000), n: 1, ts: BASE }))} bytes, above 1000000`,
      ) +
      '\n' +
      '\n' + // an empty line: consumed, neither a record nor a dead letter
      lines(40),
  );
  // Started from a JSON spec, as an operator would.
  const specFile = path.join(logDir, 'intake.json');
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const started = sluice(['intake', specFile]); // waits for the worker that is starting
  expect([started.status, started.stderr]).toEqual([
    0,
    expect.stringContaining(`started ${intakeWorkflowId(spec.name)}`),
  ]);
  expect(started.stdout).toBe(`${intakeWorkflowId(spec.name)}\n`);
  const handle = client.workflow.getHandle(intakeWorkflowId(spec.name));
  const linesSoFar = () => valid.length + malformed.length;
  const read = (n: number) => awaitRecordsIn(handle, () => n, 'lines');
  await read(linesSoFar());

  // A line written in two parts: nothing of it is taken until its newline arrives.
  const half = event();
  fs.appendFileSync(log, half.slice(0, 10));
  fs.appendFileSync(log, half.slice(10) + '\n' + lines(20));
  await read(linesSoFar());

  // Rotation: the writer renames its file, writes a last line to it, then opens a new one.
  fs.renameSync(log, path.join(dir, 'app.log.1'));
  fs.appendFileSync(path.join(dir, 'app.log.1'), lines(1));
  fs.writeFileSync(log, lines(30));
  await read(linesSoFar());

  // Paused and resumed through Temporal's own CLI, as streams are: the pause gives the pool its grant
  // back (the scheduler's own view), lines written meanwhile are read after the resume.
  const temporalCli = (...args: string[]) => runTemporalCli(env, args);
  const heldByIntake = async () =>
    (await client.workflow.getHandle(`pool/${pool}`).query(poolState)).running.filter(
      (g) => g.holderWorkflowId === handle.workflowId,
    ).length;
  expect(await heldByIntake()).toBe(1);
  await temporalCli('workflow', 'signal', '--workflow-id', handle.workflowId, '--name', 'pause');
  await until('the intake to be paused with its grant given back', async () =>
    (await handle.query(intakeStatus)).state === 'PAUSED' && (await heldByIntake()) === 0 ? true : undefined,
  );
  fs.appendFileSync(log, lines(25));
  const queried = await temporalCli('workflow', 'query', '--workflow-id', handle.workflowId, '--type', 'status');
  expect(queried.stdout).toMatch(/"state":\s*"PAUSED"/);
  await temporalCli('workflow', 'signal', '--workflow-id', handle.workflowId, '--name', 'resume');
  await read(linesSoFar());
  expect(await heldByIntake()).toBe(1);

  // A large append, and the worker SIGKILLed with a batch of it sent and not committed.
  const before = linesSoFar();
  await armedHold(failpoints, INTAKE_COMMIT_FAILPOINT, async () => {
    fs.appendFileSync(log, lines(6000));
  });
  const held = await heartbeatCounts(handle);
  expect(held?.recordsIn ?? before).toBeLessThan(linesSoFar());
  await worker!.kill();
  worker = startWorker();
  const final = await read(linesSoFar());
  expect(final.recordsIn).toBe(linesSoFar());

  const shown = sluice(['status', intakeWorkflowId(spec.name), '--json']);
  expect(shown.status).toBe(0);
  expect(JSON.parse(shown.stdout)).toMatchObject({ state: 'RUNNING', recordsIn: linesSoFar(), topic });

  expect(sluice(['cancel', intakeWorkflowId(spec.name)]).status).toBe(0);
  const result = await handle.result();
  expect(result).toMatchObject({
    state: 'CANCELLED',
    recordsIn: linesSoFar(),
    recordsOut: valid.length,
    deadLetters: malformed.length,
  });

  // Kafka's own view, read_committed: each valid record exactly once, normalised.
  const out = await readCommitted(deps.brokers, topic);
  const values = out.map((r) => r.value as { id: string; page: string; n: number; ts: number });
  expect(values.length).toBe(valid.length);
  expect([...values].sort((a, b) => a.n - b.n)).toEqual(valid);
  // In order per key: one key's records are in one partition, in the order they were written.
  for (const page of PAGES) {
    const ofPage = out.filter((r) => (r.value as { page: string }).page === page);
    expect(new Set(ofPage.map((r) => r.partition)).size).toBe(1);
    expect(ofPage.every((r) => r.key === JSON.stringify([page]))).toBe(true);
    const ns = ofPage.map((r) => (r.value as { n: number }).n);
    expect(ns).toEqual([...ns].sort((a, b) => a - b));
  }

  const dead = (await readCommitted(deps.brokers, `${topic}.dlq`)).map(
    (r) => r.value as { intake: string; reason: string; raw: string; source: { file: string; offset: number } },
  );
  // A line too large to write is kept by its first 1,000 characters.
  const kept = (line: string) => (line.length > 250_000 ? `${line.slice(0, 1000)}...` : line);
  expect(dead.map((d) => d.raw)).toEqual(malformed.map((m) => kept(m.line)));
  dead.forEach((d, i) => {
    expect(d.intake).toBe(spec.name);
    expect(d.reason).toContain(malformed[i]!.reason);
    // The source position is the line's own: the file holds exactly that line there.
    const bytes = fs.readFileSync(path.join(dir, 'app.log.1'));
    expect(d.source.file).toBe(path.join(dir, 'app.log'));
    const line = malformed[i]!.line;
    expect(bytes.subarray(d.source.offset, d.source.offset + Buffer.byteLength(line)).toString('utf8')).toBe(line);
  });
});

test('sluice intake refuses a bad spec or an unknown intake by name, and starts nothing', async () => {
  const refusal = (patch: object) => {
    const file = path.join(logDir, 'bad.json');
    fs.writeFileSync(file, JSON.stringify({ ...spec, name: 'bad-intake', ...patch }));
    const r = sluice(['intake', file]);
    return [r.status, r.stderr];
  };
  expect(refusal({ source: { ...spec.source, format: 'xml' } })).toEqual([
    2,
    expect.stringContaining('source.format: expected "jsonl" | "csv", got "xml"'),
  ]);
  expect(refusal({ eventTime: 'n' })).toEqual([
    2,
    expect.stringContaining('eventTime: column "n" is int; expected timestamp or epoch_millis'),
  ]);
  const unknown = sluice(['intake', 'no-such-intake']);
  expect([unknown.status, unknown.stderr]).toEqual([
    2,
    expect.stringContaining('unknown intake "no-such-intake" (known: page-view-logs'),
  ]);
  await expect(client.workflow.getHandle(intakeWorkflowId('bad-intake')).describe()).rejects.toThrow();
});

test('the topic schema is registered; an incompatible change and a mismatching pipeline are refused by column', async () => {
  // The run above registered version 1: the declared columns, the event time as epoch milliseconds.
  const registered = await readTopicSchema(deps.kafka, topic);
  expect(registered?.current).toMatchObject({
    version: 1,
    columns: { id: 'string', page: 'string', n: 'int', ts: 'epoch_millis' },
    registeredBy: `intake ${spec.name}`,
  });

  // Another intake into the same topic that drops `n` and retypes `page`: refused, nothing started.
  const { n: _n, ...rest } = spec.schema;
  const changed = { ...spec, name: `files-${id}-v2`, schema: { ...rest, page: 'int' } };
  const file = path.join(logDir, 'changed.json');
  fs.writeFileSync(file, JSON.stringify(changed));
  const refused = sluice(['intake', file]);
  expect([refused.status, refused.stderr]).toEqual([
    2,
    expect.stringContaining('would change incompatibly: dropped column "n"; column "page" retyped string → int'),
  ]);
  await expect(client.workflow.getHandle(intakeWorkflowId(changed.name)).describe()).rejects.toThrow();
  expect((await readTopicSchema(deps.kafka, topic))?.current.version).toBe(1);

  // A pipeline reading the topic with columns it does not have: refused, the columns named.
  const pipelineFile = path.join(logDir, 'pipeline.json');
  fs.writeFileSync(
    pipelineFile,
    JSON.stringify({ ...pageViews, name: `reads-${id}`, source: { ...pageViews.source, topic } }),
  );
  const run = sluice(['run', pipelineFile, '--no-wait']);
  expect(run.status).toBe(2);
  expect(run.stderr).toContain(
    `its source does not match topic ${topic} (schema version 1, registered by intake ${spec.name})`,
  );
  expect(run.stderr).toContain('column "user" is not in the topic (its columns: id, page, n, ts)');
  expect(run.stderr).toContain('column "amount" is not in the topic');

  // Forced, the change is registered as version 2, the first kept in the history.
  const forced = sluice(['intake', file, '--force-schema']);
  expect(forced.status).toBe(0);
  const v2 = await until(
    'version 2 to be registered',
    async () => {
      const r = await readTopicSchema(deps.kafka, topic);
      return r && r.current.version === 2 ? r : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  expect(v2.current).toMatchObject({ forced: true, columns: { id: 'string', page: 'int', ts: 'epoch_millis' } });
  expect(v2.history.map((h) => h.version)).toEqual([1]);
  expect(sluice(['cancel', intakeWorkflowId(changed.name)]).status).toBe(0);
  await client.workflow.getHandle(intakeWorkflowId(changed.name)).result();
});
