/** The page-views computation done by hand, as the tests' expected values (never from the code under test). */
import { partitionOf } from '../../lib/pipelines';

/**
 * Views and amount total per 15-minute window and page of the events in `partitions` (hourly),
 * sorted by window then page: what the batch layer of a page-views lambda pipeline must hold.
 */
export function pageViewTotals(events: { page: string; amount: number; ts: number }[], partitions: string[]) {
  const rows = new Map<
    string,
    { partition: string; window_start: number; page: string; views: number; total_amount: number }
  >();
  for (const e of events) {
    const partition = partitionOf('hour', e.ts);
    if (!partitions.includes(partition)) continue;
    const start = e.ts - (e.ts % 900_000);
    const key = `${start}|${e.page}`;
    const r = rows.get(key) ?? { partition, window_start: start, page: e.page, views: 0, total_amount: 0 };
    r.views += 1;
    r.total_amount += e.amount;
    rows.set(key, r);
  }
  return [...rows.values()].sort((a, b) => a.window_start - b.window_start || a.page.localeCompare(b.page));
}

/**
 * The page-views computation read from `topic`, as the lambda, Kappa and custom-workflow tests
 * declare it: views and amount total per page in 15-minute windows, hourly partitions.
 */
export function pageViewsComputation(topic: string) {
  return {
    source: {
      kind: 'kafka' as const,
      topic,
      format: 'json' as const,
      schema: { user: 'string', page: 'string', amount: 'bigint', ts: 'epoch_millis' } as const,
      eventTime: 'ts',
    },
    transform: {
      window: { tumbling: '15 minutes' },
      groupBy: ['page'],
      aggregates: [
        { fn: 'count' as const, as: 'views' },
        { fn: 'sum' as const, column: 'amount', as: 'total_amount' },
      ],
    },
    partitioning: 'hour' as const,
  };
}

/** Stream settings that let a test see windows fire quickly: checkpoints every 2 s, 5 s lateness, 1 s idle timeout. */
export function quickStreamSettings(pool: string) {
  return {
    pool,
    tenant: 'it',
    resources: { cpu: 1, memoryMb: 1024 },
    checkpointInterval: '2 seconds',
    allowedLateness: '5 seconds',
    idleTimeout: '1 second',
  };
}
