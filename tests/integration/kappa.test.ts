/**
 * A Kappa pipeline on the real stack (Temporal, Kafka, Flink, Spark Connect, the Iceberg lake):
 * the first generation serves the view; a reprocess with a changed computation replays the topic
 * as a new generation, its diff fails, and the view never switches to it (its job stopped, its
 * table dropped); a reprocess of the same computation catches up, passes its diff and switches
 * the view in one commit, although the worker is SIGKILLed during that commit; a rollback is one
 * commit back. A reader polling the view throughout never sees a snapshot that is not whole.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { poolTaskQueue } from '../../config/env';
import { ensureTopic, produceJson } from '../../engines/kafka';
import { viewSnapshots, type ViewSnapshot } from '../../engines/lake-view';
import { withSession } from '../../engines/spark-connect-step';
import { sparkTableName } from '../../lib/lake-catalog';
import { viewChecksumQuery } from '../../lib/lambda-view';
import { definePipeline, type KappaPipelineSpec } from '../../lib/pipelines';
import { kappaColumns } from '../../lib/pipelines/kappa';
import { until } from '../../lib/poll';
import { kappaPipelineWorkflow, poolSchedulerWorkflow } from '../../workflows';
import {
  cancelStream,
  kappaStatus,
  kappaWorkflowId,
  reprocess,
  rollback,
  type KappaStatus,
} from '../../workflows/messages';
import { sqlRows } from '../helpers/lake';
import { pageViewsComputation, pageViewTotals, quickStreamSettings } from '../helpers/page-views';
import { liveJobs } from '../helpers/streams';
import { connectTestClient, spawnWorkerProcess, testDeps, testEnv, type WorkerProcess } from '../helpers/worker';

jest.setTimeout(900_000);
const ROOT = path.join(__dirname, '..', '..');
const id = Date.now().toString(36);
const env = testEnv('it-kappa');
const deps = testDeps(env);
const pool = `it-kappa-${id}`;
const name = `kap-${id}`;
const topic = `it-kappa-${id}`;
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-kappa-'));
let client: Client;

const HOUR = 3_600_000;
const MIN = 60_000;
const T0 = Date.UTC(2026, 3, 1, 0, 0, 0);
const P = ['2026-04-01T00', '2026-04-01T01'];
const ev = (ts: number, page: string, amount: number) => ({ user: 'u1', page, amount, ts });
/** Two hours of views (some out of order, inside the lateness; none late), then two records that close hour 01. */
const EVENTS = [
  ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((w) =>
    ['/home', '/cart', '/pay']
      .slice(0, (w % 3) + 1)
      .flatMap((page, i) => [
        ev(T0 + w * 15 * MIN + (i + 1) * 30_000, page, w + i + 1),
        ev(T0 + w * 15 * MIN + (i + 1) * 30_000 - 2_000, page, 2 * w + 1),
      ]),
  ),
  ev(T0 + 2 * HOUR + 10_000, '/home', 1),
  ev(T0 + 2 * HOUR + 20 * MIN, '/home', 1),
];

const spec: KappaPipelineSpec = definePipeline({
  name,
  kind: 'kappa',
  ...pageViewsComputation(topic),
  stream: quickStreamSettings(pool),
  // Short, so that the test sees a replaced generation removed (a rollback must come before).
  kappa: { retainOld: '60 seconds' },
  schedule: { start: P[0]! },
});
const VIEW = sparkTableName(name, 'merged');

let worker: WorkerProcess | undefined;
let workers = 0;
const startWorker = () => spawnWorkerProcess(env, logDir, ++workers);
let handle: WorkflowHandle<typeof kappaPipelineWorkflow>;
const status = () => handle.query(kappaStatus);
/** The status, or undefined while no worker answers (one was just killed). */
const statusNow = () => status().catch(() => undefined);
const snapshots = () =>
  withSession(deps.sparkConnect, (c, s) => viewSnapshots({ client: c, sessionId: s }, VIEW)).catch(
    () => [] as ViewSnapshot[],
  );

