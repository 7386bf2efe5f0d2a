/**
 * How Sluice's workflow code is bundled, for every worker, test and benchmark alike.
 */
import { bundleWorkflowCode, type BundleOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/**
 * Modules evaluated once per worker thread and shared by all workflow runs (with
 * `reuseV8Context`); every other module of the bundle is evaluated again for each new run.
 * Only stateless modules belong here (see `lib/zod-shared.ts`).
 */
export function preloadModules(): string[] {
  return [require.resolve('../lib/zod-shared')];
}

/** The bundler options of Sluice's workflow bundle: `workflowsPath` plus the preloaded modules. */
export function sluiceBundleOptions(): Pick<BundleOptions, 'workflowsPath' | 'preloadModules'> {
  return { workflowsPath: require.resolve('../workflows'), preloadModules: preloadModules() };
}

const noop = () => undefined;
/** The bundler reports its progress at INFO; only its errors matter to Sluice's callers. */
export const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };

/** Bundles Sluice's workflow code once, for every worker that runs it (workers, tests, benchmarks). */
export function bundleSluiceWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ ...sluiceBundleOptions(), logger: quietBundlerLogger });
}
