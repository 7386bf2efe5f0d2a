/**
 * Pipelines as code (docs/architecture.md#pipelines-as-code): the spec and its validation, partitions, and the compilers from
 * the declarative computation to Spark SQL (batch) and Flink SQL (streaming). Pure and deterministic (the only dependency
 * is zod), so workflow code may import it.
 *
 * ```ts
 * const spec = definePipeline({ name: 'page-views', kind: 'batch', source, transform, partitioning: 'hour', batch });
 * const step = compileBatch(spec, partitionOf(spec, eventTimeMs), { startingOffsets, endingOffsets });
 * const job = compileStreaming(live); // live: a `kind: 'streaming'` spec
 * ```
 */
export {
  COLUMN_TYPES,
  declarativeOutputNames,
  definePipeline,
  EVENT_TIME_COLUMN,
  InvalidPipelineSpec,
  isDeclarative,
  isStreaming,
  parsePipelineSpec,
  PipelineSpecSchema,
  STREAM_EXTRA_COLUMNS,
  streamDemand,
  WINDOW_COLUMNS,
} from './spec';
export type {
  Aggregate,
  BatchPipelineSpec,
  BatchPipelineSpecInput,
  BatchSettings,
  ColumnType,
  DeclarativeTransform,
  KafkaSource,
  LakeSource,
  PipelineSpec,
  PipelineSpecInput,
  Source,
  SqlTransform,
  StreamingPipelineSpec,
  StreamingPipelineSpecInput,
  LambdaPipelineSpec,
  LambdaPipelineSpecInput,
  LambdaSettings,
  KappaPipelineSpec,
  KappaPipelineSpecInput,
  KappaSettings,
  StreamSettings,
  StreamSink,
  Transform,
  WindowedTransform,
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
export {
  compileStreaming,
  flinkType,
  KAFKA_BROKERS,
  flinkOptions,
  LAKE_CATALOG_OPTIONS,
  STREAM_PLACEHOLDERS,
  STREAM_TABLE,
  streamGroupId,
  TRANSACTIONAL_ID_PREFIX,
} from './compile-flink';
export type { CompiledStream, FlinkType, StreamColumn } from './compile-flink';
export { checkBatchOutput, validationPlan } from './validate-output';
export type { BatchOutputSummary, ValidationPlan } from './validate-output';
export { parseDuration } from './duration';
export type { Duration, DurationUnit } from './duration';
