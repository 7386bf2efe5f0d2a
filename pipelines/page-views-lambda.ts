import { definePipeline } from '../lib/pipelines';
import { pageViewsSource } from './page-views';

/**
 * The lambda twin of `page-views` and `page-views-live` (docs/lambda.md): the same topic and a
 * computation both engines run — views and amount total per page in 15-minute windows — as a Flink
 * speed layer and as hourly Spark batch partitions, checked against each other and served as one
 * view, `lake.page-views-lambda.merged`. A partition that disagrees is recomputed once; one that
 * still disagrees is published from the batch layer and flagged. `sluice demo` runs a copy of it
 * over generated traffic.
 */
export const pageViewsLambda = definePipeline({
  name: 'page-views-lambda',
  kind: 'lambda',
  description: 'Page views and amount total per page in 15-minute windows: stream first, batch-verified',
  source: pageViewsSource,
  transform: {
    window: { tumbling: '15 minutes' },
    groupBy: ['page'],
    aggregates: [
      // The count lets the check explain a batch-minus-stream difference by the stream's late records.
      { fn: 'count', as: 'views' },
      { fn: 'sum', column: 'amount', as: 'total_amount' },
    ],
  },
  partitioning: 'hour',
  sink: { lake: true },
  batch: { pool: 'default', tenant: 'web', resources: { cpu: 1, memoryMb: 1024 } },
  stream: {
    pool: 'default',
    tenant: 'web',
    resources: { cpu: 1, memoryMb: 1024 },
    checkpointInterval: '10 seconds',
    allowedLateness: '5 seconds',
  },
  schedule: { start: '2026-12-01T00' },
  lambda: { onInconsistent: 'recompute' },
});
