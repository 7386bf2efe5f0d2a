/** Bad input to the pipeline commands: a clear error, exit code 2, and nothing started. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';

jest.setTimeout(120_000);
const ROOT = path.join(__dirname, '..', '..');
const sluice = (args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, 'bin', 'sluice.js'), ...args], { encoding: 'utf8', cwd: ROOT });

let connection: Connection;
let client: Client;
beforeAll(async () => {
  connection = await Connection.connect({ address: '127.0.0.1:7233' });
  client = new Client({ connection });
});
afterAll(async () => connection?.close());

const startedSince = async (since: Date, pipeline: string) => {
  let n = 0;
  for await (const wf of client.workflow.list({ query: `SluicePipeline = '${pipeline}'` })) {
    if (wf.startTime >= since) n++;
  }
  return n;
};

test.each([
  [['run', 'pageviews'], 'unknown pipeline "pageviews" (known: daily-revenue, page-views)'],
  [['run', 'tests/fixtures/bad-pipeline.json'], 'batch.resources.cpu: expected a positive number'],
  [['run', 'tests/fixtures/bad-pipeline.json'], 'transform.aggregates[0].column: unknown column "amout"'],
  [['run', 'tests/fixtures/no-such-file.json'], 'tests/fixtures/no-such-file.json: ENOENT'],
  [
    ['run', 'page-views', '--partition', '2026-13-01T00'],
    'partition: partition "2026-13-01T00": not a valid hour partition (YYYY-MM-DDTHH)',
  ],
  [['run', 'page-views', '--partition', '2026-11-20'], 'partition "2026-11-20": not a valid hour partition'],
  [
    ['run', 'page-views', '--partition', '2025-06-01T00'],
    'partition 2025-06-01T00 is before the start of pipeline page-views (2026-01-01T00)',
  ],
  [
    ['backfill', 'page-views', '--from', '2026-11-20T05', '--to', '2026-11-20T01'],
    'from 2026-11-20T05 is after to 2026-11-20T01',
  ],
  [
    ['backfill', 'page-views', '--from', '2025-12-31T22', '--to', '2026-01-01T01'],
    '--from: partition 2025-12-31T22 is before the start',
  ],
  [
    ['backfill', 'page-views', '--from', '2026-11-20T00', '--to', '2026-11-20T01', '--concurrency', '0'],
    'expected a positive integer, got "0"',
  ],
  [['pause', 'no/such/workflow'], 'no workflow no/such/workflow'],
])('sluice %j is refused: %s', async (args, message) => {
  const since = new Date();
  const r = sluice(args);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(message);
  expect(await startedSince(since, 'page-views')).toBe(0);
});

test('a dry run lists the partitions and starts nothing', async () => {
  const since = new Date();
  const r = sluice(['backfill', 'page-views', '--from', '2026-11-20T22', '--to', '2026-11-21T01', '--dry-run']);
  expect(r.status).toBe(0);
  expect(r.stdout).toBe(
    'backfill/page-views/2026-11-20T22..2026-11-21T01: 4 partitions, 3 at a time, pool default\n' +
      '2026-11-20T22\n2026-11-20T23\n2026-11-21T00\n2026-11-21T01\n',
  );
  expect(await startedSince(since, 'page-views')).toBe(0);
});