/** Partition → rows and checksum of one snapshot of the view, computed by Spark from what it holds. */
async function heldIn(snapshotId: string) {
  const rows = await sqlRows(
    deps,
    viewChecksumQuery({ layer: 'stream', source: VIEW, snapshotId }, kappaColumns(spec)),
  );
  return Object.fromEntries(rows.map((r) => [String(r.p), { rows: Number(r.n), checksum: String(r.checksum) }]));
}
const viewRows = (asOf?: string) =>
  sqlRowsOf(
    `SELECT partition, unix_millis(window_start) AS window_start, page, views, total_amount FROM ${VIEW}${asOf ? ` VERSION AS OF ${asOf}` : ''} ORDER BY window_start, page`,
  );
/** The view's rows; none before its first commit created it. */
const sqlRowsOf = (sql: string) =>
  sqlRows(deps, sql).catch((err: Error) => {
    if (/TABLE_OR_VIEW_NOT_FOUND/.test(err.message)) return [];
    throw err;
  });
const generationOf = (g: number) => (s: KappaStatus) => s.generations.find((x) => x.generation === g);

beforeAll(async () => {
  client = await connectTestClient(env);
  await client.workflow.start(poolSchedulerWorkflow, {
    taskQueue: poolTaskQueue(env),
    workflowId: `pool/${pool}`,
    args: [{ name: pool, capacity: { cpu: 8, memoryMb: 16384 }, policy: { kind: 'fifo' } }],
  });
  await ensureTopic(deps.kafka, topic, 1);
  await produceJson(deps.kafka, topic, EVENTS);
  worker = startWorker();
});

afterAll(async () => {
  for (const wf of [
    kappaWorkflowId(name),
    ...[1, 2, 3].map((n) => `stream/${n === 1 ? name : `${name}-g${n}`}`),
    `pool/${pool}`,
  ]) {
    await client?.workflow
      .getHandle(wf)
      .terminate('test over')
      .catch(() => undefined);
  }
  await worker?.kill();
  await client?.connection.close();
});

