/**
 * The consistency check of a lambda pipeline's batch and stream outputs (docs/consistency.md): match
 * rows by key, compare every shared value column within its tolerance, report matched, mismatched,
 * missing on either side and duplicate keys, with the late-data explanation. Planned as SQL for
 * DuckDB (local) and Spark (large partitions); engines/consistency-check.ts runs it in DuckDB.
 */
export { CheckInputError } from './errors';
export { DIALECTS, duckdb, spark, type Dialect } from './dialect';
export {
  FIELD,
  SAMPLE_KINDS,
  planCheck,
  type CheckPass,
  type CheckPlan,
  type DuplicateSides,
  type PlanInput,
  type PlanSide,
  type PlannedColumn,
  type SampleKind,
} from './plan';
export {
  assembleReport,
  inlineSamples,
  duplicatesIn,
  type CheckReport,
  type LateData,
  type LateDataInput,
  type Row,
  type SampleKey,
  type SampleRows,
} from './report';
export { describeColumns, runCheck, runPlan, type RunCheckInput, type SqlExecutor, type SqlSide } from './run';
export { isPartFile, resolveSide, type ResolvedSide, type SideName, type SideSource } from './sides';
export { ToleranceSchema, parseTolerances, validateTolerances, type Tolerance } from './tolerance';
export { classifyType, commonType, type CommonType, type SideColumn, type TypeClass } from './types';
