/**
 * A lambda pipeline on the real stack (Temporal, Kafka, Flink, Spark Connect, the Iceberg lake):
 * a known event set, with out-of-order and late events, gives an exactly known merged view; a
 * deliberately corrupted batch partition is repaired by its recompute; the partition whose late
 * events the stream dropped is published from the batch layer, flagged, with the difference
 * explained by the stream's own late-record count; an empty partition is a verified gap; no
 * reader of any snapshot of the view sees a partition whose rows differ from its provenance; and
 * a worker SIGKILLed during a publication and during the recompute loses and duplicates nothing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { poolTaskQueue } from '../../config/env';
import { ensureTopic, produceJson } from '../../engines/kafka';
import { viewSnapshots } from '../../engines/lake-view';
import { withSession } from '../../engines/spark-connect-step';
import { sparkTableName } from '../../lib/lake-catalog';
import { viewChecksumQuery } from '../../lib/lambda-view';
import { definePipeline, type LambdaPipelineSpec } from '../../lib/pipelines';
import { mergedColumns } from '../../lib/pipelines/lambda';
import { until } from '../../lib/poll';
import { lambdaPipelineWorkflow, poolSchedulerWorkflow } from '../../workflows';
import { lambdaStatus, lambdaWorkflowId, type CheckFigures, type LambdaStatus } from '../../workflows/messages';
import { sqlRows } from '../helpers/lake';
import { pageViewsComputation, pageViewTotals, quickStreamSettings } from '../helpers/page-views';
import { connectTestClient, spawnWorkerProcess, testDeps, testEnv, type WorkerProcess } from '../helpers/worker';

jest.setTimeout(900_000);
const ROOT = path.join(__dirname, '..', '..');
const id = Date.now().toString(36);
const env = testEnv('it-lambda');
const deps = testDeps(env);
const pool = `it-lambda-${id}`;
const name = `lam-${id}`;
const topic = `it-lambda-${id}`;
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-lambda-'));
let client: Client;

// ---- the known event set: hour partitions 2026-02-01T00..02 (02 has no events)
const HOUR = 3_600_000;
const MIN = 60_000;
const T0 = Date.UTC(2026, 1, 1, 0, 0, 0);
const P = ['2026-02-01T00', '2026-02-01T01', '2026-02-01T02'];
interface Event {
  user: string;
  page: string;
  amount: number;
  ts: number;
}
const ev = (ts: number, page: string, amount: number, user = 'u1'): Event => ({ user, page, amount, ts });

/** Hour 00 (four windows, three pages, some records out of order within the lateness) and hour 01 up to 01:20. */
function phaseA(): Event[] {
  const out: Event[] = [];
  for (let w = 0; w < 4; w++) {
    for (const [i, page] of ['/home', '/cart', '/pay'].entries()) {
      for (let k = 0; k <= i; k++) out.push(ev(T0 + w * 15 * MIN + (k + 1) * 20_000, page, 10 * (w + 1) + k));
    }
  }
  // Out of order by up to 3 s (inside the 5 s lateness): swap neighbours.
  for (let i = 0; i + 1 < out.length; i += 4) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  out.push(
    ev(T0 + HOUR + 2 * MIN, '/home', 5),
    ev(T0 + HOUR + 7 * MIN, '/cart', 6),
    ev(T0 + HOUR + 20 * MIN, '/pay', 7),
  );
  return out;
}
/**
 * Late records for the window 01:00–01:15 (fired by then), hour 01's rest, and two events in 03:
 * the second fires the first's window (03:00–03:15), whose commit shows that 02 has closed.
 */
const LATE = [
  ev(T0 + HOUR + 5 * MIN, '/home', 100),
  ev(T0 + HOUR + 6 * MIN, '/home', 101),
  ev(T0 + HOUR + 10 * MIN, '/new', 102),
];
function phaseB(): Event[] {
  return [
    ...LATE,
    ev(T0 + HOUR + 40 * MIN, '/home', 8),
    ev(T0 + HOUR + 59 * MIN, '/pay', 9),
    ev(T0 + 3 * HOUR + 10_000, '/home', 1),
    ev(T0 + 3 * HOUR + 20 * MIN, '/home', 1),
  ];
}

