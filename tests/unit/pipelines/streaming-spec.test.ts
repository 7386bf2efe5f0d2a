import {
  definePipeline,
  isStreaming,
  parsePipelineSpec,
  streamDemand,
  type StreamingPipelineSpec,
  type StreamingPipelineSpecInput,
} from '../../../lib/pipelines';
import { changed, issuesOf, kafkaSpec, streamingSpec } from './helpers';

/** Only what a streaming spec requires: every default left out. */
const MINIMAL = {
  name: 'clicks-live',
  kind: 'streaming',
  source: {
    kind: 'kafka',
    topic: 'clicks',
    format: 'json',
    schema: { page: 'string', n: 'int', ts: 'epoch_millis' },
    eventTime: 'ts',
  },
  transform: { window: { tumbling: '1 minute' }, groupBy: ['page'], aggregates: [{ fn: 'count', as: 'clicks' }] },
  partitioning: 'day',
  stream: { pool: 'p', tenant: 't', resources: { cpu: 0.5, memoryMb: 512 } },
} satisfies StreamingPipelineSpecInput;

const minimal = (changes: Record<string, unknown> = {}) => changed(changes, MINIMAL);

const SYNTAX = 'expected "<n> <unit>" with unit second(s), minute(s), hour(s) or day(s)';

