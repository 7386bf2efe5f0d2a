import * as fs from 'node:fs';
import * as path from 'node:path';
import { env } from '../config/env';
import { PollTimeout, until } from '../lib/poll';
import { tailOf } from './exec';
import { ensureInstalled } from './install';
import { stackPaths, type StackPaths } from './paths';
import { isAlive, portInUse, readPidRecord, startDaemon, stopDaemon } from './process';
import { PROCESSES, SERVICES, type Ctx, type ServiceDef } from './services';

export interface ServiceStatus {
  name: ServiceDef['name'];
  url: string;
  healthy: boolean;
}

/** A stack command that failed for a reason the user can act on; the CLI prints only its message. */
export class StackError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StackError';
  }
}

export interface UpOptions {
  /** How long to wait for every service to be healthy. @default 240_000 (SLUICE_STACK_TIMEOUT_MS) */
  timeoutMs?: number;
  say?: (msg: string) => void;
}

const logFileOf = (paths: StackPaths, name: string) => path.join(paths.logs, `${name}.log`);

/**
 * Installs the engines if needed, starts every process that is not already running, and waits
 * until each service is healthy. Idempotent: with everything up, it starts nothing.
 * @returns whether it started any process.
 */
export async function stackUp(opts: UpOptions = {}): Promise<{ started: string[]; services: ServiceStatus[] }> {
  const say = opts.say ?? (() => {});
  const timeoutMs = opts.timeoutMs ?? env().SLUICE_STACK_TIMEOUT_MS ?? 240_000;
  const paths = stackPaths();
  const layout = await ensureInstalled(say);
  const ctx: Ctx = { layout, paths };
  fs.mkdirSync(paths.logs, { recursive: true });

  const toStart = PROCESSES.filter((p) => !isAlive(readPidRecord(paths.run, p.name)));
  // Every port must be free before anything starts, so a conflict leaves nothing half-started.
  for (const p of toStart) {
    for (const port of p.ports) {
      if (await portInUse(port)) {
        throw new StackError(
          `${p.name}: port ${port} on 127.0.0.1 is already in use by a process sluice did not start; ` +
            `stop it or free the port (log: ${logFileOf(paths, p.name)})`,
        );
      }
    }
  }
  for (const p of toStart) {
    const logFile = logFileOf(paths, p.name);
    try {
      await p.prepare?.(ctx);
    } catch (err) {
      throw new StackError(`${p.name}: preparing failed: ${(err as Error).message} (log: ${logFile})`);
    }
    const { command, args, env } = p.command(ctx);
    say(`starting ${p.name}`);
    startDaemon(paths.run, { name: p.name, command, args, env: env ?? process.env, cwd: paths.data, logFile });
  }

  const services = await waitHealthy(paths, timeoutMs, say);
  return { started: toStart.map((p) => p.name), services };
}

async function waitHealthy(paths: StackPaths, timeoutMs: number, say: (msg: string) => void) {
  const pending = new Set(SERVICES.map((s) => s.name));
  const unhealthyLogs = () => [
    ...new Set(SERVICES.filter((s) => pending.has(s.name)).flatMap((s) => s.processes.map((p) => logFileOf(paths, p)))),
  ];
  try {
    await until(
      () => `${[...pending].join(', ')} to be healthy; see ${unhealthyLogs().join(', ')}`,
      async () => {
        for (const svc of SERVICES.filter((s) => pending.has(s.name))) {
          // A process that died will never become healthy: fail at once, with its log's last lines.
          for (const proc of svc.processes) {
            if (!isAlive(readPidRecord(paths.run, proc))) {
              const logFile = logFileOf(paths, proc);
              throw new StackError(
                `${svc.name}: process ${proc} exited during start-up (log: ${logFile})\n${tailOf(logFile, 20)}`,
              );
            }
          }
          if (await svc.healthy()) {
            pending.delete(svc.name);
            say(`${svc.name} is healthy`);
          }
        }
        return pending.size === 0 ? true : undefined;
      },
      { timeoutMs, intervalMs: 500 },
    );
  } catch (err) {
    if (err instanceof PollTimeout) throw new StackError(err.message, { cause: err });
    throw err;
  }
  return statusOf();
}

export async function statusOf(): Promise<ServiceStatus[]> {
  return Promise.all(SERVICES.map(async (s) => ({ name: s.name, url: s.url, healthy: await s.healthy() })));
}

/** Stops exactly the processes `stackUp` recorded, in reverse start order. */
export async function stackDown(say: (msg: string) => void = () => {}): Promise<string[]> {
  const paths = stackPaths();
  const stopped: string[] = [];
  for (const p of [...PROCESSES].reverse()) {
    if (!readPidRecord(paths.run, p.name)) continue;
    if (await stopDaemon(paths.run, p.name, undefined, p.stopSignal)) {
      stopped.push(p.name);
      say(`stopped ${p.name}`);
    }
  }
  return stopped;
}

/** Per-process view, for the human status table: PID, alive, log file. */
export function processTable(): { name: string; pid?: number; alive: boolean; logFile: string }[] {
  const paths = stackPaths();
  return PROCESSES.map((p) => {
    const rec = readPidRecord(paths.run, p.name);
    return { name: p.name, pid: rec?.pid, alive: isAlive(rec), logFile: logFileOf(paths, p.name) };
  });
}