const spec: LambdaPipelineSpec = definePipeline({
  name,
  kind: 'lambda',
  ...pageViewsComputation(topic),
  sink: { lake: true },
  batch: { pool, tenant: 'it', resources: { cpu: 1, memoryMb: 1024 } },
  stream: quickStreamSettings(pool),
  lambda: { onInconsistent: 'recompute' },
  schedule: { start: P[0]!, end: P[2]! },
});

const startWorker = (n: number) => spawnWorkerProcess(env, logDir, n);
let worker: WorkerProcess | undefined;
let workers = 0;

/** Waits until a workflow has `activity` running (started by a worker), then SIGKILLs the worker and starts another. */
async function killDuring(workflowId: string, activity: string, when: () => Promise<boolean> = async () => true) {
  await until(
    `${activity} to be running in ${workflowId}`,
    async () => {
      const d = await client.workflow
        .getHandle(workflowId)
        .describe()
        .catch(() => undefined);
      const pending = d?.raw.pendingActivities ?? [];
      const started = pending.some((a) => a.activityType?.name === activity && Number(a.state) === 2);
      return started && (await when()) ? true : undefined;
    },
    { timeoutMs: 300_000, intervalMs: 100 },
  );
  await worker!.kill();
  worker = startWorker(++workers);
}

/** Partition → rows and checksum of one snapshot of the view, computed by Spark from the rows it holds. */
async function heldIn(snapshotId: string): Promise<Record<string, { rows: number; checksum: string }>> {
  const table = sparkTableName(name, 'merged');
  const rows = await sqlRows(
    deps,
    viewChecksumQuery({ layer: 'stream', source: table, snapshotId }, mergedColumns(spec)),
  );
  return Object.fromEntries(rows.map((r) => [String(r.p), { rows: Number(r.n), checksum: String(r.checksum) }]));
}

/** A snapshot is whole when every partition it holds is exactly what its provenance says (and nothing else). */
async function wholeSnapshots() {
  const table = sparkTableName(name, 'merged');
  const snaps = await withSession(deps.sparkConnect, (c, s) => viewSnapshots({ client: c, sessionId: s }, table));
  const broken: string[] = [];
  for (const snap of snaps) {
    const held = await heldIn(snap.snapshotId);
    const said = Object.fromEntries(
      Object.entries(snap.provenance.partitions)
        .filter(([, p]) => p.rows > 0)
        .map(([p, v]) => [p, { rows: v.rows, checksum: v.checksum }]),
    );
    const same = (a: object) => JSON.stringify(Object.entries(a).sort(([x], [y]) => x.localeCompare(y)));
    if (same(held) !== same(said))
      broken.push(`${snap.snapshotId}: holds ${JSON.stringify(held)}, says ${JSON.stringify(said)}`);
  }
  return { snapshots: snaps, broken };
}

let handle: WorkflowHandle<typeof lambdaPipelineWorkflow>;
let final: LambdaStatus;
const events = [...phaseA(), ...phaseB()];

beforeAll(async () => {
  client = await connectTestClient(env);
  await client.workflow.start(poolSchedulerWorkflow, {
    taskQueue: poolTaskQueue(env),
    workflowId: `pool/${pool}`,
    args: [{ name: pool, capacity: { cpu: 8, memoryMb: 16384 }, policy: { kind: 'fifo' } }],
  });
  await ensureTopic(deps.kafka, topic, 1);
  worker = startWorker(++workers);
});

afterAll(async () => {
  await handle?.terminate('test over').catch(() => undefined);
  await client?.workflow
    .getHandle(`stream/${name}`)
    .terminate('test over')
    .catch(() => undefined);
  await client?.workflow
    .getHandle(`pool/${pool}`)
    .terminate('test over')
    .catch(() => undefined);
  await worker?.kill();
  await client?.connection.close();
});

