import { InvalidPipelineSpec, parsePipelineSpec, type PipelineSpecInput } from '../../../lib/pipelines';

const KAFKA_SPEC = {
  name: 'page-views',
  kind: 'batch',
  source: {
    kind: 'kafka',
    topic: 'page-views',
    format: 'json',
    schema: { user: 'string', page: 'string', amount: 'bigint', ts: 'epoch_millis' },
    eventTime: 'ts',
  },
  transform: {
    window: { tumbling: '15 minutes' },
    groupBy: ['page'],
    aggregates: [
      { fn: 'count', as: 'views' },
      { fn: 'sum', column: 'amount', as: 'total_amount' },
      { fn: 'max', column: 'amount', as: 'max_amount' },
    ],
  },
  partitioning: 'hour',
  batch: { pool: 'default', tenant: 'web', resources: { cpu: 1, memoryMb: 1024 } },
} satisfies PipelineSpecInput;

/** A valid Kafka-sourced hourly spec (the page-views example), a fresh copy each call. */
export function kafkaSpec(): PipelineSpecInput {
  return structuredClone(KAFKA_SPEC);
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