describe('a Kappa pipeline', () => {
  const seen = new Map<string, number | undefined>();
  const broken: string[] = [];
  let reading = true;
  let reader: Promise<void>;
  // The view: every window that has fired, i.e. all but the last record's (02:15–02:30 is still open).
  const expected = pageViewTotals(EVENTS.slice(0, -1), [...P, '2026-04-01T02']);

  test('serves its first generation', async () => {
    handle = await client.workflow.start(kappaPipelineWorkflow, {
      taskQueue: env.SLUICE_TASK_QUEUE,
      workflowId: kappaWorkflowId(name),
      args: [{ pipeline: spec, pollMs: 1000 }],
    });
    // A reader polls the view throughout: each snapshot it sees must hold exactly what its provenance says.
    reader = (async () => {
      while (reading) {
        const current = (await snapshots()).at(-1);
        if (current && !seen.has(current.snapshotId)) {
          seen.set(current.snapshotId, current.provenance.generation);
          const held = await heldIn(current.snapshotId);
          const said = Object.fromEntries(
            Object.entries(current.provenance.partitions).map(([p, v]) => [p, { rows: v.rows, checksum: v.checksum }]),
          );
          const same = (a: object) => JSON.stringify(Object.entries(a).sort(([x], [y]) => x.localeCompare(y)));
          if (same(held) !== same(said)) broken.push(`${current.snapshotId}: ${JSON.stringify(held)}`);
        }
        // Not a wait for a state: the poll interval of a reader that runs beside the pipeline.
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    await until(
      'the view to hold both hours from generation 1',
      async () =>
        (await status()).watermarkMs! >= T0 + 2 * HOUR && JSON.stringify(await viewRows()) === JSON.stringify(expected)
          ? true
          : undefined,
      { timeoutMs: 300_000, intervalMs: 1000 },
    );
    expect((await snapshots()).at(-1)!.provenance.generation).toBe(1);
  });

  test('a reprocess whose diff fails never switches the view', async () => {
    const before = (await snapshots()).length;
    // max instead of sum: the same columns, other values.
    const changed = {
      ...spec.transform,
      aggregates: [spec.transform.aggregates[0], { fn: 'max', column: 'amount', as: 'total_amount' }],
    };
    const answer = await handle.executeUpdate(reprocess, { args: [{ transform: changed }] });
    expect(answer).toMatchObject({ generation: 2, workflowId: `stream/${name}-g2` });
    const g2 = await until(
      'generation 2 to be decided',
      async () => {
        const st = await statusNow();
        const g = st && generationOf(2)(st);
        return g && !['catching-up', 'checking'].includes(g.state) ? g : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    );
    expect(g2.state).toBe('rejected');
    // Windows with two records of a page differ (sum ≠ max); the checks name them per partition.
    const expectedMismatches = P.map((p) => expected.filter((r) => r.partition === p && r.views > 1).length);
    expect(
      g2.checks.map((c) => [c.partition, c.consistent, c.mismatched, c.missingInBatch, c.missingInStream]),
    ).toEqual(P.map((p, i) => [p, false, expectedMismatches[i], 0, 0]));
    expect(g2.reason).toContain('diff failed');
    // The view stayed on generation 1; the rejected generation's job is gone and its table dropped.
    const after = await snapshots();
    expect(after.slice(before - 1).map((s) => s.provenance.generation)).toEqual(after.slice(before - 1).map(() => 1));
    expect(await liveJobs(deps.flink.restUrl, `${name}-g2`)).toEqual([]);
    // Listed by the catalog itself (a table read could be answered from a session's cached metadata).
    expect(await sqlRows(deps, `SHOW TABLES IN lake.\`${name}-g2\``)).toEqual([]);
    expect(await viewRows()).toEqual(expected);
  });

  test('a reprocess that passes switches the view in one commit, once, though the worker dies during it', async () => {
    const answer = await handle.executeUpdate(reprocess, { args: [{}] });
    expect(answer).toMatchObject({ generation: 3, workflowId: `stream/${name}-g3` });
    // SIGKILL the worker during the switch: the commit of generation 3's rows into the view.
    await until(
      'the switch to be committing',
      async () => {
        const d = await handle.describe();
        const committing = (d.raw.pendingActivities ?? []).some(
          (a) => a.activityType?.name === 'commitView' && Number(a.state) === 2,
        );
        const st = committing ? await statusNow() : undefined;
        return st && generationOf(3)(st)?.state === 'checking' ? true : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 100 },
    );
    await worker!.kill();
    worker = startWorker();
    const s = await until(
      'generation 3 to serve',
      async () => {
        // While the new worker starts, a query may fail ("no poller seen for task queue recently").
        const st = await statusNow();
        return st?.serving === 3 ? st : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    );
    const g3 = generationOf(3)(s)!;
    expect(g3.checks.map((c) => [c.partition, c.consistent, c.matched])).toEqual(
      P.map((p) => [p, true, expected.filter((r) => r.partition === p).length]),
    );
    expect(generationOf(1)(s)).toMatchObject({ state: 'retained', retainUntil: expect.any(Number) });
    // Generation 1 is paused with a savepoint (no job), generation 3 runs.
    await until(
      'generation 1 to be paused',
      async () => ((await liveJobs(deps.flink.restUrl, name)).length === 0 ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(await liveJobs(deps.flink.restUrl, `${name}-g3`)).toHaveLength(1);

    const snaps = await snapshots();
    const firstOf3 = snaps.findIndex((x) => x.provenance.generation === 3);
    expect(snaps[firstOf3]!.snapshotId).toBe(g3.switchSnapshot);
    // Only after its diff: every report was written before the switch's snapshot was committed.
    for (const c of g3.checks)
      expect(fs.statSync(c.report).mtimeMs).toBeLessThanOrEqual(
        Date.parse(snaps[firstOf3]!.committedAt.replace(' ', 'T') + 'Z') + 1000,
      );
    // One switch: generation 1 before it, generation 3 from it on; each commit's step once.
    expect(snaps.slice(0, firstOf3).every((x) => x.provenance.generation === 1)).toBe(true);
    expect(snaps.slice(firstOf3).every((x) => x.provenance.generation === 3)).toBe(true);
    const repeated = await sqlRows(
      deps,
      `SELECT summary['sluice.step'] AS step FROM ${VIEW}.snapshots GROUP BY 1 HAVING count(*) > 1`,
    );
    expect(repeated).toEqual([]);
    expect(await viewRows()).toEqual(expected);
  });

  test('a rollback is one commit back to the retained generation', async () => {
    const answer = await handle.executeUpdate(rollback, { args: [] });
    expect(answer).toMatchObject({ serving: 1, from: 3 });
    const snaps = await snapshots();
    const at = snaps.findIndex((x) => x.snapshotId === answer.viewSnapshot);
    // One commit: the snapshot before it serves generation 3, it serves generation 1.
    expect(snaps[at - 1]!.provenance.generation).toBe(3);
    expect(snaps[at]!.provenance.generation).toBe(1);
    expect(await viewRows(answer.viewSnapshot)).toEqual(expected);
    const s = await status();
    expect(s.serving).toBe(1);
    expect(generationOf(3)(s)).toMatchObject({ state: 'retained', reason: 'rolled back to generation 1' });
    // Bad requests are refused by name and change nothing.
    const refused = (req: object) =>
      handle.executeUpdate(reprocess, { args: [req] }).then(
        () => 'accepted',
        (err: Error) => String((err.cause as Error | undefined)?.message ?? err.message),
      );
    expect(await refused({ force: 'yes' })).toBe('force: expected true or false, got "yes"');
    expect(await refused({ transform: { ...spec.transform, groupBy: ['user'] } })).toMatch(
      /^transform: its output columns .*"user".* differ from the view's .*"page"/,
    );
    expect(await refused({ transform: { ...spec.transform, groupBy: ['nope'] } })).toMatch(/^transform: .*nope/);
    expect((await status()).generations.map((g) => g.generation)).toEqual([1, 2, 3]);
  });

  test('a replaced generation is removed when its retention is over: job and tables', async () => {
    const g3 = await until(
      'generation 3 to be removed',
      async () => {
        const g = generationOf(3)(await status());
        return g?.state === 'removed' ? g : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    expect(g3.retainUntil).toBeLessThanOrEqual(Date.now());
    expect(await liveJobs(deps.flink.restUrl, `${name}-g3`)).toEqual([]);
    expect(await sqlRows(deps, `SHOW TABLES IN lake.\`${name}-g3\``)).toEqual([]);
    expect((await client.workflow.getHandle(`stream/${name}-g3`).describe()).status.name).not.toBe('RUNNING');
    // The view is untouched: it serves generation 1, as `sluice view` says too.
    expect((await snapshots()).at(-1)!.provenance.generation).toBe(1);
    expect(await viewRows()).toEqual(expected);
    const specFile = path.join(logDir, 'spec.json');
    fs.writeFileSync(specFile, JSON.stringify(spec));
    const cli = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'sluice.js'), 'view', specFile, '--json'], {
      encoding: 'utf8',
      cwd: ROOT,
      env: { ...process.env, SLUICE_TASK_QUEUE: env.SLUICE_TASK_QUEUE },
    });
    expect(cli.status).toBe(0);
    const shown = JSON.parse(cli.stdout) as {
      generation: number;
      partitions: { partition: string; rows: number }[];
      rows: unknown[];
    };
    expect(shown.generation).toBe(1);
    expect(shown.partitions.map((p) => [p.partition, p.rows])).toEqual(
      [...P, '2026-04-01T02'].map((p) => [p, expected.filter((r) => r.partition === p).length]),
    );
  });

  test('every snapshot the reader saw was whole; cancel stops every generation', async () => {
    await handle.signal(cancelStream, { reason: 'test over' });
    await handle.result();
    reading = false;
    await reader;
    expect(broken).toEqual([]);
    expect(new Set(seen.values())).toEqual(new Set([1, 3]));
    for (const p of [name, `${name}-g3`]) expect(await liveJobs(deps.flink.restUrl, p)).toEqual([]);
  });
});
