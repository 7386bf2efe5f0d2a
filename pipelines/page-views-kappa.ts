import { definePipeline } from '../lib/pipelines';
import { pageViewsSource } from './page-views';
import { pageViewsLambda } from './page-views-lambda';

/**
 * The Kappa twin of `page-views-lambda` (docs/kappa.md): the same computation, served by the
 * stream alone from `lake.page-views-kappa.merged`. `sluice reprocess page-views-kappa` replays
 * the topic as a new generation (optionally with a changed `--transform`), diffs it against the
 * serving one and switches the view only when the diff passes; the replaced generation is kept a
 * day for `sluice reprocess page-views-kappa --rollback`.
 */
export const pageViewsKappa = definePipeline({
  name: 'page-views-kappa',
  kind: 'kappa',
  description: 'Page views and amount total per page in 15-minute windows, reprocessable by replay',
  source: pageViewsSource,
  transform: pageViewsLambda.transform,
  partitioning: 'hour',
  stream: pageViewsLambda.stream,
  kappa: { retainOld: '1 day' },
  schedule: { start: '2026-12-01T00' },
});
