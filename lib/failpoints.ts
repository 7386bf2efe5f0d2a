/**
 * Failpoints for the crash tests (docs/configuration.md#worker): named places in the worker where a
 * test can hold execution, so that a SIGKILL lands exactly there (as FoundationDB's and TiKV's
 * failpoints do). A failpoint is armed by a file `<name>.hold` in the directory the worker was
 * given (`SLUICE_FAILPOINTS_DIR`); reaching it writes `<name>.held` (so the test knows) and waits
 * until `released` settles, which in practice is until the process is killed. Without a
 * directory, a failpoint costs one check of `undefined`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The file that arms failpoint `name` under `dir` (one name for the worker and the tests). */
export const holdFile = (dir: string, name: string) => path.join(dir, `${name}.hold`);

/** Written when failpoint `name` holds, with `detail` (which workflow, which attempt). */
export const heldFile = (dir: string, name: string) => path.join(dir, `${name}.held`);

/**
 * Holds at failpoint `name` when it is armed under `dir`, until `released` settles (a rejection,
 * such as an activity's cancellation, is rethrown). Returns at once otherwise.
 */
export async function failpoint(
  dir: string | undefined,
  name: string,
  released: Promise<unknown>,
  detail = '',
): Promise<void> {
  if (!dir || !fs.existsSync(holdFile(dir, name))) return;
  fs.writeFileSync(heldFile(dir, name), `${detail}\n`);
  await released;
}