describe('a lambda pipeline over a known event set', () => {
  test('runs both layers, repairs, flags and publishes every partition, surviving two SIGKILLed workers', async () => {
    await produceJson(deps.kafka, topic, phaseA());
    handle = await client.workflow.start(lambdaPipelineWorkflow, {
      taskQueue: env.SLUICE_TASK_QUEUE,
      workflowId: lambdaWorkflowId(name),
      args: [{ pipeline: spec, pollMs: 1000, faults: { corruptBatch: [P[0]!] } }],
    });
    // The window 01:00–01:15 has fired and committed in the stream layer: records for it are late now.
    await until(
      'the stream layer to commit the window 01:00',
      async () => {
        const rows = await sqlRows(
          deps,
          `SELECT count(*) AS n FROM ${sparkTableName(name, 'stream')} WHERE window_start = TIMESTAMP_NTZ '2026-02-01 01:00:00'`,
        ).catch(() => [{ n: 0 }]);
        return Number(rows[0]?.n) > 0 ? true : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    );
    await produceJson(deps.kafka, topic, phaseB());

    // A reader polls the view throughout: every snapshot it reads must be whole.
    const seen = new Set<string>();
    const mixed: string[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const snaps = await withSession(deps.sparkConnect, (c, s) =>
          viewSnapshots({ client: c, sessionId: s }, sparkTableName(name, 'merged')),
        ).catch(() => []);
        const current = snaps.at(-1);
        if (current && !seen.has(current.snapshotId)) {
          seen.add(current.snapshotId);
          const held = await heldIn(current.snapshotId);
          // Every partition the provenance names holds exactly its rows, and nothing else is held.
          const named = Object.entries(current.provenance.partitions).filter(([, v]) => v.rows > 0);
          for (const p of Object.keys(held))
            if (!named.some(([n]) => n === p)) mixed.push(`${current.snapshotId}/${p} unnamed`);
          for (const [p, v] of named) {
            if (v.rows > 0 && (held[p]?.rows !== v.rows || held[p]?.checksum !== v.checksum))
              mixed.push(`${current.snapshotId}/${p}`);
          }
        }
        // Not a wait for a state: the poll interval of a reader that runs beside the pipeline until it ends.
        await new Promise((r) => setTimeout(r, 300));
      }
    })();

    // SIGKILL during T00's recompute (its batch step), then during a batch publication (a commit of the view).
    await killDuring(`batch/${name}/${P[0]}`, 'sparkSql', async () => {
      const s = await handle.query(lambdaStatus);
      return s.partitions.find((p) => p.partition === P[0])?.phase === 'recomputing';
    });
    await killDuring(handle.workflowId, 'commitView', async () => {
      const s = await handle.query(lambdaStatus);
      return s.partitions.some((p) => p.phase === 'ready');
    });

    const result = await handle.result();
    reading = false;
    await reader;
    expect(result).toMatchObject({ state: 'COMPLETED', highWaterMark: P[2] });
    expect(mixed).toEqual([]);
    expect(seen.size).toBeGreaterThan(1);
    final = await handle.query(lambdaStatus);
  });

  test('the merged view holds exactly the batch computation of every event, late ones included', async () => {
    const rows = await sqlRows(
      deps,
      `SELECT partition, unix_millis(window_start) AS window_start, page, views, total_amount FROM ${sparkTableName(name, 'merged')} ORDER BY window_start, page`,
    );
    expect(rows).toEqual(pageViewTotals(events, P));
  });

  test('the corrupted partition was repaired, the late one flagged and explained, the empty one verified', async () => {
    const byPartition = Object.fromEntries(final.partitions.map((p) => [p.partition, p]));
    const [p0, p1, p2] = P.map((p) => byPartition[p]!);
    // T00: corrupted after its first run (one window's rows: three pages), found, recomputed, consistent.
    expect(p0.batchRuns).toBe(2);
    expect(p0.checks.map((c) => [c.consistent, c.mismatched])).toEqual([
      [false, 3],
      [true, 0],
    ]);
    expect(p0.flagged).toBeUndefined();
    // T01: the stream dropped LATE (window 01:00: two /home records, one /new), the batch counted them.
    expect(p1.batchRuns).toBe(2);
    expect(p1.flagged).toBe(true);
    for (const c of p1.checks) {
      expect(c).toMatchObject({ consistent: false, mismatched: 1, missingInStream: 1, missingInBatch: 0 });
      expect(c.lateData).toEqual({ difference: LATE.length, droppedLateRecords: LATE.length, explained: true });
    }
    // T02: no events: both layers empty, consistent, served by the batch layer with no rows.
    expect(p2.checks.at(-1)).toMatchObject({ consistent: true, matched: 0 });
    // Each report is kept as JSON beside its partition.
    const saved = JSON.parse(fs.readFileSync(p1.checks[0]!.report, 'utf8'));
    expect(saved).toMatchObject({ partition: P[1], attempt: 1, batchSnapshot: expect.any(String) });
    expect(saved.report).toMatchObject({ consistent: false, mismatched: 1, missingInStream: 1 });
    // Sample keys name the rows: the window whose /home records came late, and the page only late records had.
    expect(saved.report.samples.mismatched).toEqual([{ window_start: '2026-02-01T01:00:00.000000Z', page: '/home' }]);
    expect(saved.report.samples.missingInStream).toEqual([
      { window_start: '2026-02-01T01:00:00.000000Z', page: '/new' },
    ]);
  });

  test('every snapshot of the view is whole, and each commit happened once', async () => {
    const { snapshots, broken } = await wholeSnapshots();
    expect(broken).toEqual([]);
    const last = snapshots.at(-1)!.provenance;
    expect(last.highWaterMark).toBe(P[2]);
    expect(
      Object.fromEntries(Object.entries(last.partitions).map(([p, v]) => [p, [v.layer, v.check, v.flagged ?? false]])),
    ).toEqual({
      [P[0]!]: ['batch', 'repaired', false],
      [P[1]!]: ['batch', 'inconsistent', true],
      [P[2]!]: ['batch', 'consistent', false],
    });
    // Step names are unique per commit: a retried commit found its own instead of committing again.
    const steps = await sqlRows(
      deps,
      `SELECT summary['sluice.step'] AS step, count(*) AS n FROM ${sparkTableName(name, 'merged')}.snapshots GROUP BY 1 HAVING count(*) > 1`,
    );
    expect(steps).toEqual([]);
    // The batch layer ran T00 twice (and was corrupted once in between), every other partition once or twice as checked.
    const batchRuns = await sqlRows(
      deps,
      `SELECT count(*) AS n FROM ${sparkTableName(name, 'batch')}.snapshots WHERE summary['sluice.step'] LIKE '%${P[0]}%'`,
    );
    expect(Number(batchRuns[0]!.n)).toBe(2);
  });
});

