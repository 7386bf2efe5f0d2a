/**
 * Runs a planned check on any SQL engine that answers queries with plain rows: describes the sides
 * (unless their columns are given), plans, runs the single pass, runs the deduplicated pass only
 * when the single one shows repeated keys, and assembles the report. The DuckDB executor
 * (engines/consistency-check.ts) and a Spark Connect session (`queryRows` of
 * engines/spark-connect-step.ts) both fit {@link SqlExecutor}.
 */
import { DIALECTS } from './dialect';
import { CheckInputError } from './errors';
import { planCheck, type CheckPass, type CheckPlan, type PlanInput } from './plan';
import {
  assembleReport,
  inlineSamples,
  duplicatesIn,
  type CheckReport,
  type LateDataInput,
  type Row,
  type SampleRows,
} from './report';
import type { SideColumn, TypeDialect } from './types';

/** Runs one SQL statement and returns its rows as plain values (see report.ts). */
export type SqlExecutor = (sql: string) => Promise<Row[]>;

/** A side as SQL, with its columns when known (else described through the executor). */
export interface SqlSide {
  relation: string;
  columns?: readonly SideColumn[];
}

export interface RunCheckInput extends Omit<PlanInput, 'batch' | 'stream' | 'countColumn'> {
  batch: SqlSide;
  stream: SqlSide;
  lateData?: LateDataInput;
}

/** The columns of a relation, through the dialect's DESCRIBE. */
export async function describeColumns(
  exec: SqlExecutor,
  dialect: TypeDialect,
  relation: string,
): Promise<SideColumn[]> {
  const d = DIALECTS[dialect];
  const rows = await exec(d.describe(relation));
  return rows
    .map((r) => ({ name: String(r[d.describeFields.name]), type: String(r[d.describeFields.type]) }))
    .filter((c) => c.name !== '' && !c.name.startsWith('#')); // Spark lists partitioning after a "# ..." row
}

async function runPass(exec: SqlExecutor, pass: CheckPass): Promise<{ summary: Row; samples: SampleRows }> {
  try {
    for (const statement of pass.setup) await exec(statement);
    const [summary] = await exec(pass.summary);
    if (!summary) throw new Error('the summary query returned no row');
    const samples = inlineSamples(summary);
    for (const [kind, query] of Object.entries(pass.samples)) samples[kind as keyof SampleRows] = await exec(query);
    return { summary, samples };
  } finally {
    for (const statement of pass.cleanup) await exec(statement).catch(() => undefined);
  }
}

/** Plans and runs a check; bad input is a {@link CheckInputError}. */
export async function runCheck(exec: SqlExecutor, input: RunCheckInput): Promise<CheckReport> {
  // One statement at a time: a DuckDB connection (and a Spark session's plan cache) runs them in turn.
  const batchColumns = input.batch.columns ?? (await describeColumns(exec, input.dialect, input.batch.relation));
  const streamColumns = input.stream.columns ?? (await describeColumns(exec, input.dialect, input.stream.relation));
  const plan = planCheck({
    ...input,
    batch: { relation: input.batch.relation, columns: batchColumns },
    stream: { relation: input.stream.relation, columns: streamColumns },
    countColumn: input.lateData?.countColumn,
  });
  return runPlan(exec, plan, input.lateData);
}

/** Runs a plan (see {@link planCheck}): the single pass, and the deduplicated one if it is needed. */
export async function runPlan(exec: SqlExecutor, plan: CheckPlan, lateData?: LateDataInput): Promise<CheckReport> {
  if (lateData && !(Number.isInteger(lateData.droppedLateRecords) && lateData.droppedLateRecords >= 0)) {
    throw new CheckInputError(`dropped late records: expected an integer >= 0, got ${lateData.droppedLateRecords}`);
  }
  const [rowCounts] = await exec(plan.rowCounts);
  const single = await runPass(exec, plan.single);
  const duplicates = duplicatesIn(single.summary, rowCounts ?? {});
  if (!duplicates) return assembleReport(plan, 'single', rowCounts ?? {}, single.summary, single.samples, lateData);
  const dedup = await runPass(exec, plan.deduplicated[duplicates]);
  return assembleReport(plan, 'deduplicated', rowCounts ?? {}, dedup.summary, dedup.samples, lateData);
}
