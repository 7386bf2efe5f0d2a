/*
 * `sluice check`: the consistency check of two Parquet sides (docs/consistency.md). Exit 0 when
 * consistent, 1 when not (the report printed either way), 2 on bad input. Argument parsing and
 * printing only: engines/consistency-check.ts runs the check.
 */
import Table from 'cli-table3';
import { InvalidArgumentError, type Command } from 'commander';
import { checkParquet } from '../engines/consistency-check';
import { CheckInputError, parseTolerances, type CheckReport, type SampleKey, type Tolerance } from '../lib/consistency';
import { UsageError } from './errors';
import { plain } from './table-style';

interface CheckOptions {
  batch: string;
  stream: string;
  keys: string;
  tolerance?: string[];
  ignore?: string;
  countColumn?: string;
  droppedLate?: number;
  samples: number;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) {
    throw new InvalidArgumentError(`expected an integer >= 0, got "${value}"`);
  }
  return n;
}

/** A comma-separated list of column names; empty entries are refused. */
export function columnList(flag: string, text: string): string[] {
  const names = text.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) throw new UsageError(`${flag} "${text}": expected column names separated by commas`);
  return names;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description(
      'compare a batch and a stream output by key: exit 0 consistent, 1 not consistent, 2 bad input ' +
        '(each side a Parquet file or a directory of part-* files)',
    )
    .requiredOption('--batch <path>', 'the batch side: a Parquet file, or a directory of part-* files')
    .requiredOption('--stream <path>', 'the stream side: a Parquet file, or a directory of part-* files')
    .requiredOption('--keys <k1,k2>', 'the key columns, on both sides')
    .option(
      '--tolerance <col=abs:x,col=rel:y>',
      'per-column tolerance: abs:x accepts |a-b| <= x, rel:y accepts |a-b| <= y*max(|a|,|b|) (repeatable)',
      collect,
    )
    .option('--ignore <c1,c2>', 'shared columns not to compare')
    .option('--count-column <col>', "late data: the column holding each row's record count")
    .option('--dropped-late <n>', "late data: Flink's dropped late records for the partition", nonNegativeInt)
    .option('--samples <n>', 'sample keys of each kind', nonNegativeInt, 10)
    .option('--json', 'print the report as one JSON object')
    .action(async (opts: CheckOptions) => {
      const report = await check(opts);
      process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${renderReport(report)}\n`);
      if (!report.consistent) process.exitCode = 1;
    });
}

async function check(opts: CheckOptions): Promise<CheckReport> {
  if ((opts.countColumn === undefined) !== (opts.droppedLate === undefined)) {
    throw new UsageError('--count-column and --dropped-late go together (the late-data explanation needs both)');
  }
  try {
    const tolerances: Tolerance[] = (opts.tolerance ?? []).flatMap((t) => parseTolerances(t, '--tolerance'));
    return await checkParquet({
      batch: { path: opts.batch },
      stream: { path: opts.stream },
      keys: columnList('--keys', opts.keys),
      tolerances,
      ignore: opts.ignore === undefined ? undefined : columnList('--ignore', opts.ignore),
      sampleSize: opts.samples,
      lateData:
        opts.countColumn === undefined
          ? undefined
          : { countColumn: opts.countColumn, droppedLateRecords: opts.droppedLate! },
    });
  } catch (err) {
    if (err instanceof CheckInputError) throw new UsageError(err.message);
    throw err;
  }
}

const formatKey = (k: SampleKey) =>
  Object.entries(k)
    .map(([name, v]) => `${name}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');

/** No colour codes when the output is not a terminal (as the other commands' tables). */

/** The human summary: verdict, counts, mismatches per column, sample keys, late data. */
export function renderReport(r: CheckReport, style = plain()): string {
  const lines = [
    `${r.consistent ? 'consistent' : 'NOT consistent'}: batch ${r.rows.batch} rows, stream ${r.rows.stream} rows, ` +
      `keys ${r.keys.join(', ')}${r.pass === 'deduplicated' ? ' (duplicate keys: sides grouped by key)' : ''}`,
  ];
  const counts = new Table({ ...style, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
  counts.push(
    ['matched', r.matched],
    ['mismatched', r.mismatched],
    ['missing in batch', r.missingInBatch],
    ['missing in stream', r.missingInStream],
    ['duplicate keys in batch', r.duplicateKeys.batch],
    ['duplicate keys in stream', r.duplicateKeys.stream],
  );
  lines.push(counts.toString());
  const byColumn = Object.entries(r.mismatchedByColumn).filter(([, n]) => n > 0);
  if (byColumn.length) lines.push(`mismatched by column: ${byColumn.map(([c, n]) => `${c} ${n}`).join(', ')}`);
  const samples: [string, SampleKey[]][] = [
    ['mismatched', r.samples.mismatched],
    ['missing in batch', r.samples.missingInBatch],
    ['missing in stream', r.samples.missingInStream],
    ['duplicate in batch', r.samples.duplicateKeys.batch],
    ['duplicate in stream', r.samples.duplicateKeys.stream],
  ];
  for (const [what, keys] of samples) {
    if (keys.length) lines.push(`${what}, e.g.: ${keys.map(formatKey).join('; ')}`);
  }
  const skipped = [...r.notCompared.batch, ...r.notCompared.stream];
  if (skipped.length) lines.push(`not compared (on one side only): ${skipped.join(', ')}`);
  if (r.lateData) {
    const l = r.lateData;
    lines.push(
      `late data: ${l.countColumn} batch ${l.batchCount} - stream ${l.streamCount} = ${l.difference}; ` +
        `Flink dropped ${l.droppedLateRecords} late records: ${l.explained ? 'explained' : 'not explained'}`,
    );
  }
  return lines.join('\n');
}
