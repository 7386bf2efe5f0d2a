import { Command, CommanderError } from 'commander';
import { UsageError } from '../../cli/errors';
import { parseStreamId, refusal, registerStreams, renderSavepoints, renderStreamStatus } from '../../cli/streams';
import type { SavepointCatalogue, SavepointRecord, StreamStatus } from '../../workflows/messages';

const NOW = Date.parse('2026-12-10T12:00:00Z');
const PLAIN = { style: { head: [], border: [] } };

const usageMessage = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error('expected a UsageError');
};

describe('stream ids', () => {
  test('stream/<pipeline> gives the pipeline', () => {
    expect(parseStreamId('stream/page-views-live')).toBe('page-views-live');
    expect(parseStreamId('stream/0')).toBe('0');
  });

  test.each([
    'page-views-live',
    'stream/',
    'stream/Page-Views',
    'stream/a/b',
    'pool/default',
    ' stream/x',
    'stream/-x',
  ])('%j is refused, naming the id and the name pattern', (id) => {
    const message = usageMessage(() => parseStreamId(id));
    expect(message).toContain(JSON.stringify(id));
    expect(message).toContain('expected stream/<pipeline>');
    expect(message).toContain('^[a-z0-9][a-z0-9-]{0,62}$');
  });
});

describe('what pause, resume and cancel refuse', () => {
  test('pause of a paused or pausing stream', () => {
    expect(refusal('stream/p', 'pause', 'PAUSED')).toBe('stream/p is already paused');
    expect(refusal('stream/p', 'pause', 'PAUSING')).toBe('stream/p is already pausing');
    expect(refusal('stream/p', 'pause', 'FAILED')).toBe('stream/p is FAILED: nothing to pause');
  });

  test('resume of anything but a paused stream', () => {
    expect(refusal('stream/p', 'resume', 'RUNNING')).toBe('stream/p is RUNNING, not paused: nothing to resume');
    expect(refusal('stream/p', 'resume', 'PAUSING')).toBe('stream/p is PAUSING, not paused: nothing to resume');
  });

  test('cancel of a cancelled, cancelling or failed stream', () => {
    expect(refusal('stream/p', 'cancel', 'CANCELLED')).toBe('stream/p is CANCELLED: nothing to cancel');
    expect(refusal('stream/p', 'cancel', 'FAILED')).toBe('stream/p is FAILED: nothing to cancel');
    expect(refusal('stream/p', 'cancel', 'CANCELLING')).toMatch(/^stream\/p is CANCELLING: nothing to cancel/);
  });

  test('what can apply is not refused (a stream between steps takes the signal too)', () => {
    expect(refusal('stream/p', 'pause', 'RUNNING')).toBeUndefined();
    expect(refusal('stream/p', 'pause', 'RESCALING')).toBeUndefined();
    expect(refusal('stream/p', 'resume', 'PAUSED')).toBeUndefined();
    expect(refusal('stream/p', 'cancel', 'RUNNING')).toBeUndefined();
    expect(refusal('stream/p', 'cancel', 'PAUSED')).toBeUndefined();
  });
});

const record = (over: Partial<SavepointRecord>): SavepointRecord => ({
  path: 'file:///tmp/sluice/savepoints/savepoint-a1',
  kind: 'savepoint',
  reason: 'rescale',
  generation: 2,
  jobId: 'a1b2',
  takenAt: NOW - 90_000,
  ...over,
});

describe('sluice status of a stream', () => {
  const status: StreamStatus = {
    pipeline: 'page-views-live',
    state: 'RUNNING',
    generation: 3,
    jobId: '5f0c6a0e9d1e4f6b8a7c2d3e4f5a6b7c',
    jobName: 'sluice-page-views-live-3',
    jobUrl: 'http://localhost:8081/#/job/running/5f0c6a0e9d1e4f6b8a7c2d3e4f5a6b7c/overview',
    flinkState: 'RUNNING',
    parallelism: 4,
    maxParallelism: 128,
    lag: 1234,
    lastCheckpoint: { id: 17, at: NOW - 4_200 },
    lastSavepoint: record({}),
    flinkRestarts: 1,
    recoveryAttempts: 0,
    rootCause: 'java.lang.RuntimeException: TaskManager lost',
    events: Array.from({ length: 7 }, (_, i) => ({ at: NOW - (7 - i) * 60_000, what: `event ${i + 1}` })),
  };

  test('every field, with ages up to now and the last five events', () => {
    expect(renderStreamStatus('stream/page-views-live', status, NOW).split('\n')).toEqual([
      'stream/page-views-live: RUNNING, generation 3',
      '  job             5f0c6a0e9d1e4f6b8a7c2d3e4f5a6b7c (sluice-page-views-live-3)',
      '  Flink state     RUNNING',
      '  parallelism     4 (max 128)',
      '  lag             1234 records',
      '  last checkpoint 17, 4.2 s ago',
      '  last savepoint  file:///tmp/sluice/savepoints/savepoint-a1 (rescale, generation 2, 90 s ago)',
      '  restarts        1 by Flink, 0 recovery attempts by Sluice',
      '  root cause      java.lang.RuntimeException: TaskManager lost',
      '  job URL         http://localhost:8081/#/job/running/5f0c6a0e9d1e4f6b8a7c2d3e4f5a6b7c/overview',
      '  events (last 5 of 7):',
      '    2026-12-10T11:55:00.000Z  event 3',
      '    2026-12-10T11:56:00.000Z  event 4',
      '    2026-12-10T11:57:00.000Z  event 5',
      '    2026-12-10T11:58:00.000Z  event 6',
      '    2026-12-10T11:59:00.000Z  event 7',
    ]);
  });

  test('a stream that failed before its first job: what is unknown says so, its operation and error are shown', () => {
    const waiting: StreamStatus = {
      pipeline: 'p',
      state: 'FAILED',
      generation: 0,
      parallelism: 2,
      maxParallelism: 16,
      flinkRestarts: 0,
      recoveryAttempts: 3,
      operation: 'recovering from a lost job',
      error: 'pool default refused the request: cpu=64 is more than the pool has',
      events: [],
    };
    expect(renderStreamStatus('stream/p', waiting, NOW).split('\n')).toEqual([
      'stream/p: FAILED, generation 0 (recovering from a lost job)',
      '  job             none',
      '  Flink state     -',
      '  parallelism     2 (max 16)',
      '  lag             unknown',
      '  last checkpoint none',
      '  last savepoint  none',
      '  restarts        0 by Flink, 3 recovery attempts by Sluice',
      '  error           pool default refused the request: cpu=64 is more than the pool has',
      '  no events',
    ]);
  });

  test('a checkpoint taken after our clock (the server runs ahead) is 0 s old, not negative', () => {
    const ahead = { ...status, lastCheckpoint: { id: 3, at: NOW + 5_000 } };
    expect(renderStreamStatus('stream/p', ahead, NOW)).toContain('last checkpoint 3, 0.0 s ago');
  });
});

