import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { isProcessAlive, procStartTime, signalGroup } from '../lib/process';
import { until } from '../lib/poll';

/**
 * What `stack up` records for each process it starts. `startTime` (clock ticks since boot, from
 * /proc/<pid>/stat) tells our process from an unrelated one that later got the same PID, so
 * `stack down` never signals a process it did not start.
 */
export interface PidRecord {
  name: string;
  pid: number;
  startTime: number;
  command: string;
  logFile: string;
  startedAt: string;
}

export function pidFile(runDir: string, name: string): string {
  return path.join(runDir, `${name}.pid.json`);
}

export function readPidRecord(runDir: string, name: string): PidRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(pidFile(runDir, name), 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

/** True while the recorded process is the very one we started (same PID and same start time). */
export function isAlive(rec: PidRecord | undefined): boolean {
  return rec !== undefined && isProcessAlive(rec.pid, rec.startTime);
}

export interface StartSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  logFile: string;
}

/**
 * Starts a daemon in its own session (so its whole process group can be stopped together) with
 * stdout and stderr appended to its log file: it never holds the caller's terminal or CI's pipes.
 */
export function startDaemon(runDir: string, spec: StartSpec): PidRecord {
  fs.mkdirSync(runDir, { recursive: true });
  fs.mkdirSync(path.dirname(spec.logFile), { recursive: true });
  const fd = fs.openSync(spec.logFile, 'a');
  fs.writeSync(fd, `\n==== ${new Date().toISOString()} sluice stack up: ${spec.command} ${spec.args.join(' ')}\n`);
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`${spec.name}: could not start ${spec.command}`);
  const rec: PidRecord = {
    name: spec.name,
    pid: child.pid,
    startTime: procStartTime(child.pid) ?? -1,
    command: `${spec.command} ${spec.args.join(' ')}`,
    logFile: spec.logFile,
    startedAt: new Date().toISOString(),
  };
  fs.writeFileSync(pidFile(runDir, spec.name), JSON.stringify(rec, null, 2));
  return rec;
}

/**
 * Stops a recorded daemon and its process group: `signal` (SIGTERM), then SIGKILL after `graceMs`.
 * Does nothing to a PID whose start time no longer matches the record.
 * @returns whether a live process was stopped.
 */
export async function stopDaemon(
  runDir: string,
  name: string,
  graceMs = 20_000,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<boolean> {
  const rec = readPidRecord(runDir, name);
  if (!rec) return false;
  let stopped = false;
  if (isAlive(rec)) {
    stopped = true;
    signalGroup(rec.pid, signal);
    const gone = () => (isAlive(rec) ? undefined : true);
    const stoppedInTime = await until(`${name} to stop`, gone, { timeoutMs: graceMs }).catch(() => false);
    if (!stoppedInTime) {
      signalGroup(rec.pid, 'SIGKILL');
      await until(`${name} to die of SIGKILL`, gone, { timeoutMs: 60_000, intervalMs: 100 });
    }
    // Children that outlived the leader (e.g. Spark executors) are still in its group: end them too.
    // Only right after we stopped the leader: a stale record's PID may belong to someone else now.
    signalGroup(rec.pid, 'SIGKILL', true);
  }
  fs.rmSync(pidFile(runDir, name), { force: true });
  return stopped;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (inUse: boolean) => {
      socket.destroy();
      resolve(inUse);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
