/** Crashing a process of the local stack on purpose, for the recovery tests. */
import { until } from '../../lib/poll';
import { stackPaths } from '../../stack/paths';
import { isAlive, portInUse, readPidRecord } from '../../stack/process';

/**
 * SIGKILLs one process of the local stack (its whole process group), as a crash would, and waits
 * until it is gone and its port (when it has a fixed one) is free: a `stackUp` right after a kill
 * would otherwise still see it alive, start nothing, and then find it dead.
 */
export async function killStackProcess(name: string, port?: number): Promise<void> {
  const rec = readPidRecord(stackPaths().run, name);
  if (!rec) throw new Error(`no ${name} process recorded`);
  process.kill(-rec.pid, 'SIGKILL');
  await until(
    `${name} to be gone${port ? ` and port ${port} free` : ''}`,
    async () => (isAlive(rec) || (port !== undefined && (await portInUse(port))) ? undefined : true),
    { timeoutMs: 30_000 },
  );
}
