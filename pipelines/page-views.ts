import { definePipeline, type KafkaSource, type WindowedTransform } from '../lib/pipelines';

/**
 * The page-views computation, described once: the batch pipeline below and its streaming twin
 * (`page-views-live`) both run it.
 */
export const pageViewsSource: KafkaSource = {
  kind: 'kafka',
  topic: 'page-views',
  format: 'json',
  schema: { user: 'string', page: 'string', amount: 'bigint', ts: 'epoch_millis' },
  eventTime: 'ts',
};

/** Page views, amount total and largest amount per page in 15-minute windows. */
export const pageViewsTransform: WindowedTransform = {
  window: { tumbling: '15 minutes' },
  groupBy: ['page'],
  aggregates: [
    { fn: 'count', as: 'views' },
    { fn: 'sum', column: 'amount', as: 'total_amount' },
    { fn: 'max', column: 'amount', as: 'max_amount' },
  ],
};

/**
 * Page views per page in 15-minute windows, one partition per UTC hour, from the `page-views`
 * Kafka topic (JSON values such as `{"user":"u1","page":"/home","amount":30,"ts":1795600800000}`).
 * Output columns: window_start, window_end, page, views, total_amount, max_amount.
 */
export const pageViews = definePipeline({
  name: 'page-views',
  kind: 'batch',
  description: 'Page views, amount total and largest amount per page in 15-minute windows',
  source: pageViewsSource,
  transform: pageViewsTransform,
  partitioning: 'hour',
  batch: { pool: 'default', tenant: 'web', resources: { cpu: 1, memoryMb: 1024 } },
  schedule: { start: '2026-01-01T00' },
});
