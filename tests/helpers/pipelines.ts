/**
 * Example pipelines as tests run them: the very specs of pipelines/, renamed and pointed at a
 * test's own topic and pool, so every test exercises the code users run, not a copy of it.
 */
import { definePipeline, type PipelineSpec } from '../../lib/pipelines';
import { pageViews } from '../../pipelines/page-views';

export interface PageViewsFor {
  name: string;
  topic: string;
  pool: string;
  /** Top-level fields to replace (e.g. `transform` with raw SQL, `batch` settings). */
  override?: Record<string, unknown>;
}

/** The page-views example on another topic and pool, under another name. */
export function pageViewsFor({ name, topic, pool, override = {} }: PageViewsFor): PipelineSpec {
  return definePipeline({
    ...pageViews,
    name,
    source: { ...pageViews.source, topic },
    batch: { ...pageViews.batch, pool, tenant: 'it' },
    ...override,
  } as never);
}
