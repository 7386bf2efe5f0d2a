import {
  batchOutputColumns,
  compileBatch,
  compileStreaming,
  declarativeOutputNames,
  parsePipelineSpec,
  sparkType,
} from '../../../lib/pipelines';
import { getPipeline, PIPELINES } from '../../../pipelines';
import { dailyRevenue } from '../../../pipelines/daily-revenue';
import { pageViews } from '../../../pipelines/page-views';
import { pageViewsLambda } from '../../../pipelines/page-views-lambda';
import { pageViewsLive } from '../../../pipelines/page-views-live';
import { lambdaKeys, lambdaLayers } from '../../../lib/pipelines/lambda';

describe('example pipelines', () => {
  it('are registered under their names and pass validation (also as JSON)', () => {
    expect(Object.keys(PIPELINES).sort()).toEqual([
      'daily-revenue',
      'page-views',
      'page-views-kappa',
      'page-views-lambda',
      'page-views-live',
    ]);
    for (const [name, spec] of Object.entries(PIPELINES)) {
      expect(spec.name).toBe(name);
      expect(parsePipelineSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
    }
  });

  it('page-views is the hourly Kafka pipeline of the brief', () => {
    expect(pageViews).toMatchObject({
      kind: 'batch',
      partitioning: 'hour',
      source: { kind: 'kafka', topic: 'page-views', eventTime: 'ts' },
      transform: { window: { tumbling: '15 minutes' }, groupBy: ['page'] },
      batch: { pool: 'default', priority: 0, preemptible: false },
    });
    expect(batchOutputColumns(pageViews)?.map((c) => c.name)).toEqual([
      'window_start',
      'window_end',
      'page',
      'views',
      'total_amount',
      'max_amount',
    ]);
  });

  it('page-views-live is the streaming twin of page-views: same topic, same computation', () => {
    expect(pageViewsLive.kind).toBe('streaming');
    expect(pageViewsLive.source).toEqual(pageViews.source);
    expect(pageViewsLive.transform).toEqual(pageViews.transform);
    expect(pageViewsLive.partitioning).toBe(pageViews.partitioning);
    expect(pageViewsLive.sink).toEqual({ lake: true, late: false, kafka: { topic: 'page-views-live-totals' } });
    expect(pageViewsLive.stream).toMatchObject({ pool: 'default', parallelism: 1, maxParallelism: 8 });
    // The stream table holds the batch output's columns, between its partition and watermark.
    const columns = compileStreaming(pageViewsLive).columns.map((c) => c.name);
    expect(columns).toEqual(['partition', ...declarativeOutputNames(pageViewsLive.transform), 'watermark']);
    expect(columns.slice(1, -1)).toEqual(batchOutputColumns(pageViews)?.map((c) => c.name));
  });

  it('page-views-lambda runs the page-views source on both engines and reads the same topic', () => {
    expect(pageViewsLambda.kind).toBe('lambda');
    expect(pageViewsLambda.source).toEqual(pageViews.source);
    const { stream, batch } = lambdaLayers(pageViewsLambda);
    expect(stream.transform).toEqual(batch.transform);
    expect(stream.sink).toEqual({ lake: true, late: true });
    // The check matches windows and pages, and explains late records by the view count.
    expect(lambdaKeys(pageViewsLambda)).toEqual(['window_start', 'page']);
    expect(pageViewsLambda.transform.aggregates[0]).toEqual({ fn: 'count', as: 'views' });
  });

  it('every lake source reads a registered pipeline, with the schema that pipeline writes', () => {
    const lakeSourced = Object.values(PIPELINES).filter((spec) => spec.source.kind === 'lake');
    expect(lakeSourced.map((s) => s.name)).toEqual(['daily-revenue']);
    for (const spec of lakeSourced) {
      if (spec.source.kind !== 'lake') continue;
      const upstream = getPipeline(spec.source.pipeline);
      const written = batchOutputColumns(upstream)!.map((c) => `${c.name} ${c.type}`);
      const read = Object.entries(spec.source.schema).map(([name, type]) => `${name} ${sparkType(type)}`);
      expect(read).toEqual(written);
    }
  });

  it('daily-revenue compiles for a day over page-views partitions', () => {
    const step = compileBatch(dailyRevenue, '2026-11-25', { partitionPrefix: '2026-11-25' });
    expect(step.sources).toEqual([
      { view: 'raw_events', format: 'iceberg', table: 'lake.`page-views`.batch', partitionPrefix: '2026-11-25' },
    ]);
    expect(step.sql).toContain("WHERE `event_time` >= TIMESTAMP '2026-11-25T00:00:00Z'");
    expect(step.sql).toContain("AND `event_time` < TIMESTAMP '2026-11-26T00:00:00Z'");
    expect('sql' in dailyRevenue.transform && step.sql.endsWith(`)\n${dailyRevenue.transform.sql}`)).toBe(true);
    expect(step.outputColumns).toBeUndefined();
  });
});

describe('getPipeline', () => {
  it('returns a registered pipeline', () => {
    expect(getPipeline('page-views')).toBe(pageViews);
    expect(getPipeline('daily-revenue')).toBe(dailyRevenue);
  });

  it('names the known pipelines for an unknown name, including inherited property names', () => {
    expect(() => getPipeline('pageviews')).toThrow(
      'unknown pipeline "pageviews" (known: daily-revenue, page-views, page-views-kappa, page-views-lambda, page-views-live)',
    );
    expect(() => getPipeline('constructor')).toThrow(
      'unknown pipeline "constructor" (known: daily-revenue, page-views, page-views-kappa, page-views-lambda, page-views-live)',
    );
    try {
      getPipeline('x');
    } catch (err) {
      expect((err as Error).name).toBe('UnknownPipeline');
    }
    expect.assertions(3);
  });
});
