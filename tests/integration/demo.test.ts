/**
 * The README's first command, `sluice demo`, on the real stack: it ends by itself, and what it
 * prints is the batch computation of the traffic it generated (computed here by hand from the same
 * generator), with the corrupted hour repaired, the hour with late records flagged and explained,
 * and the third hour consistent. (Each run is a new pipeline, so the demo can be run again.)
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { demoTraffic } from '../../cli/demo-traffic';
import { partitionBounds } from '../../lib/pipelines';
import type { LambdaStatus } from '../../workflows/messages';
import { pageViewTotals } from '../helpers/page-views';

jest.setTimeout(600_000);
const ROOT = path.join(__dirname, '..', '..');

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['bin/sluice.js', 'demo', ...args], {
      cwd: ROOT,
      // A task queue of its own, so no other test's worker takes its tasks.
      env: { ...process.env, SLUICE_TASK_QUEUE: `it-demo-${Date.now().toString(36)}` },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('sluice demo runs a lambda pipeline to its end and prints the merged view, the checks and the links', async () => {
  const { code, stdout, stderr } = await runDemo(['--json', '--seed', '7']);
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  const out = JSON.parse(stdout) as {
    view: {
      partitions: { partition: string; layer: string; check?: string; flagged?: boolean }[];
      rows: Record<string, unknown>[];
    };
    status: LambdaStatus;
    links: Record<string, string>;
  };
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
});
