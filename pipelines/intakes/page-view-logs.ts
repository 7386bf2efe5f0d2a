import { defineIntake } from '../../lib/intake/spec';

/**
 * Web servers' page-view logs (JSON lines, rotated as `access.log`, `access.log.1`, ...) into the
 * topic the page-views pipelines read, with the same columns as their source: an intake feeds
 * `page-views`, `page-views-live` and `page-views-lambda` instead of the demo generator. Keyed by
 * page, so one page's views stay in order. The directory is relative to the worker's working
 * directory (`data/` is the project's, ignored by git).
 */
export const pageViewLogs = defineIntake({
  name: 'page-view-logs',
  description: 'Page-view log files into the page-views topic',
  source: { kind: 'files', dir: 'data/intake/page-view-logs', pattern: 'access.log*', format: 'jsonl' },
  schema: { user: 'string', page: 'string', amount: 'bigint', ts: 'epoch_millis' },
  eventTime: 'ts',
  topic: 'page-views',
  partitions: 2,
  key: ['page'],
  intake: { pool: 'default', tenant: 'web', resources: { cpu: 0.5, memoryMb: 256 } },
});
