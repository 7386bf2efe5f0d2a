/**
 * The pure parts of the stream activities: which retained checkpoint a lost job restarts from,
 * when a savepoint is still restorable, how lag is counted, and the ids that make each step
 * idempotent. (The activities against the real Flink run in tests/integration/streaming*.test.ts.)
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ActivityDeps } from '../../activities/deps';
import { createStreamActivities, generationJobId, hexId } from '../../activities/stream';
import { lagOf, type KafkaClient } from '../../engines/kafka';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-chk-'));
/** A Kafka client whose admin calls fail: the checks must not depend on it for files. */
const noKafka = { withAdmin: async () => Promise.reject(new Error('no broker')) } as unknown as KafkaClient;
const acts = createStreamActivities({
  kafka: noKafka,
  flink: { restUrl: 'http://127.0.0.1:1' },
  lake: root,
} as ActivityDeps);
const run = <T>(fn: () => Promise<T>): Promise<T> => new MockActivityEnvironment().run(fn) as Promise<T>;

function checkpoint(job: string, n: number, complete = true): string {
  const dir = path.join(root, 'checkpoints', job, `chk-${n}`);
  fs.mkdirSync(dir, { recursive: true });
  if (complete) fs.writeFileSync(path.join(dir, '_metadata'), 'x');
  return `file:${dir}`;
}

test('a lost job restarts from its newest complete retained checkpoint, not the one last seen', async () => {
  const seen = checkpoint('job-a', 3);
  checkpoint('job-a', 12);
  checkpoint('job-a', 13, false); // in progress when the JobManager went away: no _metadata
  checkpoint('job-b', 40); // another job's
  const newest = await run(() => acts.newestRetainedCheckpoint({ knownCheckpoint: seen, jobId: 'job-a' }));
  expect(newest).toBe(`file:${path.join(root, 'checkpoints', 'job-a', 'chk-12')}`);
  expect(await run(() => acts.newestRetainedCheckpoint({ knownCheckpoint: seen, jobId: 'job-none' }))).toBeUndefined();
});

test("with no checkpoint seen, the lost job's checkpoints are found where the JobManager's configuration puts them", async () => {
  checkpoint('job-d', 5);
  // The JobManager's REST answer for its configuration, as Flink 2 gives it (a list of key/value pairs).
  const server = http.createServer((req, res) => {
    const body = [{ key: 'execution.checkpointing.dir', value: `file://${path.join(root, 'checkpoints')}` }];
    res.writeHead(req.url === '/jobmanager/config' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/jobmanager/config' ? body : { errors: ['not found'] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const withFlink = createStreamActivities({
      kafka: noKafka,
      flink: { restUrl: `http://127.0.0.1:${port}` },
      lake: root,
    } as ActivityDeps);
    expect(await run(() => withFlink.newestRetainedCheckpoint({ jobId: 'job-d' }))).toBe(
      `file:${path.join(root, 'checkpoints', 'job-d', 'chk-5')}`,
    );
  } finally {
    server.close();
  }
});

test('a savepoint whose files are gone is not restorable, and says why', async () => {
  const present = checkpoint('job-c', 1);
  const [ok, gone] = await run(() =>
    acts.checkRestorable({
      topic: 't',
      snapshots: [{ path: present }, { path: `file://${path.join(root, 'savepoints', 'savepoint-gone')}` }],
    }),
  );
  expect(ok).toEqual({ path: present, restorable: true });
  expect(gone).toMatchObject({
    restorable: false,
    because: expect.stringMatching(/savepoint-gone\/_metadata is missing/),
  });
});

test('lag counts from the committed offset, or from the oldest record where nothing is committed', () => {
  const range = { '0': { low: '0', high: '100' }, '1': { low: '50', high: '80' }, '2': { low: '0', high: '5' } };
  expect(lagOf(range, { '0': '90', '2': '5' })).toBe(10 + 30 + 0);
});

test('a generation has one JobID per workflow execution chain; trigger ids are 32 hex characters', () => {
  const a = generationJobId('stream/p', 'run-1', 1);
  expect(a).toMatch(/^[0-9a-f]{32}$/);
  expect(generationJobId('stream/p', 'run-1', 1)).toBe(a); // every retry
  expect(generationJobId('stream/p', 'run-1', 2)).not.toBe(a); // the next generation
  expect(generationJobId('stream/p', 'run-2', 1)).not.toBe(a); // the stream started again
  expect(hexId('stream/p#3#stop')).toMatch(/^[0-9a-f]{32}$/);
});