describe('sluice view', () => {
  const specFile = path.join(logDir, `${name}.json`);
  const sluice = (...args: string[]) =>
    spawnSync(process.execPath, ['bin/sluice.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, SLUICE_TASK_QUEUE: env.SLUICE_TASK_QUEUE },
      encoding: 'utf8',
    });
  beforeAll(() => fs.writeFileSync(specFile, JSON.stringify(spec)));

  test('prints the view with each partition’s provenance and names the empty partition a gap', () => {
    const out = sluice('view', specFile, '--json');
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    const view = JSON.parse(out.stdout);
    expect(view.highWaterMark).toBe(P[2]);
    expect(
      view.partitions.map((p: { partition: string; layer: string; rows: number; check?: string }) => [
        p.partition,
        p.layer,
        p.rows,
        p.check,
      ]),
    ).toEqual([
      [P[0], 'batch', pageViewTotals(events, [P[0]!]).length, 'repaired'],
      [P[1], 'batch', pageViewTotals(events, [P[1]!]).length, 'inconsistent'],
      [P[2], 'gap', 0, 'consistent'],
    ]);
    expect(view.gaps).toEqual([{ partition: P[2], reason: expect.stringMatching(/^verified empty/) }]);
    expect(view.rows).toHaveLength(pageViewTotals(events, P).length);
  });

  test('--as-of reads an earlier snapshot: before the first publication, the stream layer served every partition', async () => {
    const table = sparkTableName(name, 'merged');
    const snaps = await withSession(deps.sparkConnect, (c, s) => viewSnapshots({ client: c, sessionId: s }, table));
    const first = snaps.find((x) => x.provenance.highWaterMark === undefined)!;
    const out = sluice('view', specFile, '--as-of', first.snapshotId, '--json', '--to', P[1]!);
    expect(out.status).toBe(0);
    const view = JSON.parse(out.stdout);
    expect(view.snapshot).toBe(first.snapshotId);
    expect(
      view.partitions.filter((p: { layer: string }) => p.layer !== 'gap').map((p: { layer: string }) => p.layer),
    ).toEqual(expect.arrayContaining(['stream']));
    expect(view.partitions.every((p: { layer: string }) => p.layer !== 'batch')).toBe(true);
  });

  test('bad arguments are refused with the flag named, exit 2', () => {
    const bad = sluice('view', specFile, '--as-of', 'yesterday');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--as-of: expected a snapshot id \(an integer\), got "yesterday"/);
    const gone = sluice('view', specFile, '--as-of', '12345');
    expect(gone.status).toBe(2);
    expect(gone.stderr).toMatch(/--as-of: lake.`lam-\w+`.merged has no snapshot 12345/);
    const range = sluice('view', specFile, '--from', '2026-02-01');
    expect(range.status).toBe(2);
    expect(range.stderr).toMatch(/--from: /);
  });
});

