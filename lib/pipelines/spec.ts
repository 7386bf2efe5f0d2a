import { z } from 'zod';
import { once } from '../lazy';
import { NAME_PATTERN } from '../names';
import { parseOrThrow } from '../zod-issues';
import { parseDuration } from './duration';
import { PARTITION_MS, type Partitioning } from './partitions';
import { TolerancesSchema } from '../consistency/tolerance';
import { scanSelect } from './sql-text';
import {
  IDENTIFIER,
  columnName,
  columnsSchema,
  describe,
  duration,
  expected,
  forwardIssues,
  integer,
  isObject,
  kafkaTopic,
  matching,
  objectError,
  oneOf,
  positive,
  resources,
  strict,
  text,
} from './spec-fields';

export { IDENTIFIER } from './spec-fields';

/*
 * The pipeline spec (docs/architecture.md#pipelines-as-code). Everything here is pure and JSON-shaped: a parsed spec travels
 * in workflow inputs and is re-validated with `parsePipelineSpec` wherever it arrives as JSON.
 *
 * Layout, so that lambda pipelines can be added without breaking the others: the top level is a
 * union discriminated on `kind` (`batch`, `streaming`); `source` and `transform` describe the
 * computation once, independent of the engine; engine settings live in their own block (`batch`
 * for Spark runs, `stream` for the Flink job).
 */

