/**
 * Lambda specs: validation with named paths, the two layers they run as, the columns they are
 * matched and served on, when a partition closes and how far the high-water mark goes, and the
 * SQL of the view's commits.
 */
import { nextProvenance } from '../../../activities/lambda';
import { viewCommitPlan, viewCondition, viewQuery } from '../../../lib/lambda-view';
import {
  compileStreaming,
  definePipeline,
  InvalidPipelineSpec,
  parsePipelineSpec,
  partitionBounds,
  type LambdaPipelineSpecInput,
} from '../../../lib/pipelines';
import {
  highWaterMark,
  isClosed,
  lambdaKeys,
  lambdaLayers,
  mergedColumns,
  nextPartition,
} from '../../../lib/pipelines/lambda';

const SPEC = {
  name: 'clicks',
  kind: 'lambda',
  source: {
    kind: 'kafka',
    topic: 'clicks',
    format: 'json',
    schema: { page: 'string', amount: 'double', ts: 'epoch_millis' },
    eventTime: 'ts',
  },
  transform: {
    window: { tumbling: '15 minutes' },
    groupBy: ['page'],
    aggregates: [
      { fn: 'count', as: 'views' },
      { fn: 'sum', column: 'amount', as: 'total' },
    ],
  },
  partitioning: 'hour',
  sink: { lake: true },
  batch: { pool: 'p', tenant: 't', resources: { cpu: 1, memoryMb: 512 } },
  stream: { pool: 'p', tenant: 't', resources: { cpu: 1, memoryMb: 512 } },
  schedule: { start: '2026-01-01T00' },
} satisfies LambdaPipelineSpecInput;

const issuesOf = (input: unknown) => {
  try {
    parsePipelineSpec(input);
    return [];
  } catch (err) {
    return (err as InvalidPipelineSpec).issues;
  }
};

describe('lambda spec', () => {
  it('fills in the lambda settings', () => {
    const spec = definePipeline(SPEC);
    expect(spec.lambda).toEqual({
      onInconsistent: 'recompute',
      tolerances: [],
      maxConcurrentBatches: 2,
      localCheckMaxRows: 2_000_000,
      retainSnapshots: '7 days',
    });
  });

  it('names the field and the problem', () => {
    expect(issuesOf({ ...SPEC, schedule: undefined })).toEqual(['schedule: required']);
    expect(issuesOf({ ...SPEC, sink: { lake: false, kafka: { topic: 'out' } } })).toEqual([
      'sink.lake: a lambda pipeline needs the lake sink: the consistency check and the merged view read the stream layer',
    ]);
    expect(issuesOf({ ...SPEC, lambda: { onInconsistent: 'ignore' } })).toEqual([
      'lambda.onInconsistent: expected "alert" | "recompute", got "ignore"',
    ]);
    expect(issuesOf({ ...SPEC, lambda: { tolerances: [{ column: 'nope', kind: 'abs', value: 1 }] } })).toEqual([
      'lambda.tolerances[0].column: unknown value column "nope" (aggregates: views, total)',
    ]);
    expect(issuesOf({ ...SPEC, lambda: { tolerances: [{ column: 'total', kind: 'abs', value: -1 }] } })).toEqual([
      'lambda.tolerances[0].value: expected a finite number >= 0',
    ]);
    expect(issuesOf({ ...SPEC, lambda: { tolerances: [{ column: 'total', kind: 'within', value: 1 }] } })).toEqual([
      'lambda.tolerances[0].kind: expected abs or rel',
    ]);
    expect(issuesOf({ ...SPEC, schedule: { start: '2026-01-01' } })).toEqual([
      'schedule.start: "2026-01-01" is not a hour partition (YYYY-MM-DDTHH)',
    ]);
  });

  it('runs as a streaming spec that records late records and a batch spec over the same computation', () => {
    const { stream, batch } = lambdaLayers(definePipeline(SPEC));
    expect(stream).toMatchObject({ kind: 'streaming', name: 'clicks', sink: { lake: true, late: true } });
    expect(batch).toMatchObject({ kind: 'batch', name: 'clicks', schedule: { start: '2026-01-01T00' } });
    expect(stream.transform).toEqual(batch.transform);
    expect(stream.source).toEqual(batch.source);
    // The stream job writes the late records it drops to lake.clicks.late, in the same statement set.
    const compiled = compileStreaming(stream);
    expect(compiled.lateTable).toEqual({ catalog: 'lake', database: 'clicks', table: 'late' });
    expect(compiled.insert).toMatch(/^STATEMENT SET BEGIN\n/);
    expect(compiled.insert).toContain('INSERT INTO `lake`.`clicks`.`late`');
    // 15-minute windows: the last millisecond of a record's window, against the watermark.
    expect(compiled.insert).toContain(
      'WHERE TO_TIMESTAMP_LTZ(`ts` - MOD(`ts`, 900000) + 899999, 3) <= CURRENT_WATERMARK(`event_time`)',
    );
  });

  it('matches rows on the window start and the group-by columns, and serves the batch columns', () => {
    const spec = definePipeline(SPEC);
    expect(lambdaKeys(spec)).toEqual(['window_start', 'page']);
    expect(mergedColumns(spec).map((c) => `${c.name} ${c.type}`)).toEqual([
      'partition STRING',
      'window_start TIMESTAMP',
      'window_end TIMESTAMP',
      'page STRING',
      'views BIGINT',
      'total DOUBLE',
    ]);
  });
});