describe('streaming spec: valid specs', () => {
  it('fills in the defaults of sink and stream', () => {
    expect(definePipeline(MINIMAL)).toEqual({
      ...MINIMAL,
      sink: { lake: true, late: false },
      stream: {
        ...MINIMAL.stream,
        priority: 0,
        parallelism: 1,
        maxParallelism: 128,
        allowedLateness: '5 seconds',
        idleTimeout: '2 seconds',
        checkpointInterval: '10 seconds',
        savepoints: { retain: { count: 3 } },
        restart: { attempts: 3, backoff: '5 seconds' },
      },
    });
  });

  it('keeps every optional field, and defaults inside a block that is given in part', () => {
    const full = minimal({
      description: 'clicks per page per minute',
      sink: { lake: false, late: false, kafka: { topic: 'clicks-per-minute' } },
      stream: {
        pool: 'p',
        tenant: 't',
        queue: 'live',
        priority: 2,
        parallelism: 4,
        maxParallelism: 4,
        resources: { cpu: 1, memoryMb: 2048 },
        allowedLateness: '1 minute',
        idleTimeout: '30 seconds',
        checkpointInterval: '1 minute',
        savepoints: { interval: '1 hour', retain: { count: 1, maxAge: '7 days' } },
        restart: { attempts: 0, backoff: '1 second' },
      },
    });
    expect(parsePipelineSpec(full)).toEqual(full);
    const partial = parsePipelineSpec(minimal({ 'stream.savepoints': { interval: '1 hour' }, 'stream.restart': {} }));
    expect(isStreaming(partial) && partial.stream).toMatchObject({
      savepoints: { interval: '1 hour', retain: { count: 3 } },
      restart: { attempts: 3, backoff: '5 seconds' },
    });
    expect(parsePipelineSpec(minimal({ sink: { kafka: { topic: 'out' } } }))).toMatchObject({
      sink: { lake: true, kafka: { topic: 'out' } },
    });
  });

  it('round-trips through JSON: a parsed spec parses to itself', () => {
    for (const input of [MINIMAL, streamingSpec()]) {
      const spec = definePipeline(input);
      expect(parsePipelineSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
    }
  });

  it('tells streaming specs from batch ones', () => {
    expect(isStreaming(definePipeline(MINIMAL))).toBe(true);
    expect(isStreaming(definePipeline(kafkaSpec()))).toBe(false);
  });
});

describe('streamDemand', () => {
  const spec = definePipeline(MINIMAL);

  it('is parallelism × the resources of one task slot', () => {
    expect(streamDemand(spec, 1)).toEqual({ cpu: 0.5, memoryMb: 512 });
    expect(streamDemand(spec, 6)).toEqual({ cpu: 3, memoryMb: 3072 });
  });

  it('refuses a parallelism the job cannot run at', () => {
    for (const bad of [0, 1.5, 129, NaN]) {
      expect(() => streamDemand(spec, bad)).toThrow(
        `parallelism must be an integer from 1 to 128 (maxParallelism), got ${bad}`,
      );
    }
  });
});

describe('streaming spec: errors name the path', () => {
  it('reads a Kafka topic only', () => {
    const lake = { kind: 'lake', pipeline: 'page-views', layer: 'batch', schema: { ts: 'timestamp' }, eventTime: 'ts' };
    expect(issuesOf(minimal({ source: lake }))).toEqual([
      'source.kind: a streaming pipeline reads a Kafka topic (lake sources are for batch pipelines)',
    ]);
    expect(issuesOf(minimal({ 'source.kind': 's3' }))).toEqual([
      'source.kind: unknown source kind "s3"; expected kafka | lake',
    ]);
    expect(issuesOf(minimal({ 'source.topic': 'a b' }))).toEqual([
      'source.topic: expected a Kafka topic name (letters, digits, ".", "_", "-"), got "a b"',
    ]);
    expect(issuesOf(minimal({ source: undefined }))).toEqual(['source: required']);
  });

  it('needs the declarative form with a window', () => {
    expect(issuesOf(minimal({ transform: { sql: 'SELECT page FROM events' } }))).toEqual([
      'transform.sql: a streaming pipeline needs the declarative form (window, groupBy, aggregates): it is compiled to Flink SQL',
    ]);
    expect(issuesOf(minimal({ 'transform.window': undefined }))).toEqual([
      'transform.window: required: a streaming pipeline aggregates in tumbling event-time windows',
    ]);
    expect(issuesOf(minimal({ 'transform.window.tumbling': '1 week' }))).toEqual([
      `transform.window.tumbling: ${SYNTAX}, got "1 week"`,
    ]);
    expect(issuesOf(minimal({ transform: undefined }))).toEqual(['transform: required']);
  });

  it('runs the cross-field checks of batch specs', () => {
    expect(issuesOf(minimal({ 'transform.groupBy': ['pag'] }))).toEqual([
      'transform.groupBy[0]: unknown column "pag" (schema has page, n, ts)',
    ]);
    expect(issuesOf(minimal({ 'transform.aggregates': [{ fn: 'sum', column: 'page', as: 's' }] }))).toEqual([
      'transform.aggregates[0].column: sum needs a numeric column (int, bigint, double, epoch_millis); "page" is string',
    ]);
    expect(issuesOf(minimal({ 'transform.aggregates.0.as': 'page' }))).toEqual([
      'transform.aggregates[0].as: "page" clashes with a groupBy column',
    ]);
    expect(issuesOf(minimal({ 'transform.window.tumbling': '7 hours' }))).toEqual([
      'transform.window.tumbling: 7 hours does not divide the day partition evenly',
    ]);
    expect(issuesOf(minimal({ 'source.schema.ts': 'string' }))).toEqual([
      'source.eventTime: column "ts" must be of type timestamp or epoch_millis',
    ]);
    expect(issuesOf(minimal({ partitioning: undefined }))).toEqual(['partitioning: required']);
  });

  it('keeps the columns that Flink and the stream table add free', () => {
    expect(issuesOf(minimal({ 'source.schema.window_time': 'timestamp' }))).toEqual([
      'source.schema.window_time: column name "window_time" is reserved (Flink\'s TUMBLE adds window_start, window_end, window_time)',
    ]);
    expect(issuesOf(minimal({ 'transform.aggregates.0.as': 'Watermark' }))).toEqual([
      'transform.aggregates[0].as: "Watermark" is reserved in a streaming pipeline\'s output (columns partition and watermark)',
    ]);
    expect(issuesOf(minimal({ 'source.schema.partition': 'string', 'transform.groupBy': ['partition'] }))).toEqual([
      'transform.groupBy[0]: "partition" is reserved in a streaming pipeline\'s output (columns partition and watermark)',
    ]);
  });

  it('needs a sink, and not the source topic', () => {
    expect(issuesOf(minimal({ sink: { lake: false } }))).toEqual(['sink: declare at least one sink (lake or kafka)']);
    expect(issuesOf(minimal({ sink: { kafka: { topic: 'clicks' } } }))).toEqual([
      'sink.kafka.topic: "clicks" is the source topic: a pipeline cannot write its windows to the topic it reads',
    ]);
    expect(issuesOf(minimal({ sink: { kafka: { topic: '' } } }))).toEqual([
      'sink.kafka.topic: expected a Kafka topic name (letters, digits, ".", "_", "-"), got ""',
    ]);
    expect(issuesOf(minimal({ sink: { kafka: {} } }))).toEqual(['sink.kafka.topic: required']);
    expect(issuesOf(minimal({ sink: { lake: 'yes' } }))).toEqual(['sink.lake: expected true or false']);
  });

  it('checks parallelism against maxParallelism, so that every rescale target fits the key groups', () => {
    expect(() => definePipeline(minimal({ 'stream.parallelism': 9, 'stream.maxParallelism': 8 }) as never)).toThrow(
      /stream\.parallelism: parallelism 9 is above maxParallelism 8 \(the job's key groups: no rescale can go wider\)/,
    );
    expect(issuesOf(minimal({ 'stream.parallelism': 129 }))).toEqual([
      "stream.parallelism: parallelism 129 is above maxParallelism 128 (the job's key groups: no rescale can go wider)",
    ]);
    expect(() =>
      definePipeline(minimal({ 'stream.parallelism': 8, 'stream.maxParallelism': 8 }) as never),
    ).not.toThrow();
    for (const bad of [0, 1.5, '2']) {
      expect(issuesOf(minimal({ 'stream.parallelism': bad }))).toEqual([
        'stream.parallelism: expected an integer >= 1',
      ]);
    }
    for (const bad of [0, 32_769, 2.5]) {
      expect(issuesOf(minimal({ 'stream.maxParallelism': bad }))).toEqual([
        'stream.maxParallelism: expected an integer from 1 to 32768',
      ]);
    }
    expect(() => definePipeline(minimal({ 'stream.maxParallelism': 32_768 }) as never)).not.toThrow();
  });

  it('checks the admission and resource fields as batch does', () => {
    expect(issuesOf(minimal({ stream: undefined }))).toEqual(['stream: required']);
    expect(issuesOf(minimal({ 'stream.pool': '' }))).toEqual(['stream.pool: expected a non-empty string']);
    expect(issuesOf(minimal({ 'stream.tenant': undefined }))).toEqual(['stream.tenant: required']);
    expect(issuesOf(minimal({ 'stream.queue': '' }))).toEqual(['stream.queue: expected a non-empty string']);
    expect(issuesOf(minimal({ 'stream.priority': NaN }))).toEqual(['stream.priority: expected a number']);
    expect(issuesOf(minimal({ 'stream.resources.cpu': 0 }))).toEqual([
      'stream.resources.cpu: expected a positive number',
    ]);
    expect(issuesOf(minimal({ 'stream.resources.memoryMb': 1.5 }))).toEqual([
      'stream.resources.memoryMb: expected a positive integer',
    ]);
    expect(issuesOf(minimal({ 'stream.resources': undefined }))).toEqual(['stream.resources: required']);
  });

  it('checks every duration with the window syntax', () => {
    for (const path of [
      'stream.allowedLateness',
      'stream.idleTimeout',
      'stream.checkpointInterval',
      'stream.savepoints.interval',
      'stream.savepoints.retain.maxAge',
      'stream.restart.backoff',
    ]) {
      for (const bad of ['5s', '0 seconds', '1 week', 5]) {
        const input = minimal({ 'stream.savepoints': { retain: {} }, 'stream.restart': {}, [path]: bad });
        expect(issuesOf(input)).toEqual([`${path}: ${SYNTAX}${typeof bad === 'string' ? `, got "${bad}"` : ''}`]);
      }
    }
  });

  it('checks savepoint retention and restart attempts', () => {
    expect(issuesOf(minimal({ 'stream.savepoints': { retain: { count: 0 } } }))).toEqual([
      'stream.savepoints.retain.count: expected an integer >= 1',
    ]);
    expect(issuesOf(minimal({ 'stream.restart': { attempts: -1 } }))).toEqual([
      'stream.restart.attempts: expected an integer >= 0',
    ]);
  });

  it('is strict: unknown fields are rejected by name at every level', () => {
    expect(issuesOf(minimal({ batch: kafkaSpec().batch }))).toEqual(['(root): Unrecognized key: "batch"']);
    expect(issuesOf(minimal({ validate: { minRows: 1 } }))).toEqual(['(root): Unrecognized key: "validate"']);
    expect(issuesOf(minimal({ 'stream.slots': 2 }))).toEqual(['stream: Unrecognized key: "slots"']);
    expect(issuesOf(minimal({ sink: { s3: true } }))).toEqual(['sink: Unrecognized key: "s3"']);
    expect(issuesOf(minimal({ sink: { kafka: { topic: 'out', key: 'page' } } }))).toEqual([
      'sink.kafka: Unrecognized key: "key"',
    ]);
    expect(issuesOf(minimal({ 'stream.savepoints': { retain: { count: 1, size: 2 } } }))).toEqual([
      'stream.savepoints.retain: Unrecognized key: "size"',
    ]);
    expect(issuesOf(minimal({ 'stream.restart': { attempts: 1, jitter: true } }))).toEqual([
      'stream.restart: Unrecognized key: "jitter"',
    ]);
  });

  it('lists every problem at once', () => {
    const input = minimal({ 'stream.parallelism': 0, sink: { lake: false }, 'transform.groupBy': ['nope'] });
    expect(issuesOf(input)).toEqual([
      'sink: declare at least one sink (lake or kafka)',
      'stream.parallelism: expected an integer >= 1',
      'transform.groupBy[0]: unknown column "nope" (schema has page, n, ts)',
    ]);
  });

  it('is typed by its kind', () => {
    const spec: StreamingPipelineSpec = definePipeline(MINIMAL);
    expect(spec.stream.maxParallelism).toBe(128);
  });
});