/** Column types a source may declare. `epoch_millis` is a BIGINT of milliseconds since the epoch. */
export const COLUMN_TYPES = ['string', 'int', 'bigint', 'double', 'boolean', 'timestamp', 'epoch_millis'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** Column types that `sum` accepts. */
export const NUMERIC_TYPES: readonly ColumnType[] = ['int', 'bigint', 'double', 'epoch_millis'];
/** Column types an event-time column may have. */
export const TIME_TYPES: readonly ColumnType[] = ['timestamp', 'epoch_millis'];

/** Pipeline names: they appear in workflow ids, lake paths and Spark application names. */
export const PIPELINE_NAME = NAME_PATTERN;

/** The column Sluice derives from the event-time column in the `events` view. */
export const EVENT_TIME_COLUMN = 'event_time';
/** Output columns holding a window's bounds. */
export const WINDOW_COLUMNS = ['window_start', 'window_end'] as const;
/** Columns the Spark runner adds to a Kafka source's rows. */
const KAFKA_RUNNER_COLUMNS = ['_kafka_partition', '_kafka_offset'];
const RESERVED_BY_SLUICE = `reserved (Sluice derives ${EVENT_TIME_COLUMN} from eventTime)`;
const RESERVED_BY_RUNNER = 'reserved (the Spark runner adds it to Kafka records)';
/** Columns Flink's TUMBLE adds to its input rows: a streaming source may not declare them. */
const FLINK_WINDOW_COLUMNS = ['window_start', 'window_end', 'window_time'];
/** Output columns a streaming pipeline adds around the transform's: the Iceberg partition and the firing watermark. */
export const STREAM_EXTRA_COLUMNS = ['partition', 'watermark'] as const;

/** The spec's parts up to the transforms (built once, on first use: see `lib/lazy.ts`). */
const partSchemas = once(() => {
  // ---- source

  const ColumnTypeSchema = oneOf(COLUMN_TYPES);

  /** Column name → type, in the order the columns are read. */
  const ColumnsSchema = columnsSchema(COLUMN_TYPES);

  const sourceFields = {
    /** Column name → type of each record. */
    schema: ColumnsSchema,
    /** The event-time column (type `timestamp` or `epoch_millis`); partitions and windows use it. */
    eventTime: columnName(),
  };

  /** Records of a Kafka topic, one JSON object per message value. */
  const KafkaSourceSchema = strict({
    kind: z.literal('kafka'),
    topic: kafkaTopic(),
    format: z.literal('json', { error: 'expected "json" (the only format so far)' }),
    ...sourceFields,
  }).superRefine((source, ctx) => checkSourceColumns(source, KAFKA_RUNNER_COLUMNS, ctx));

  /** Another pipeline's output in the lake: its Iceberg table `lake.<pipeline>.<layer>`. */
  const LakeSourceSchema = strict({
    kind: z.literal('lake'),
    pipeline: matching(PIPELINE_NAME, `a pipeline name matching ${PIPELINE_NAME.source}`),
    layer: oneOf(['batch', 'stream', 'merged']),
    ...sourceFields,
  }).superRefine((source, ctx) => checkSourceColumns(source, [], ctx));

  const SourceSchema = z.discriminatedUnion('kind', [KafkaSourceSchema, LakeSourceSchema], {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `unknown source kind ${describe(issue.input, 'kind')}; expected kafka | lake`
        : objectError('an object')(issue),
  });

  // ---- transform

  /** A tumbling (fixed, non-overlapping, epoch-aligned) event-time window. */
  const WindowSchema = strict({
    /** `"<n> <unit>"`, e.g. `15 minutes`; must divide the partition length evenly. */
    tumbling: duration(),
  });

  const outputName = () => matching(IDENTIFIER, 'an output column name matching ^[A-Za-z_][A-Za-z0-9_]*$');

  /** `COUNT(*)`: rows per group. */
  const CountAggregateSchema = strict({
    fn: z.literal('count'),
    column: z.never({ error: 'count takes no column (it counts rows)' }).optional(),
    /** Output column name. */
    as: outputName(),
  });

  /** `SUM`/`MIN`/`MAX` of a column; `sum` needs a numeric one. */
  const ColumnAggregateSchema = strict({
    fn: z.enum(['sum', 'min', 'max']),
    column: z
      .string({
        error: (issue) =>
          issue.input === undefined ? 'required (sum, min and max take a column)' : 'expected a column name',
      })
      .min(1, { error: 'expected a column name' }),
    /** Output column name. */
    as: outputName(),
  });

  const AggregateSchema = z.discriminatedUnion('fn', [CountAggregateSchema, ColumnAggregateSchema], {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `unknown aggregate ${describe(issue.input, 'fn')}; expected count | sum | min | max`
        : objectError('an object { fn, column?, as }')(issue),
  });

  /**
   * The computation described once, compiled to each engine's SQL: optional tumbling window over
   * event time, group-by columns, aggregates. Output columns: `window_start`, `window_end` (with a
   * window), the group-by columns, then the aggregates in order.
   */
  const DeclarativeTransformSchema = strict({
    window: WindowSchema.optional(),
    /** Group-by columns of the source schema (may be empty: one row per window, or one row). */
    groupBy: z.array(columnName(), { error: expected('an array of column names') }),
    aggregates: z
      .array(AggregateSchema, { error: expected('an array of aggregates') })
      .min(1, { error: 'declare at least one aggregate' }),
  });

  /**
   * Raw Spark SQL, an escape hatch for pipelines that are not lambda pipelines: one SELECT (or
   * WITH ... SELECT) over the view `events`, whose rows are already restricted to the partition's
   * event-time range. Its output columns are not known before it runs.
   */
  const SqlTransformSchema = strict({
    sql: z.string({ error: expected('a string of Spark SQL') }).superRefine((sql, ctx) => {
      const scan = scanSelect(sql);
      if (!scan.ok) ctx.addIssue({ code: 'custom', message: scan.problem });
    }),
  });
  return {
    ColumnTypeSchema,
    ColumnsSchema,
    KafkaSourceSchema,
    LakeSourceSchema,
    SourceSchema,
    WindowSchema,
    CountAggregateSchema,
    ColumnAggregateSchema,
    AggregateSchema,
    DeclarativeTransformSchema,
    SqlTransformSchema,
  };
});
type Parts = ReturnType<typeof partSchemas>;

export type DeclarativeTransform = z.output<Parts['DeclarativeTransformSchema']>;
/** A declarative transform with its tumbling window, as streaming pipelines need. */
export type WindowedTransform = DeclarativeTransform & { window: NonNullable<DeclarativeTransform['window']> };
export type SqlTransform = z.output<Parts['SqlTransformSchema']>;
export type Transform = DeclarativeTransform | SqlTransform;

/** The whole spec (built once, on first use). */
const specSchemas = once(() => {
  const { SourceSchema, DeclarativeTransformSchema, SqlTransformSchema } = partSchemas();
  /**
   * `{ sql }` or the declarative form, told apart by the `sql` key so that errors describe the form
   * the author meant (a plain union would report both forms' errors at once).
   */
  const TransformSchema = z
    .custom<Transform>(isObject, {
      error: (issue) =>
        issue.input === undefined ? 'required' : 'expected { window?, groupBy, aggregates } or { sql }',
    })
    .superRefine((input, ctx) => {
      const schema = 'sql' in input ? SqlTransformSchema : DeclarativeTransformSchema;
      const result = schema.safeParse(input);
      if (!result.success) forwardIssues(result.error, ctx);
    });

  /**
   * A streaming pipeline's transform: the declarative form with a window, since it is compiled to a
   * Flink window aggregation (raw SQL is Spark SQL, and an unwindowed aggregate never completes).
   */
  const WindowedTransformSchema = z
    .custom<WindowedTransform>(isObject, {
      error: (issue) => (issue.input === undefined ? 'required' : 'expected { window, groupBy, aggregates }'),
    })
    .superRefine((input, ctx) => {
      if ('sql' in input) {
        ctx.addIssue({
          code: 'custom',
          path: ['sql'],
          message:
            'a streaming pipeline needs the declarative form (window, groupBy, aggregates): it is compiled to Flink SQL',
        });
        return;
      }
      const result = DeclarativeTransformSchema.safeParse(input);
      if (!result.success) forwardIssues(result.error, ctx);
      if (input.window === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['window'],
          message: 'required: a streaming pipeline aggregates in tumbling event-time windows',
        });
      }
    });

  /** A streaming pipeline's source: the source block, Kafka only. */
  const StreamingSourceSchema = z
    .custom<KafkaSource>(isObject, {
      error: (issue) => (issue.input === undefined ? 'required' : 'expected an object'),
    })
    .superRefine((input: { kind?: unknown }, ctx) => {
      if (input.kind === 'lake') {
        ctx.addIssue({
          code: 'custom',
          path: ['kind'],
          message: 'a streaming pipeline reads a Kafka topic (lake sources are for batch pipelines)',
        });
        return;
      }
      const result = SourceSchema.safeParse(input);
      if (!result.success) forwardIssues(result.error, ctx);
    });

  // ---- engine settings and validation

  /** How a batch run is admitted to a resource pool and sized (docs/architecture.md#pools). */
  const BatchSettingsSchema = strict({
    /** Resource pool the runs are admitted to. */
    pool: text(),
    /** Tenant charged for the runs (fair sharing). */
    tenant: text(),
    /** Capacity queue, for pools with the capacity policy. */
    queue: text().optional(),
    /**
     * Higher runs first.
     * @default 0
     */
    priority: z.number({ error: expected('a number') }).default(0),
    /** Demand of one run, held for its whole duration. */
    resources: resources(),
    /** Expected run time, for backfilling schedulers. */
    estimatedRuntimeMs: positive().optional(),
    /**
     * The pool may revoke a run's grant (capacity preemption, a shrinking pool): its Spark
     * application is killed and the step queued again, from scratch.
     * @default false
     */
    preemptible: z.boolean({ error: expected('true or false') }).default(false),
    /**
     * Where a step runs: `connect`, on the stack's warm Spark Connect server (seconds per small
     * partition); `submit`, as its own spark-submit application (its own driver and executors:
     * isolation, at ~20 s of start-up per step). Both write the same Iceberg table the same way.
     * @default 'connect'
     */
    engine: oneOf(['connect', 'submit']).default('connect'),
  });

  /** Checks of a finished partition before it is published. */
  const ValidateSchema = strict({
    /**
     * Fewest rows a partition may have.
     * @default 0
     */
    minRows: z
      .number({ error: expected('a non-negative integer') })
      .int({ error: 'expected a non-negative integer' })
      .min(0, { error: 'expected a non-negative integer' })
      .default(0),
    /**
     * Columns the output must have.
     * @default every output column of a declarative transform; none for raw SQL
     */
    requiredColumns: z.array(columnName(), { error: expected('an array of column names') }).optional(),
  }).default({ minRows: 0 });

  const PartitioningSchema = oneOf(['hour', 'day']);

  /**
   * How the stream's Flink job is admitted to a resource pool, sized and kept running
   * (docs/architecture.md#pools). The job holds its demand, parallelism × `resources`, for as long
   * as it runs.
   */
  const StreamSettingsSchema = strict({
    /** Resource pool the job is admitted to. */
    pool: text(),
    /** Tenant charged for the job (fair sharing). */
    tenant: text(),
    /** Capacity queue, for pools with the capacity policy. */
    queue: text().optional(),
    /**
     * Higher is admitted first.
     * @default 0
     */
    priority: z.number({ error: expected('a number') }).default(0),
    /**
     * Parallelism the job starts with; a rescale changes it (up to `maxParallelism`).
     * @default 1
     */
    parallelism: integer(1).default(1),
    /**
     * Flink's key groups: the most the job can ever be rescaled to from its savepoints, fixed for
     * the life of its state (Flink's own upper bound is 32768).
     * @default 128
     */
    maxParallelism: integer(1, 32_768).default(128),
    /** Demand of one task slot; the job's demand is parallelism × this. */
    resources: resources(),
    /**
     * How late an event may arrive and still count: the watermark is the largest event time seen
     * minus this, and a window fires once the watermark passes its end.
     * @default '5 seconds'
     */
    allowedLateness: duration().default('5 seconds'),
    /**
     * A Kafka partition without records for this long stops holding the watermark back.
     * @default '2 seconds'
     */
    idleTimeout: duration().default('2 seconds'),
    /**
     * Flink checkpoint interval; the lake and Kafka sinks commit on checkpoints, so this is also
     * how often output appears.
     * @default '10 seconds'
     */
    checkpointInterval: duration().default('10 seconds'),
    /** Savepoints Sluice takes and keeps. @default { retain: { count: 3 } } */
    savepoints: strict({
      /** Periodic savepoints, besides those of a stop or a rescale. @default none */
      interval: duration().optional(),
      /** Savepoints kept; older ones are deleted. @default { count: 3 } */
      retain: strict({
        /** @default 3 */
        count: integer(1).default(3),
        /** Also delete savepoints older than this (the newest is always kept). @default no age limit */
        maxAge: duration().optional(),
      }).default({ count: 3 }),
    }).default({ retain: { count: 3 } }),
    /**
     * How often Sluice resubmits a FAILED job, from its latest checkpoint or savepoint, before the
     * workflow fails. @default { attempts: 3, backoff: '5 seconds' }
     */
    restart: strict({
      /** @default 3 */
      attempts: integer(0).default(3),
      /** Wait before each resubmission. @default '5 seconds' */
      backoff: duration().default('5 seconds'),
    }).default({ attempts: 3, backoff: '5 seconds' }),
  }).superRefine(
    (stream, ctx) => {
      if (stream.parallelism > stream.maxParallelism) {
        ctx.addIssue({
          code: 'custom',
          path: ['parallelism'],
          message: `parallelism ${stream.parallelism} is above maxParallelism ${stream.maxParallelism} (the job's key groups: no rescale can go wider)`,
        });
      }
    },
    { when: validFields(['parallelism', 'maxParallelism']) },
  );

  /** Where a streaming pipeline's windows go: the lake's stream layer (Iceberg), a Kafka topic, or both. */
  const SinkSchema = strict({
    /**
     * The Iceberg table `lake.<pipeline>.stream`, partitioned by `partitioning`.
     * @default true
     */
    lake: z.boolean({ error: expected('true or false') }).default(true),
    /** A Kafka topic, one JSON object per window and group, written exactly once. */
    kafka: strict({ topic: kafkaTopic() }).optional(),
    /**
     * Also record every late record (one whose window had fired when it arrived: the window drops
     * it) in the Iceberg table `lake.<pipeline>.late`, partitioned like the output. Lambda
     * pipelines set it: their check explains batch-minus-stream counts with it.
     * @default false
     */
    late: z.boolean({ error: expected('true or false') }).default(false),
  })
    .refine((sink) => sink.lake || sink.kafka !== undefined, { error: 'declare at least one sink (lake or kafka)' })
    .refine((sink) => !sink.late || sink.lake, {
      error: 'late needs the lake sink (late records go to the lake)',
      path: ['late'],
    })
    .default({ lake: true, late: false });

  /** A batch pipeline: one Spark run per partition, admitted to a pool, validated, published. */
  const BatchPipelineSpecSchema = strict({
    name: matching(PIPELINE_NAME, `a name matching ${PIPELINE_NAME.source}`),
    kind: z.literal('batch'),
    description: z.string({ error: expected('a string') }).optional(),
    source: SourceSchema,
    transform: TransformSchema,
    /** UTC hours (`YYYY-MM-DDTHH`) or UTC days (`YYYY-MM-DD`). */
    partitioning: PartitioningSchema,
    batch: BatchSettingsSchema,
    validate: ValidateSchema,
    /**
     * The partitions the pipeline covers (partition ids, inclusive), as Airflow's start_date and
     * end_date: a run or backfill outside it is refused. @default unbounded
     */
    schedule: strict({
      start: z.string({ error: expected('a partition id') }),
      end: z.string({ error: expected('a partition id') }).optional(),
    }).optional(),
  })
    .superRefine(checkComputation, { when: validFields(['source', 'transform', 'partitioning', 'validate']) })
    .superRefine(checkSchedule);

  /**
   * A streaming pipeline: one long-running Flink job that aggregates the Kafka source in tumbling
   * event-time windows and commits each window, on checkpoints, to the lake's stream layer (an
   * Iceberg table) and/or a Kafka topic.
   */
  const StreamingPipelineSpecSchema = strict({
    name: matching(PIPELINE_NAME, `a name matching ${PIPELINE_NAME.source}`),
    kind: z.literal('streaming'),
    description: z.string({ error: expected('a string') }).optional(),
    source: StreamingSourceSchema,
    transform: WindowedTransformSchema,
    /** The Iceberg table's partition column: UTC hours (`YYYY-MM-DDTHH`) or UTC days (`YYYY-MM-DD`). */
    partitioning: PartitioningSchema,
    sink: SinkSchema,
    stream: StreamSettingsSchema,
  })
    .superRefine(checkComputation, { when: validFields(['source', 'transform', 'partitioning']) })
    .superRefine(checkStreamColumns, { when: validFields(['source', 'transform']) })
    .superRefine(checkSinkTopic, { when: validFields(['source', 'sink']) });

  /** How a lambda pipeline closes, checks and publishes its partitions (docs/lambda.md). */
  const LambdaSettingsSchema = strict({
    /**
     * A partition whose layers disagree: `alert` publishes it from the batch layer and flags it;
     * `recompute` first re-runs its batch partition once and checks again (then as `alert`).
     * @default 'recompute'
     */
    onInconsistent: oneOf(['alert', 'recompute']).default('recompute'),
    /**
     * Per value column, the difference allowed between batch and stream: the consistency check's
     * tolerances, `{ column, kind: 'abs' | 'rel', value }`. @default exact equality
     */
    tolerances: TolerancesSchema.default([]),
    /**
     * Partitions whose batch runs at once (each is also admitted by the pool).
     * @default 2
     */
    maxConcurrentBatches: integer(1, 64).default(2),
    /**
     * Partitions above this many rows per side are checked by a Spark job instead of in-process.
     * @default 2_000_000
     */
    localCheckMaxRows: integer(0).default(2_000_000),
    /**
     * Snapshots of the merged view older than this are expired (time travel stops there); the newest
     * is always kept. @default '7 days'
     */
    retainSnapshots: duration().default('7 days'),
  }).default({
    onInconsistent: 'recompute',
    tolerances: [],
    maxConcurrentBatches: 2,
    localCheckMaxRows: 2_000_000,
    retainSnapshots: '7 days',
  });

  /**
   * A lambda pipeline: one declared computation run as a Flink speed layer (`stream`, always into
   * the lake) and as Spark batch partitions (`batch`) once each partition has closed in the stream;
   * each closed partition is checked, then published into the serving view `<name>.merged`.
   */
  const LambdaPipelineSpecSchema = strict({
    name: matching(PIPELINE_NAME, `a name matching ${PIPELINE_NAME.source}`),
    kind: z.literal('lambda'),
    description: z.string({ error: expected('a string') }).optional(),
    source: StreamingSourceSchema,
    transform: WindowedTransformSchema,
    partitioning: PartitioningSchema,
    /** The speed layer's sinks: the lake's stream layer always, a Kafka topic too when given. */
    sink: SinkSchema,
    batch: BatchSettingsSchema,
    stream: StreamSettingsSchema,
    lambda: LambdaSettingsSchema,
    /** The first partition the batch layer covers (and the last, when the pipeline ends). */
    schedule: strict({
      start: z.string({ error: expected('a partition id') }),
      end: z.string({ error: expected('a partition id') }).optional(),
    }),
  })
    .superRefine(checkComputation, { when: validFields(['source', 'transform', 'partitioning']) })
    .superRefine(checkStreamColumns, { when: validFields(['source', 'transform']) })
    .superRefine(checkSinkTopic, { when: validFields(['source', 'sink']) })
    .superRefine(checkSchedule, { when: validFields(['partitioning', 'schedule']) })
    .superRefine(checkLambda, { when: validFields(['transform', 'sink', 'lambda']) });

  /** How a Kappa pipeline reprocesses (docs/kappa.md). */
  const KappaSettingsSchema = strict({
    /**
     * Per value column, the difference allowed between a reprocessed generation and the serving
     * one: the check's tolerances. @default exact equality
     */
    tolerances: TolerancesSchema.default([]),
    /** Partitions above this many rows per side are checked by a Spark job. @default 2_000_000 */
    localCheckMaxRows: integer(0).default(2_000_000),
    /**
     * How long a replaced generation (its job paused with a savepoint, its table kept) stays ready
     * for a rollback before it is removed. @default '1 day'
     */
    retainOld: duration().default('1 day'),
    /**
     * Snapshots of the view older than this are expired (time travel stops there); the newest is
     * always kept. @default '7 days'
     */
    retainSnapshots: duration().default('7 days'),
  }).default({ tolerances: [], localCheckMaxRows: 2_000_000, retainOld: '1 day', retainSnapshots: '7 days' });

  /**
   * A Kappa pipeline: one stream (Flink) serves the view `<name>.merged`; `reprocess` replays the
   * source from its earliest offsets as a new generation into a table of its own, diffs it against
   * the serving one, and switches the view in one commit only when the diff passes.
   */
  const KappaPipelineSpecSchema = strict({
    name: matching(PIPELINE_NAME, `a name matching ${PIPELINE_NAME.source}`).refine((n) => n.length <= 56, {
      error: 'at most 56 characters (generations are named <name>-g<n>)',
    }),
    kind: z.literal('kappa'),
    description: z.string({ error: expected('a string') }).optional(),
    source: StreamingSourceSchema,
    transform: WindowedTransformSchema,
    partitioning: PartitioningSchema,
    stream: StreamSettingsSchema,
    kappa: KappaSettingsSchema,
    /** The partitions the view serves (the first, and the last when the pipeline ends). */
    schedule: strict({
      start: z.string({ error: expected('a partition id') }),
      end: z.string({ error: expected('a partition id') }).optional(),
    }),
  })
    .superRefine(checkComputation, { when: validFields(['source', 'transform', 'partitioning']) })
    .superRefine(checkStreamColumns, { when: validFields(['source', 'transform']) })
    .superRefine(checkSchedule, { when: validFields(['partitioning', 'schedule']) })
    .superRefine((spec, ctx) => checkTolerances(spec.transform, spec.kappa.tolerances, ['kappa', 'tolerances'], ctx), {
      when: validFields(['transform', 'kappa']),
    });

  /** Every pipeline spec, discriminated on `kind`. */
  const PipelineSpecSchema = z.discriminatedUnion(
    'kind',
    [BatchPipelineSpecSchema, StreamingPipelineSpecSchema, LambdaPipelineSpecSchema, KappaPipelineSpecSchema],
    {
      error: (issue) =>
        issue.code === 'invalid_union'
          ? `unknown pipeline kind ${describe(issue.input, 'kind')}; expected batch | streaming | lambda | kappa`
          : objectError('a pipeline spec object')(issue),
    },
  );
  return {
    TransformSchema,
    BatchSettingsSchema,
    ValidateSchema,
    PartitioningSchema,
    BatchPipelineSpecSchema,
    StreamSettingsSchema,
    SinkSchema,
    StreamingPipelineSpecSchema,
    LambdaSettingsSchema,
    LambdaPipelineSpecSchema,
    KappaSettingsSchema,
    KappaPipelineSpecSchema,
    PipelineSpecSchema,
  };
});
type Specs = ReturnType<typeof specSchemas>;