describe('partitions of a lambda pipeline', () => {
  const spec = definePipeline({ ...SPEC, schedule: { start: '2026-01-01T00', end: '2026-01-01T02' } });
  const end = (p: string) => partitionBounds('hour', p).end;

  it('close once the committed watermark reaches their end', () => {
    expect(isClosed('hour', '2026-01-01T00', undefined)).toBe(false);
    expect(isClosed('hour', '2026-01-01T00', end('2026-01-01T00') - 1)).toBe(false);
    expect(isClosed('hour', '2026-01-01T00', end('2026-01-01T00'))).toBe(true);
    expect(nextPartition('hour', '2026-01-01T23')).toBe('2026-01-02T00');
    expect(nextPartition('day', '2026-12-31')).toBe('2027-01-01');
  });

  it('publish up to a contiguous high-water mark: a hole stops it, the schedule end bounds it', () => {
    expect(highWaterMark(spec, new Set())).toBeUndefined();
    expect(highWaterMark(spec, new Set(['2026-01-01T01']))).toBeUndefined(); // the start is not published
    expect(highWaterMark(spec, new Set(['2026-01-01T00', '2026-01-01T02']))).toBe('2026-01-01T00');
    expect(highWaterMark(spec, new Set(['2026-01-01T00', '2026-01-01T01', '2026-01-01T02', '2026-01-01T03']))).toBe(
      '2026-01-01T02',
    );
  });
});

describe('commits of the view', () => {
  const columns = mergedColumns(definePipeline(SPEC));

  it('copy exactly a batch partition, or the stream partitions after the mark, at a pinned snapshot', () => {
    expect(viewCondition({ layer: 'batch', source: 's', snapshotId: '1', partition: '2026-01-01T00' })).toBe(
      "`partition` = '2026-01-01T00'",
    );
    expect(
      viewCondition({ layer: 'stream', source: 's', snapshotId: '1', after: '2026-01-01T00', from: '2025-12-31T23' }),
    ).toBe("`partition` > '2026-01-01T00' AND `partition` >= '2025-12-31T23'");
    expect(viewCondition({ layer: 'stream', source: 's', snapshotId: '1' })).toBe('true');
    expect(viewQuery({ layer: 'stream', source: 'lake.`clicks`.stream', snapshotId: '42' }, columns)).toBe(
      'SELECT CAST(`partition` AS STRING) AS `partition`, CAST(`window_start` AS TIMESTAMP) AS `window_start`, ' +
        'CAST(`window_end` AS TIMESTAMP) AS `window_end`, CAST(`page` AS STRING) AS `page`, ' +
        'CAST(`views` AS BIGINT) AS `views`, CAST(`total` AS DOUBLE) AS `total` ' +
        'FROM lake.`clicks`.stream VERSION AS OF 42 WHERE true',
    );
  });

  it('record the step and the provenance in the snapshot summary', () => {
    const plan = viewCommitPlan({
      stepName: 'lambda/clicks#run#view#3',
      table: 'lake.`clicks`.merged',
      columns,
      write: { layer: 'batch', source: 'lake.`clicks`.batch', snapshotId: '7', partition: '2026-01-01T00' },
      provenance: { highWaterMark: '2026-01-01T00', partitions: {} },
    });
    expect(plan.options).toEqual({
      'snapshot-property.sluice.step': 'lambda/clicks#run#view#3',
      'snapshot-property.sluice.view': '{"highWaterMark":"2026-01-01T00","partitions":{}}',
    });
    expect(plan.overwrite).toBe("`partition` = '2026-01-01T00'");
    expect(plan.setup.at(-1)).toMatch(/^CREATE TABLE IF NOT EXISTS lake.`clicks`.merged \(`partition` STRING, /);
  });

  it('replace the provenance of what they cover and keep the rest', () => {
    const before = {
      highWaterMark: '2026-01-01T00',
      streamSnapshot: 's1',
      partitions: {
        '2026-01-01T00': {
          layer: 'batch' as const,
          rows: 3,
          checksum: '9',
          sourceSnapshot: 'b1',
          check: 'consistent' as const,
        },
        '2026-01-01T01': { layer: 'stream' as const, rows: 2, checksum: '8', sourceSnapshot: 's1' },
        '2026-01-01T02': { layer: 'stream' as const, rows: 1, checksum: '7', sourceSnapshot: 's1' },
      },
    };
    // A refresh after the mark: 01 now has 4 rows in the stream, 02 none.
    const refreshed = nextProvenance(
      { provenance: before },
      { layer: 'stream', source: 'x', snapshotId: 's2', after: '2026-01-01T00' },
      [{ p: '2026-01-01T01', n: 4, checksum: '11' }],
    );
    // The high-water mark stays where it was: a refresh does not move it.
    expect(refreshed).toEqual({
      highWaterMark: '2026-01-01T00',
      streamSnapshot: 's2',
      partitions: {
        '2026-01-01T00': before.partitions['2026-01-01T00'],
        '2026-01-01T01': { layer: 'stream', rows: 4, checksum: '11', sourceSnapshot: 's2' },
      },
    });
    // Publishing 01 from the batch layer, found empty: served by the batch layer with 0 rows.
    const published = nextProvenance(
      { provenance: refreshed, highWaterMark: '2026-01-01T01', published: { check: 'consistent' } },
      { layer: 'batch', source: 'x', snapshotId: 'b2', partition: '2026-01-01T01' },
      [],
    );
    expect(published.highWaterMark).toBe('2026-01-01T01');
    expect(published.partitions['2026-01-01T01']).toEqual({
      layer: 'batch',
      rows: 0,
      checksum: '0',
      sourceSnapshot: 'b2',
      check: 'consistent',
    });
  });
});
