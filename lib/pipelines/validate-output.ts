import { batchOutputColumns, type OutputColumn } from './compile-spark';
import { declarativeOutputNames, isDeclarative, type BatchPipelineSpec } from './spec';

/** What a finished batch partition must satisfy before it is published. */
export interface ValidationPlan {
  minRows: number;
  /** Columns that must be present (names compared case-insensitively, as Spark does). */
  requiredColumns: string[];
  /** Expected columns and types, for a declarative transform; undefined for raw SQL. */
  columns: OutputColumn[] | undefined;
}

/** The written output as the Spark runner reports it (`SLUICE_RESULT`): types are Spark's `simpleString`. */
export interface BatchOutputSummary {
  rows: number;
  columns: { name: string; type: string }[];
}

/**
 * The checks for a spec's output: `validate.minRows`, `validate.requiredColumns` (default: every
 * output column of a declarative transform, none for raw SQL), and the declarative output types.
 */
export function validationPlan(spec: BatchPipelineSpec): ValidationPlan {
  const declared = isDeclarative(spec.transform) ? declarativeOutputNames(spec.transform) : [];
  return {
    minRows: spec.validate.minRows,
    requiredColumns: spec.validate.requiredColumns ?? declared,
    columns: batchOutputColumns(spec),
  };
}

/**
 * Problems of a written partition against `plan`, one line each (empty when it passes), e.g.
 * `expected at least 1 row, got 0`, `missing column "views"`, `column "views" is string, expected BIGINT`.
 */
export function checkBatchOutput(plan: ValidationPlan, output: BatchOutputSummary): string[] {
  const problems: string[] = [];
  if (output.rows < plan.minRows) {
    problems.push(`expected at least ${plan.minRows} row${plan.minRows === 1 ? '' : 's'}, got ${output.rows}`);
  }
  const actual = new Map(output.columns.map((c) => [c.name.toLowerCase(), c]));
  for (const name of plan.requiredColumns) {
    if (!actual.has(name.toLowerCase())) problems.push(`missing column "${name}"`);
  }
  for (const column of plan.columns ?? []) {
    const found = actual.get(column.name.toLowerCase());
    if (found && found.type.toUpperCase() !== column.type) {
      problems.push(`column "${column.name}" is ${found.type}, expected ${column.type}`);
    }
  }
  return problems;
}