/** Every pipeline spec, discriminated on `kind` (`batch`, `streaming`). */
export const PipelineSpecSchema = z.lazy(() => specSchemas().PipelineSpecSchema);

/** Whether a transform is the declarative form (compiled per engine) rather than raw SQL. */
export function isDeclarative(transform: Transform): transform is DeclarativeTransform {
  return !('sql' in transform);
}

/** The schedule's ids must be partitions of the pipeline's partitioning, in order. */
function checkSchedule(
  spec: { partitioning: string; schedule?: { start: string; end?: string } },
  ctx: z.RefinementCtx,
) {
  if (!spec.schedule) return;
  const pattern = spec.partitioning === 'hour' ? /^\d{4}-\d{2}-\d{2}T\d{2}$/ : /^\d{4}-\d{2}-\d{2}$/;
  const shape = spec.partitioning === 'hour' ? 'YYYY-MM-DDTHH' : 'YYYY-MM-DD';
  for (const key of ['start', 'end'] as const) {
    const v = spec.schedule[key];
    if (v !== undefined && !pattern.test(v)) {
      ctx.addIssue({
        code: 'custom',
        path: ['schedule', key],
        message: `"${v}" is not a ${spec.partitioning} partition (${shape})`,
      });
    }
  }
  if (spec.schedule.end !== undefined && spec.schedule.end < spec.schedule.start) {
    ctx.addIssue({
      code: 'custom',
      path: ['schedule', 'end'],
      message: `${spec.schedule.end} is before start ${spec.schedule.start}`,
    });
  }
}

