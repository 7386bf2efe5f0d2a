import { definePipeline } from '../lib/pipelines';
import { pageViewsSource, pageViewsTransform } from './page-views';

/**
 * The streaming twin of `page-views` (same topic, same computation: views, amount total and
 * largest amount per page in 15-minute windows), as one Flink job. A window is committed once the
 * watermark (event time minus 5 seconds) has passed its end, on the next checkpoint (every 10
 * seconds), to the Iceberg table `lake.page-views-live.stream` (partitioned by UTC hour) and to
 * the topic `page-views-live-totals`. Output columns: partition, window_start, window_end, page,
 * views, total_amount, max_amount, watermark.
 */
export const pageViewsLive = definePipeline({
  name: 'page-views-live',
  kind: 'streaming',
  description: 'Page views, amount total and largest amount per page in 15-minute windows, live',
  source: pageViewsSource,
  transform: pageViewsTransform,
  partitioning: 'hour',
  sink: { lake: true, kafka: { topic: 'page-views-live-totals' } },
  stream: {
    pool: 'default',
    tenant: 'web',
    parallelism: 1,
    maxParallelism: 8,
    resources: { cpu: 1, memoryMb: 1024 },
    checkpointInterval: '10 seconds',
    allowedLateness: '5 seconds',
  },
});
