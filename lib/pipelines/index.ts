/**
 * Pipelines as code (docs/architecture.md#pipelines-as-code): the spec and its validation, partitions, and the compiler from
 * the declarative computation to Spark SQL. Pure and deterministic (the only dependency is zod),
 * so workflow code may import it.
 *
 * ```ts
 * const spec = definePipeline({ name: 'page-views', kind: 'batch', source, transform, partitioning: 'hour', batch });
 * const step = compileBatch(spec, partitionOf(spec, eventTimeMs), { startingOffsets, endingOffsets });
 * ```
 */
export {
  COLUMN_TYPES,
  declarativeOutputNames,
  definePipeline,
  EVENT_TIME_COLUMN,
  InvalidPipelineSpec,
  isDeclarative,
  parsePipelineSpec,
  PipelineSpecSchema,
  WINDOW_COLUMNS,
} from './spec';
export type {
  Aggregate,
  BatchPipelineSpec,
  BatchSettings,
  ColumnType,
  DeclarativeTransform,
  KafkaSource,
  LakeSource,
  PipelineSpec,
  PipelineSpecInput,
  Source,
  SqlTransform,
  Transform,
} from './spec';
export {
  InvalidPartition,
  MAX_PARTITIONS_PER_RANGE,
  PARTITION_MS,
  PARTITIONINGS,
  partitionBounds,
  partitionInRange,
  partitioningOf,
  partitionOf,
  partitionsBetween,
  partitionsOverlapping,
  outsideSchedule,
} from './partitions';
export type { Partitioning, TimeRange } from './partitions';
export {
  batchOutputColumns,
  compileBatch,
  InvalidSourceBinding,
  RAW_EVENTS_VIEW,
  sparkSchemaDdl,
  sparkType,
} from './compile-spark';
export type {
  CompiledBatch,
  KafkaSourceBinding,
  LakeSourceBinding,
  OutputColumn,
  SourceBinding,
  SparkType,
} from './compile-spark';
export { checkBatchOutput, validationPlan } from './validate-output';
export type { BatchOutputSummary, ValidationPlan } from './validate-output';
export { parseDuration } from './duration';
export type { Duration, DurationUnit } from './duration';