export type PipelineSpec = z.output<typeof PipelineSpecSchema>;
/** What authors write: defaults (`batch.priority`, `validate`) may be left out. */
export type PipelineSpecInput = z.input<typeof PipelineSpecSchema>;
export type BatchPipelineSpec = z.output<Specs['BatchPipelineSpecSchema']>;
export type BatchPipelineSpecInput = z.input<Specs['BatchPipelineSpecSchema']>;
export type Source = z.output<Parts['SourceSchema']>;
export type KafkaSource = z.output<Parts['KafkaSourceSchema']>;
export type LakeSource = z.output<Parts['LakeSourceSchema']>;
export type Aggregate = z.output<Parts['AggregateSchema']>;
export type BatchSettings = z.output<Specs['BatchSettingsSchema']>;
export type StreamingPipelineSpec = z.output<Specs['StreamingPipelineSpecSchema']>;
export type StreamingPipelineSpecInput = z.input<Specs['StreamingPipelineSpecSchema']>;
export type StreamSettings = z.output<Specs['StreamSettingsSchema']>;
export type StreamSink = z.output<Specs['SinkSchema']>;
export type LambdaPipelineSpec = z.output<Specs['LambdaPipelineSpecSchema']>;
export type LambdaPipelineSpecInput = z.input<Specs['LambdaPipelineSpecSchema']>;
export type LambdaSettings = z.output<Specs['LambdaSettingsSchema']>;
export type KappaPipelineSpec = z.output<Specs['KappaPipelineSpecSchema']>;
export type KappaPipelineSpecInput = z.input<Specs['KappaPipelineSpecSchema']>;
export type KappaSettings = z.output<Specs['KappaSettingsSchema']>;

