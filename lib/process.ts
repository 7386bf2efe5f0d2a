import * as fs from 'node:fs';

/**
 * Process identity and process groups, for every process Sluice starts and later finds again: the
 * stack's daemons and the Spark drivers of batch steps. A PID alone is not an identity (the
 * kernel reuses PIDs), so each is recorded with its start time.
 */

/** The process's start time (clock ticks since boot, /proc/<pid>/stat field 22), or undefined if none runs. */
export function procStartTime(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields ? Number(fields[19]) : undefined;
}

/**
 * True while `pid` runs and is the process that started at `startTime` (not a later process that
 * reused the PID, and not a zombie: an orphan's reaper may never collect it).
 */
export function isProcessAlive(pid: number, startTime: number | undefined): boolean {
  const fields = statFields(pid);
  return startTime !== undefined && fields !== undefined && Number(fields[19]) === startTime && fields[0] !== 'Z';
}

/** The fields of /proc/<pid>/stat after the command name, starting with the state (field 3). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * Signals a process group (a daemon or driver started `detached` leads its own); when there is no
 * such group, the process itself, unless `groupOnly`. Never throws for a process that is gone.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals, groupOnly = false): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    if (groupOnly) return;
    try {
      process.kill(pgid, signal);
    } catch {
      /* already gone */
    }
  }
}
