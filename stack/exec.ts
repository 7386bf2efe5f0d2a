import { spawn, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';

/** A failed command: names the command and where its output went, and carries the output's tail. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly logFile?: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Append stdout and stderr to this file instead of capturing them. */
  logFile?: string;
  /** Kill the command after this long. @default no limit */
  timeoutMs?: number;
}

/**
 * Runs a command to completion. Output is captured (and returned) unless `logFile` is given, in which
 * case it is appended there, so a long install never floods the caller's terminal or CI output.
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const fd = opts.logFile ? fs.openSync(opts.logFile, 'a') : undefined;
    const spawnOpts: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd],
    };
    if (fd !== undefined) fs.writeSync(fd, `\n$ ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, spawnOpts);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      if (fd !== undefined) fs.closeSync(fd);
      reject(new CommandError(`${cmd}: ${err.message}`, opts.logFile));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (fd !== undefined) fs.closeSync(fd);
      if (code === 0) return resolve(out);
      const tail = opts.logFile ? tailOf(opts.logFile, 30) : out.split('\n').slice(-30).join('\n');
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const where = opts.logFile ? ` (log: ${opts.logFile})` : '';
      reject(new CommandError(`${cmd} ${args.slice(0, 3).join(' ')} ${how}${where}\n${tail}`, opts.logFile));
    });
  });
}

/** The last `lines` lines of a text file, or '' when it does not exist. */
export function tailOf(file: string, lines: number): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '';
  }
}