/** Whether `spec` is a streaming pipeline (a Flink job) rather than a batch one. */
export function isStreaming(spec: PipelineSpec): spec is StreamingPipelineSpec {
  return spec.kind === 'streaming';
}

/**
 * The pool demand of a streaming job at `parallelism`: one task slot's `stream.resources` per
 * parallel instance.
 * @throws RangeError unless `parallelism` is an integer from 1 to `stream.maxParallelism`.
 */
export function streamDemand(spec: StreamingPipelineSpec, parallelism: number): { cpu: number; memoryMb: number } {
  const { resources, maxParallelism } = spec.stream;
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
    throw new RangeError(
      `parallelism must be an integer from 1 to ${maxParallelism} (maxParallelism), got ${parallelism}`,
    );
  }
  return { cpu: parallelism * resources.cpu, memoryMb: parallelism * resources.memoryMb };
}

// ---- errors and entry points

/**
 * A spec that does not validate; permanent (fail the workflow with
 * `ApplicationFailure.nonRetryable(message, 'InvalidPipelineSpec')`). `issues` are `path: problem`.
 */
export class InvalidPipelineSpec extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[], name?: string) {
    super(`invalid pipeline spec${name ? ` ${JSON.stringify(name)}` : ''}: ${issues.join('; ')}`);
    this.name = 'InvalidPipelineSpec';
    this.issues = issues;
  }
}

