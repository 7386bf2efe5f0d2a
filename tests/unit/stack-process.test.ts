import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAlive, pidFile, readPidRecord, startDaemon, stopDaemon } from '../../stack/process';
import { until } from '../../lib/poll';
import { procStartTime } from '../../lib/process';

let runDir: string;
beforeEach(() => {
  runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-run-'));
});
afterEach(() => fs.rmSync(runDir, { recursive: true, force: true }));

test('a daemon runs in its own process group with its output in its log file, and stops with its children', async () => {
  const logFile = path.join(runDir, 'logs', 'd.log');
  const rec = startDaemon(runDir, {
    name: 'd',
    command: 'bash',
    // A child that would outlive a plain kill of the leader.
    args: ['-c', 'echo hello-from-daemon; sleep 300 & echo child=$!; wait'],
    env: process.env,
    cwd: runDir,
    logFile,
  });
  expect(isAlive(rec)).toBe(true);
  expect(readPidRecord(runDir, 'd')).toEqual(rec);
  const log = await until('the daemon to log its child', () => {
    const text = fs.readFileSync(logFile, 'utf8');
    return /child=\d+/.test(text) ? text : undefined;
  });
  expect(log).toContain('hello-from-daemon');
  const child = Number(/child=(\d+)/.exec(log)![1]);
  expect(procStartTime(child)).toBeDefined();

  expect(await stopDaemon(runDir, 'd', 5000)).toBe(true);
  expect(isAlive(rec)).toBe(false);
  // The child outlived its leader in the group: stopDaemon ends it too (the kernel may take a moment).
  await until('the daemon child to be gone', () => (procStartTime(child) === undefined ? true : undefined), {
    timeoutMs: 5000,
    intervalMs: 50,
  });
  expect(fs.existsSync(pidFile(runDir, 'd'))).toBe(false);
});

test('a PID reused by another process is never signalled', async () => {
  const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    // A record naming the stranger's PID but another start time: what a stale PID file looks like.
    fs.writeFileSync(
      pidFile(runDir, 'old'),
      JSON.stringify({
        name: 'old',
        pid: stranger.pid,
        startTime: (procStartTime(stranger.pid!) ?? 0) - 1,
        command: 'x',
        logFile: 'x',
        startedAt: 'x',
      }),
    );
    expect(isAlive(readPidRecord(runDir, 'old'))).toBe(false);
    expect(await stopDaemon(runDir, 'old', 1000)).toBe(false);
    expect(procStartTime(stranger.pid!)).toBeDefined();
    expect(stranger.exitCode).toBeNull();
    expect(fs.existsSync(pidFile(runDir, 'old'))).toBe(false);
  } finally {
    stranger.kill();
  }
});