describe('sluice savepoints', () => {
  const catalogue: SavepointCatalogue = {
    pipeline: 'p',
    savepoints: [
      record({
        path: 'file:///sp/1',
        reason: 'pause',
        generation: 1,
        takenAt: NOW - 3_600_000,
        pinned: true,
        restorable: true,
      }),
      record({
        path: 'file:///sp/2',
        kind: 'checkpoint',
        reason: 'checkpoint',
        generation: 2,
        takenAt: NOW - 60_000,
        restorable: false,
        unrestorableBecause: 'offsets outside retention',
      }),
      record({ path: 'file:///sp/3', reason: 'on-demand', generation: 3, takenAt: NOW }),
    ],
    retain: { count: 5, maxAgeMs: 7 * 86_400_000 },
    disposed: 2,
  };

  test('a summary line, then one row per savepoint, newest last', () => {
    const lines = renderSavepoints('stream/p', catalogue, PLAIN).split('\n');
    expect(lines[0]).toBe('stream/p: 3 savepoints (retain 5 for at most 7 d), 2 disposed');
    const rows = lines
      .filter((l) => l.startsWith('│'))
      .map((l) =>
        l
          .split('│')
          .slice(1, -1)
          .map((cell) => cell.trim()),
      );
    expect(rows).toEqual([
      ['path', 'kind', 'reason', 'generation', 'taken at', 'restorable', 'pinned'],
      ['file:///sp/1', 'savepoint', 'pause', '1', '2026-12-10T11:00:00.000Z', 'yes', 'yes'],
      [
        'file:///sp/2',
        'checkpoint',
        'checkpoint',
        '2',
        '2026-12-10T11:59:00.000Z',
        'no: offsets outside retention',
        'no',
      ],
      ['file:///sp/3', 'savepoint', 'on-demand', '3', '2026-12-10T12:00:00.000Z', 'unchecked', 'no'],
    ]);
  });

  test('an empty catalogue says so', () => {
    expect(
      renderSavepoints('stream/p', { pipeline: 'p', savepoints: [], retain: { count: 3 }, disposed: 0 }, PLAIN),
    ).toBe('stream/p: 0 savepoints (retain 3), 0 disposed\nno savepoints yet');
  });
});

describe('sluice rescale --parallelism', () => {
  /** Parses `args` with the stream commands; what commander or the action throws. */
  const parse = async (args: string[]): Promise<unknown> => {
    const program = new Command('sluice').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerStreams(program);
    try {
      await program.parseAsync(args, { from: 'user' });
    } catch (err) {
      return err;
    }
    throw new Error(`expected ${args.join(' ')} to be refused`);
  };

  test.each(['0', '-2', '1.5', 'four', ''])('%j is refused by the parser, naming --parallelism', async (value) => {
    const err = await parse(['rescale', 'stream/p', '--parallelism', value]);
    expect(err).toBeInstanceOf(CommanderError);
    expect((err as CommanderError).code).toBe('commander.invalidArgument');
    expect((err as Error).message).toContain('--parallelism');
    expect((err as Error).message).toContain('expected a positive integer');
  });

  test('it is required', async () => {
    const err = await parse(['rescale', 'stream/p']);
    expect((err as CommanderError).code).toBe('commander.missingMandatoryOptionValue');
    expect((err as Error).message).toContain('--parallelism');
  });

  test('a valid one passes the parser, and the stream id is checked before anything connects', async () => {
    const err = await parse(['rescale', 'stream/Bad_Name', '--parallelism', '4']);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain('"stream/Bad_Name" is not a stream id');
  });
});