/** Validates a spec that arrived as data (JSON, workflow input); throws {@link InvalidPipelineSpec}. */
export function parsePipelineSpec(input: unknown): PipelineSpec {
  return parseOrThrow(PipelineSpecSchema, input, (issues) => {
    const name = input !== null && typeof input === 'object' ? (input as { name?: unknown }).name : undefined;
    return new InvalidPipelineSpec(issues, typeof name === 'string' ? name : undefined);
  });
}

/**
 * Declares a pipeline in code: validates `spec` and returns it with defaults applied.
 * @throws InvalidPipelineSpec listing every problem as `path: problem`.
 */
export function definePipeline(spec: BatchPipelineSpecInput): BatchPipelineSpec;
export function definePipeline(spec: StreamingPipelineSpecInput): StreamingPipelineSpec;
export function definePipeline(spec: LambdaPipelineSpecInput): LambdaPipelineSpec;
export function definePipeline(spec: KappaPipelineSpecInput): KappaPipelineSpec;
export function definePipeline(spec: PipelineSpecInput): PipelineSpec;
export function definePipeline(spec: PipelineSpecInput): PipelineSpec {
  return parsePipelineSpec(spec);
}

// ---- cross-field checks

type Ctx = z.RefinementCtx;

/**
 * A refinement's `when`: run the cross-field checks whenever the top-level `fields` they read are
 * valid on their own, so that one bad field elsewhere does not hide them.
 */
