import { definePipeline } from '../lib/pipelines';

/**
 * Revenue per page per UTC day, read from the batch layer of `page-views` in the lake (its hourly
 * partitions of 15-minute windows). An example of the raw-SQL escape hatch: the query runs over
 * the view `events`, which holds only the windows that start within the day.
 */
export const dailyRevenue = definePipeline({
  name: 'daily-revenue',
  kind: 'batch',
  description: 'Views and revenue per page per day, with the busiest 15-minute window',
  source: {
    kind: 'lake',
    pipeline: 'page-views',
    layer: 'batch',
    schema: {
      window_start: 'timestamp',
      window_end: 'timestamp',
      page: 'string',
      views: 'bigint',
      total_amount: 'bigint',
      max_amount: 'bigint',
    },
    eventTime: 'window_start',
  },
  transform: {
    sql: `SELECT
  page,
  SUM(views) AS views,
  SUM(total_amount) AS revenue,
  MAX(views) AS peak_window_views,
  MAX_BY(window_start, views) AS peak_window_start
FROM events
GROUP BY page
ORDER BY revenue DESC, page`,
  },
  partitioning: 'day',
  batch: {
    pool: 'default',
    tenant: 'web',
    priority: -1,
    resources: { cpu: 1, memoryMb: 1024 },
    estimatedRuntimeMs: 120_000,
  },
  validate: { requiredColumns: ['page', 'views', 'revenue'] },
});
