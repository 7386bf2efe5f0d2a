import {
  InvalidPipelineSpec,
  parsePipelineSpec,
  type BatchPipelineSpecInput,
  type StreamingPipelineSpecInput,
} from '../../../lib/pipelines';
import { pageViews } from '../../../pipelines/page-views';
import { pageViewsLive } from '../../../pipelines/page-views-live';

/**
 * A valid Kafka-sourced hourly spec: the page-views example itself, a fresh copy each call,
 * without its schedule (hour partitions), so that a test may change the partitioning.
 */
export function kafkaSpec(): BatchPipelineSpecInput {
  const { schedule: _hourly, ...spec } = structuredClone(pageViews);
  return spec as BatchPipelineSpecInput;
}

/** A valid streaming spec (lake and Kafka sinks): the page-views-live example itself, a fresh copy each call. */
export function streamingSpec(): StreamingPipelineSpecInput {
  return structuredClone(pageViewsLive);
}

const LAKE_SQL_SPEC = {
  name: 'daily-pages',
  kind: 'batch',
  source: {
    kind: 'lake',
    pipeline: 'page-views',
    layer: 'batch',
    schema: { window_start: 'timestamp', page: 'string', views: 'bigint' },
    eventTime: 'window_start',
  },
  transform: { sql: '  SELECT page, SUM(views) AS views\nFROM events\nGROUP BY page\n' },
  partitioning: 'day',
  batch: { pool: 'default', tenant: 'web', resources: { cpu: 1, memoryMb: 512 } },
} satisfies BatchPipelineSpecInput;

/** A valid lake-sourced daily spec with raw SQL (pages per day over page-views), a fresh copy each call. */
export function lakeSqlSpec(): BatchPipelineSpecInput {
  return structuredClone(LAKE_SQL_SPEC);
}

/**
 * A copy of `spec` (default {@link kafkaSpec}) with fields changed, by dotted path
 * (`'transform.aggregates.1.column'`); `undefined` deletes the field.
 */
export function changed(changes: Record<string, unknown>, spec: unknown = kafkaSpec()): unknown {
  const copy = structuredClone(spec) as Record<string, unknown>;
  for (const [path, value] of Object.entries(changes)) {
    const keys = path.split('.');
    let node = copy;
    for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
    const last = keys[keys.length - 1];
    if (value === undefined) delete node[last];
    else node[last] = value;
  }
  return copy;
}

/** The `path: problem` lines parsePipelineSpec reports for `input` (which must be rejected). */
export function issuesOf(input: unknown): string[] {
  try {
    parsePipelineSpec(input);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidPipelineSpec);
    const invalid = err as InvalidPipelineSpec;
    expect(invalid.name).toBe('InvalidPipelineSpec');
    for (const issue of invalid.issues) expect(invalid.message).toContain(issue);
    return [...invalid.issues];
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}