describe('the consistency check on the lake', () => {
  test('finds a discrepancy injected into the stream layer with exact counts and sample keys, in-process and on Spark alike', async () => {
    const stream = sparkTableName(name, 'stream');
    const p0 = final.partitions.find((p) => p.partition === P[0])!;
    // The stream job has stopped with the schedule's end: Spark is the table's only writer now.
    await sqlRows(
      deps,
      `DELETE FROM ${stream} WHERE partition = '${P[0]}' AND page = '/pay' AND window_start = TIMESTAMP_NTZ '2026-02-01 00:15:00'`,
    );
    await sqlRows(
      deps,
      `UPDATE ${stream} SET total_amount = total_amount + 7 WHERE partition = '${P[0]}' AND page = '/cart' AND window_start = TIMESTAMP_NTZ '2026-02-01 00:30:00'`,
    );
    const [{ s: snapshot }] = (await sqlRows(
      deps,
      `SELECT CAST(snapshot_id AS STRING) AS s FROM ${stream}.refs WHERE name = 'main'`,
    )) as { s: string }[];
    const acts = createActivities(deps);
    const check = (localMaxRows: number, attempt: number): Promise<CheckFigures> =>
      new MockActivityEnvironment().run(() =>
        acts.checkLambdaPartition({
          pipeline: name,
          partition: P[0]!,
          batchSnapshot: p0.batchSnapshot!,
          streamSnapshot: snapshot,
          keys: ['window_start', 'page'],
          tolerances: [],
          localMaxRows,
          countColumn: 'views',
          attempt,
        }),
      );
    const local = await check(1_000_000, 10);
    const onSpark = await check(0, 11);
    const rowsOf = pageViewTotals(events, [P[0]!]).length;
    for (const figures of [local, onSpark]) {
      expect(figures).toMatchObject({
        consistent: false,
        matched: rowsOf - 2,
        mismatched: 1,
        missingInStream: 1,
        missingInBatch: 0,
        duplicateKeys: { batch: 0, stream: 0 },
      });
    }
    expect([local.engine, onSpark.engine]).toEqual(['local', 'spark']);
    const reports = [local, onSpark].map((f) => JSON.parse(fs.readFileSync(f.report, 'utf8')).report);
    for (const r of reports) {
      expect(r.samples.mismatched).toEqual([{ window_start: '2026-02-01T00:30:00.000000Z', page: '/cart' }]);
      expect(r.samples.missingInStream).toEqual([{ window_start: '2026-02-01T00:15:00.000000Z', page: '/pay' }]);
      expect(r.mismatchedByColumn).toEqual({ window_end: 0, views: 0, total_amount: 1 });
    }
  });
});

describe('retention of the view', () => {
  test('expireView drops the snapshots older than the retention, keeps the newest readable, and earlier ones stop being readable', async () => {
    const table = sparkTableName(name, 'merged');
    const before = await withSession(deps.sparkConnect, (c, s) => viewSnapshots({ client: c, sessionId: s }, table));
    expect(before.length).toBeGreaterThan(1);
    const acts = createActivities(deps);
    // Retention ending now: everything but the newest snapshot is older.
    const { snapshots } = await new MockActivityEnvironment().run((): Promise<{ snapshots: number }> =>
      acts.expireView({ pipeline: name, olderThanMs: Date.now() }),
    );
    expect(snapshots).toBe(1);
    const after = await withSession(deps.sparkConnect, (c, s) => viewSnapshots({ client: c, sessionId: s }, table));
    expect(after.map((s) => s.snapshotId)).toEqual([before.at(-1)!.snapshotId]);
    const columns = 'partition, unix_millis(window_start) AS window_start, page, views, total_amount';
    expect(await sqlRows(deps, `SELECT ${columns} FROM ${table} ORDER BY window_start, page`)).toEqual(
      pageViewTotals(events, P),
    );
    await expect(sqlRows(deps, `SELECT count(*) FROM ${table} VERSION AS OF ${before[0]!.snapshotId}`)).rejects.toThrow(
      /snapshot|Cannot find/i,
    );
  });
});
