/** The `sluice stack` commands against the running local stack, through the real CLI. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

jest.setTimeout(120_000);
const CLI = path.join(__dirname, '..', '..', 'bin', 'sluice.js');
const sluice = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });

test('stack status --json reports the eight services, all healthy', () => {
  const r = sluice(['stack', 'status', '--json']);
  expect(r.status).toBe(0);
  const { services } = JSON.parse(r.stdout) as { services: { name: string; url: string; healthy: boolean }[] };
  expect(services.map((s) => s.name)).toEqual([
    'temporal',
    'temporal-ui',
    'kafka',
    'spark',
    'spark-history',
    'spark-connect',
    'flink',
    'flink-sql-gateway',
    'postgres',
  ]);
  expect(services.every((s) => s.healthy && typeof s.url === 'string' && s.url.length > 0)).toBe(true);
});

test('stack up on a running stack is a no-op', () => {
  const before = fs
    .readdirSync(path.join(__dirname, '..', '..', 'data', 'stack', 'run'))
    .map((f) => fs.readFileSync(path.join(__dirname, '..', '..', 'data', 'stack', 'run', f), 'utf8'));
  const r = sluice(['stack', 'up']);
  expect(r.status).toBe(0);
  expect(r.stderr).toContain('every service was already running');
  expect(r.stderr).not.toContain('starting ');
  const after = fs
    .readdirSync(path.join(__dirname, '..', '..', 'data', 'stack', 'run'))
    .map((f) => fs.readFileSync(path.join(__dirname, '..', '..', 'data', 'stack', 'run', f), 'utf8'));
  expect(after).toEqual(before);
});

test('a port taken by a process sluice did not start fails up with the service, port and log file named', () => {
  // Another stack folder has no PID files: to it, the running stack's processes are strangers.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-other-'));
  try {
    const r = sluice(['stack', 'up'], { ...process.env, SLUICE_STACK_DIR: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `temporal: port 7233 on 127.0.0.1 is already in use by a process sluice did not start; stop it or free the port (log: ${dir}/logs/temporal.log)`,
    );
    // Nothing was started for the other folder.
    expect(fs.existsSync(path.join(dir, 'run'))).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad CLI arguments are rejected with a clear message and exit code 2', () => {
  const r = sluice(['stack', 'up', '--timeout', 'soon']);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('expected a positive integer, got "soon"');
  const unknown = sluice(['stack', 'sideways']);
  expect(unknown.status).toBe(2);
  expect(unknown.stderr).toMatch(/unknown command 'sideways'/);
});

test('the stack reads its settings through the one configuration: a misspelt SLUICE_ variable fails it', () => {
  const r = sluice(['stack', 'status'], { ...process.env, SLUICE_STAK_DIR: '/tmp/elsewhere' });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('SLUICE_STAK_DIR: unknown variable (did you mean SLUICE_STACK_DIR?)');
  const bad = sluice(['stack', 'up'], { ...process.env, SLUICE_SPARK_WORKER_MEMORY: 'lots' });
  expect(bad.status).toBe(1);
  expect(bad.stderr).toContain('SLUICE_SPARK_WORKER_MEMORY: expected a size such as 4g or 512m (got "lots")');
});
