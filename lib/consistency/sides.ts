/**
 * Where a side of a consistency check comes from, resolved to the Parquet files to read: one file,
 * a directory of `part-*` files (as Spark and Flink's filesystem sink write them), or an explicit
 * list (what an Iceberg snapshot's manifest names for a partition).
 *
 * A directory is read without its hidden and unfinished files: `_SUCCESS`, `_committed_*`,
 * `.part-*.inprogress.*` and Spark's `.crc` files. A glob would take them, and DuckDB's
 * `read_parquet` then fails on `_SUCCESS` (measured: shared/notes/lambda-consistency.md §1).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckInputError } from './errors';

export type SideName = 'batch' | 'stream';

/** A side as given: a path (a Parquet file or a directory of part files), or the files themselves. */
export type SideSource = { path: string } | { files: readonly string[] };

/** A side resolved to the Parquet files it consists of (absolute paths, sorted). */
export interface ResolvedSide {
  name: SideName;
  files: string[];
  /** What the side was given as, for messages: the path, or the number of files. */
  describe: string;
}

/** A directory entry that holds committed data: `part-*`, not hidden, not in progress. */
export function isPartFile(name: string): boolean {
  return name.startsWith('part-') && !/\.inprogress(\.|$)/.test(name) && !name.endsWith('.crc');
}

/**
 * Resolves a side; a {@link CheckInputError} names the side and the path when it does not exist,
 * is neither a file nor a directory, or is a directory without part files (listing what it skipped).
 */
export function resolveSide(name: SideName, source: SideSource): ResolvedSide {
  if ('files' in source) {
    const files = source.files.map((f) => {
      const abs = path.resolve(f);
      const st = statOrThrow(name, abs);
      if (!st.isFile()) throw new CheckInputError(`${name}: ${f} is not a file`);
      return abs;
    });
    return { name, files: [...files].sort(), describe: `${files.length} file${files.length === 1 ? '' : 's'}` };
  }
  const abs = path.resolve(source.path);
  const st = statOrThrow(name, abs);
  if (st.isFile()) return { name, files: [abs], describe: source.path };
  if (!st.isDirectory()) throw new CheckInputError(`${name}: ${source.path} is neither a file nor a directory`);
  const entries = fs.readdirSync(abs, { withFileTypes: true });
  const parts = entries.filter((e) => e.isFile() && isPartFile(e.name)).map((e) => e.name);
  if (parts.length === 0) {
    const skipped = entries.map((e) => e.name).sort();
    throw new CheckInputError(
      `${name}: directory ${source.path} has no part-* files` +
        (skipped.length
          ? ` (skipped: ${skipped.slice(0, 10).join(', ')}${skipped.length > 10 ? ', ...' : ''})`
          : ' (it is empty)'),
    );
  }
  return { name, files: parts.sort().map((p) => path.join(abs, p)), describe: source.path };
}

function statOrThrow(name: SideName, p: string): fs.Stats {
  try {
    return fs.statSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CheckInputError(`${name}: ${p}: no such file or directory`, { cause: err });
    throw new CheckInputError(`${name}: ${p}: ${code ?? (err as Error).message}`, { cause: err });
  }
}