function validFields(fields: readonly string[]) {
  return (payload: z.core.ParsePayload): boolean =>
    payload.issues.every((issue) => {
      const head = issue.path?.[0];
      return head !== undefined ? !fields.includes(String(head)) : issue.code === 'unrecognized_keys';
    });
}

/**
 * Names a streaming job cannot take: source columns that Flink's TUMBLE adds itself, and outputs
 * that clash with the `partition` and `watermark` columns of the stream table.
 */
function checkStreamColumns(
  spec: { source: { schema: Record<string, ColumnType> }; transform: DeclarativeTransform },
  ctx: Ctx,
): void {
  for (const column of Object.keys(spec.source.schema)) {
    if (FLINK_WINDOW_COLUMNS.includes(column.toLowerCase())) {
      ctx.addIssue({
        code: 'custom',
        path: ['source', 'schema', column],
        message: `column name "${column}" is reserved (Flink's TUMBLE adds ${FLINK_WINDOW_COLUMNS.join(', ')})`,
      });
    }
  }
  const outputs: [PropertyKey[], string][] = [
    ...spec.transform.groupBy.map((c, i): [PropertyKey[], string] => [['transform', 'groupBy', i], c]),
    ...spec.transform.aggregates.map((a, i): [PropertyKey[], string] => [['transform', 'aggregates', i, 'as'], a.as]),
  ];
  for (const [path, name] of outputs) {
    if ((STREAM_EXTRA_COLUMNS as readonly string[]).includes(name.toLowerCase())) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: `"${name}" is reserved in a streaming pipeline's output (columns ${STREAM_EXTRA_COLUMNS.join(' and ')})`,
      });
    }
  }
}

/**
 * A lambda pipeline's speed layer always writes the lake (the check and the view read it there),
 * and its tolerances name value columns of the output that can differ numerically.
 */
function checkLambda(
  spec: { transform: DeclarativeTransform; sink: { lake: boolean }; lambda: { tolerances: { column: string }[] } },
  ctx: Ctx,
): void {
  if (!spec.sink.lake) {
    ctx.addIssue({
      code: 'custom',
      path: ['sink', 'lake'],
      message: 'a lambda pipeline needs the lake sink: the consistency check and the merged view read the stream layer',
    });
  }
  checkTolerances(spec.transform, spec.lambda.tolerances, ['lambda', 'tolerances'], ctx);
}

/** Tolerances name value columns: the transform's aggregates. */
function checkTolerances(
  transform: DeclarativeTransform,
  tolerances: { column: string }[],
  path: string[],
  ctx: Ctx,
): void {
  const numeric = transform.aggregates.map((a) => a.as);
  for (const [i, { column }] of tolerances.entries()) {
    if (!numeric.includes(column)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, i, 'column'],
        message: `unknown value column "${column}" (aggregates: ${numeric.join(', ')})`,
      });
    }
  }
}

/** A streaming pipeline may not write its windows to the topic it reads. */
function checkSinkTopic(spec: { source: { topic: string }; sink: { kafka?: { topic: string } } }, ctx: Ctx): void {
  if (spec.sink.kafka?.topic === spec.source.topic) {
    ctx.addIssue({
      code: 'custom',
      path: ['sink', 'kafka', 'topic'],
      message: `"${spec.source.topic}" is the source topic: a pipeline cannot write its windows to the topic it reads`,
    });
  }
}

