import type { PipelineSpec } from '../lib/pipelines';
import { dailyRevenue } from './daily-revenue';
import { pageViews } from './page-views';
import { pageViewsKappa } from './page-views-kappa';
import { pageViewsLambda } from './page-views-lambda';
import { pageViewsLive } from './page-views-live';

/** Unknown pipeline name; permanent. */
export class UnknownPipeline extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownPipeline';
  }
}

/** The pipelines this deployment runs, by name. Pure: workflow code may import it. */
export const PIPELINES: Readonly<Record<string, PipelineSpec>> = registry([
  pageViews,
  dailyRevenue,
  pageViewsLive,
  pageViewsLambda,
  pageViewsKappa,
]);

/**
 * The registered pipeline called `name`.
 * @throws UnknownPipeline naming the known ones, e.g. `unknown pipeline "pageviews" (known: daily-revenue, page-views)`.
 */
export function getPipeline(name: string): PipelineSpec {
  if (Object.hasOwn(PIPELINES, name)) return PIPELINES[name];
  throw new UnknownPipeline(
    `unknown pipeline ${JSON.stringify(name)} (known: ${Object.keys(PIPELINES).sort().join(', ')})`,
  );
}

function registry(specs: PipelineSpec[]): Readonly<Record<string, PipelineSpec>> {
  const byName: Record<string, PipelineSpec> = {};
  for (const spec of specs) {
    if (Object.hasOwn(byName, spec.name)) throw new Error(`pipeline ${JSON.stringify(spec.name)} is registered twice`);
    byName[spec.name] = spec;
  }
  return Object.freeze(byName);
}
