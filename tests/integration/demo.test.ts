/**
 * The README's first command, `sluice demo`, on the real stack: it ends by itself, and what it
 * prints is the batch computation of the traffic it generated (computed here by hand from the same
 * generator), with the corrupted hour repaired, the hour with late records flagged and explained,
 * and the third hour consistent. (Each run is a new pipeline, so the demo can be run again.)
 *
 * By default the traffic goes through the intake layer: access-log files, rotated once, read by an
 * intake into the topic. That run is also checked from Kafka's side (the topic holds every
 * generated record exactly once, `read_committed`; the line cut short is in the dead-letter topic
 * with its file and offset) and from the pool's (the intake gave its grant back). `--feed
 * generator` produces to the topic directly and must print the same view.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CUT_SHORT_LINE, type DemoIntakeReport } from '../../cli/demo-feed';
import { demoTraffic, type DemoEvent } from '../../cli/demo-traffic';
import { parseEnv } from '../../config/env';
import { partitionBounds } from '../../lib/pipelines';
import { poolState, poolWorkflowId, type LambdaStatus } from '../../workflows/messages';
import { readCommitted } from '../helpers/intake';
import { pageViewTotals } from '../helpers/page-views';
import { connectTestClient, startTestWorker } from '../helpers/worker';

jest.setTimeout(600_000);
const ROOT = path.join(__dirname, '..', '..');

interface DemoOutput {
  topic: string;
  intake?: DemoIntakeReport;
  view: {
    partitions: { partition: string; layer: string; check?: string; flagged?: boolean }[];
    rows: Record<string, unknown>[];
  };
  status: LambdaStatus;
  links: Record<string, string>;
}

function runDemo(taskQueue: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['bin/sluice.js', 'demo', ...args], {
      cwd: ROOT,
      // A task queue of its own, so no other test's worker takes its tasks.
      env: { ...process.env, SLUICE_TASK_QUEUE: taskQueue },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the demo; checks what every feed must print: the view, the checks, the links. Returns its output. */
async function demoPrintsTheVerifiedView(taskQueue: string, args: string[]) {
  const { code, stdout, stderr } = await runDemo(taskQueue, ['--json', '--seed', '7', ...args]);
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  const out = JSON.parse(stdout) as DemoOutput;
  const partitions = out.view.partitions.map((p) => p.partition);
  const traffic = demoTraffic(partitionBounds('hour', partitions[0]!).start, 7);
  expect(partitions).toEqual(traffic.partitions);

  // The view is the batch computation of every generated record, the late ones included.
  const rows = out.view.rows.map((r) => ({
    partition: r.partition,
    window_start: Number(new Date(r.window_start as string | number)),
    page: r.page,
    views: r.views,
    total_amount: r.total_amount,
  }));
  expect(rows).toEqual(pageViewTotals([...traffic.phaseA, ...traffic.phaseB], partitions));

  const [p0, p1, p2] = partitions.map((p) => out.status.partitions.find((x) => x.partition === p)!);
  expect(out.status.state).toBe('COMPLETED');
  expect(p0).toMatchObject({ phase: 'published', batchRuns: 2 });
  expect(p0!.checks.map((c) => c.consistent)).toEqual([false, true]);
  expect(p1).toMatchObject({ phase: 'published', flagged: true });
  expect(p1!.checks.at(-1)!.lateData).toEqual({
    difference: traffic.late.length,
    droppedLateRecords: traffic.late.length,
    explained: true,
  });
  expect(p2!.checks.map((c) => c.consistent)).toEqual([true]);
  expect(out.view.partitions.map((p) => [p.layer, p.check])).toEqual([
    ['batch', 'repaired'],
    ['batch', 'inconsistent'],
    ['batch', 'consistent'],
  ]);
  expect(out.links.workflow).toMatch(/^http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/lambda%2Fdemo-/);
  expect(out.links.flink).toBe('http://127.0.0.1:8081');
  return { out, traffic };
}

test('sluice demo feeds a lambda pipeline through an intake of rotated access logs, exactly once, and prints the verified view', async () => {
  const taskQueue = `it-demo-${Date.now().toString(36)}`;
  const { out, traffic } = await demoPrintsTheVerifiedView(taskQueue, []);
  const env = parseEnv(process.env);
  const generated = [...traffic.phaseA, ...traffic.phaseB];

  // Kafka's side: every generated record once, in the order of the logs (one partition).
  const topic = await readCommitted(env.SLUICE_KAFKA_BROKERS, out.topic);
  expect(topic.map((r) => r.value as DemoEvent)).toEqual(generated);
  expect(topic.every((r) => r.key === JSON.stringify([(r.value as DemoEvent).page]))).toBe(true);

  // The line cut short is a dead letter with its reason and where it was: access.log.1, rotated.
  const intake = out.intake!;
  expect(intake).toMatchObject({
    files: ['access.log', 'access.log.1'],
    recordsIn: generated.length + 1,
    recordsOut: generated.length,
    deadLetters: 1,
    deadLetterTopic: `${out.topic}.dlq`,
  });
  const dead = (await readCommitted(env.SLUICE_KAFKA_BROKERS, intake.deadLetterTopic)).map(
    (r) => r.value as { reason: string; raw: string; source: { file: string; offset: number } },
  );
  expect(dead).toHaveLength(1);
  expect(dead[0]!.raw).toBe(CUT_SHORT_LINE);
  expect(dead[0]!.reason).toMatch(/JSON/i);
  const rotated = fs.readFileSync(path.join(intake.dir, 'access.log.1'));
  const at = dead[0]!.source.offset;
  expect(rotated.subarray(at, at + CUT_SHORT_LINE.length).toString('utf8')).toBe(CUT_SHORT_LINE);

  // The pool's side: nothing of the demo holds a grant once it has ended (the intake gave its back).
  const poolEnv = parseEnv({ ...process.env, SLUICE_TASK_QUEUE: taskQueue });
  const worker = await startTestWorker(poolEnv);
  const client = await connectTestClient(poolEnv);
  try {
    const pool = `demo-${taskQueue}`;
    const state = await client.workflow.getHandle(poolWorkflowId(pool)).query(poolState);
    expect({ running: state.running, used: state.used }).toEqual({ running: [], used: { cpu: 0, memoryMb: 0 } });
    // The intake, the stream and at least one batch step per partition were granted.
    expect(state.counters.granted).toBeGreaterThanOrEqual(5);
  } finally {
    await client.connection.close();
    await worker.stop();
  }
});

test('sluice demo --feed generator produces the traffic itself and prints the same verified view', async () => {
  const { out } = await demoPrintsTheVerifiedView(`it-demo-gen-${Date.now().toString(36)}`, ['--feed', 'generator']);
  expect(out.intake).toBeUndefined();
});

test('sluice demo refuses an unknown feed by name', async () => {
  const { code, stderr } = await runDemo('it-demo-bad', ['--feed', 'kafka']);
  expect(code).not.toBe(0);
  expect(stderr).toContain(
    "option '--feed <source>' argument 'kafka' is invalid. Allowed choices are files, generator.",
  );
});