/** Checks of a source on its own: event-time column, reserved and clashing names. */
function checkSourceColumns(
  source: { schema: Record<string, ColumnType>; eventTime: string },
  runnerColumns: readonly string[],
  ctx: Ctx,
): void {
  const seen = new Map<string, string>();
  for (const column of Object.keys(source.schema)) {
    const lower = column.toLowerCase();
    const reserved =
      lower === EVENT_TIME_COLUMN ? RESERVED_BY_SLUICE : runnerColumns.includes(lower) ? RESERVED_BY_RUNNER : undefined;
    if (reserved) {
      ctx.addIssue({ code: 'custom', path: ['schema', column], message: `column name "${column}" is ${reserved}` });
    }
    const earlier = seen.get(lower);
    if (earlier !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['schema', column],
        message: `column "${column}" clashes with "${earlier}" (Spark column names are case-insensitive)`,
      });
    }
    seen.set(lower, column);
  }
  const type = source.schema[source.eventTime];
  if (seen.size === 0) return; // reported on the schema itself
  if (!Object.hasOwn(source.schema, source.eventTime)) {
    ctx.addIssue({ code: 'custom', path: ['eventTime'], message: unknownColumn(source.eventTime, source.schema) });
  } else if (!TIME_TYPES.includes(type)) {
    ctx.addIssue({
      code: 'custom',
      path: ['eventTime'],
      message: `column "${source.eventTime}" must be of type timestamp or epoch_millis`,
    });
  }
}

/** Checks that relate the transform to the source schema, the partitioning and validation. */
function checkComputation(
  spec: {
    source: { schema: Record<string, ColumnType> };
    transform: Transform;
    partitioning: Partitioning;
    validate?: { requiredColumns?: string[] };
  },
  ctx: Ctx,
): void {
  const { schema } = spec.source;
  const required = spec.validate?.requiredColumns ?? [];
  duplicates(required).forEach((i) =>
    ctx.addIssue({
      code: 'custom',
      path: ['validate', 'requiredColumns', i],
      message: `duplicate column "${required[i]}"`,
    }),
  );
  if (!isDeclarative(spec.transform)) return;
  const { window, groupBy, aggregates } = spec.transform;

  if (window) {
    const duration = parseDuration(window.tumbling)!;
    const partitionMs = PARTITION_MS[spec.partitioning];
    const problem =
      duration.ms > partitionMs
        ? `${window.tumbling} is longer than the ${spec.partitioning} partition`
        : partitionMs % duration.ms !== 0
          ? `${window.tumbling} does not divide the ${spec.partitioning} partition evenly`
          : undefined;
    if (problem) ctx.addIssue({ code: 'custom', path: ['transform', 'window', 'tumbling'], message: problem });
  }

  groupBy.forEach((column, i) => {
    if (!Object.hasOwn(schema, column)) {
      ctx.addIssue({ code: 'custom', path: ['transform', 'groupBy', i], message: unknownColumn(column, schema) });
    } else if (window && (WINDOW_COLUMNS as readonly string[]).includes(column.toLowerCase())) {
      ctx.addIssue({
        code: 'custom',
        path: ['transform', 'groupBy', i],
        message: `"${column}" clashes with the window bounds of a windowed output`,
      });
    }
  });
  duplicates(groupBy).forEach((i) =>
    ctx.addIssue({ code: 'custom', path: ['transform', 'groupBy', i], message: `duplicate column "${groupBy[i]}"` }),
  );

  const taken = new Map<string, string>(WINDOW_COLUMNS.map((c) => [c, 'is reserved for the window bounds']));
  for (const column of groupBy) taken.set(column.toLowerCase(), 'clashes with a groupBy column');
  aggregates.forEach((aggregate, i) => {
    const path = ['transform', 'aggregates', i];
    if (aggregate.fn !== 'count') {
      const type = schema[aggregate.column];
      if (!Object.hasOwn(schema, aggregate.column)) {
        ctx.addIssue({ code: 'custom', path: [...path, 'column'], message: unknownColumn(aggregate.column, schema) });
      } else if (aggregate.fn === 'sum' && !NUMERIC_TYPES.includes(type)) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'column'],
          message: `sum needs a numeric column (int, bigint, double, epoch_millis); "${aggregate.column}" is ${type}`,
        });
      }
    }
    const clash = taken.get(aggregate.as.toLowerCase());
    if (clash) ctx.addIssue({ code: 'custom', path: [...path, 'as'], message: `"${aggregate.as}" ${clash}` });
    taken.set(aggregate.as.toLowerCase(), 'is already the name of an earlier aggregate');
  });

  const outputs = declarativeOutputNames(spec.transform);
  required.forEach((column, i) => {
    if (!outputs.includes(column)) {
      ctx.addIssue({
        code: 'custom',
        path: ['validate', 'requiredColumns', i],
        message: `unknown output column "${column}" (outputs: ${outputs.join(', ')})`,
      });
    }
  });
}

/** Output column names of a declarative transform, in order. */
export function declarativeOutputNames(transform: DeclarativeTransform): string[] {
  return [...(transform.window ? WINDOW_COLUMNS : []), ...transform.groupBy, ...transform.aggregates.map((a) => a.as)];
}

function unknownColumn(column: string, schema: Record<string, ColumnType>): string {
  return `unknown column "${column}" (schema has ${Object.keys(schema).join(', ')})`;
}

/** Indexes of entries that repeat an earlier one. */
function duplicates(values: readonly string[]): number[] {
  return values.flatMap((value, i) => (values.indexOf(value) < i ? [i] : []));
}
