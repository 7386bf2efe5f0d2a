/**
 * How Sluice's workflow code is bundled, for every worker, test and benchmark alike.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode, type BundleOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { userWebpackHook, userWorkflowFiles, writeUserEntry } from './user-workflows';

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

/**
 * Bundles Sluice's workflow code once, for every worker that runs it (workers, tests, benchmarks);
 * with `userWorkflows` (files or folders), the users' workflows too, in the same bundle.
 */
export function bundleSluiceWorkflows(userWorkflows: readonly string[] = []): Promise<WorkflowBundleWithSourceMap> {
  if (userWorkflows.length === 0) return bundleWorkflowCode({ ...sluiceBundleOptions(), logger: quietBundlerLogger });
  const entry = writeUserEntry(require.resolve('../workflows'), userWorkflowFiles(userWorkflows));
  return bundleWorkflowCode({
    ...sluiceBundleOptions(),
    workflowsPath: entry,
    webpackConfigHook: userWebpackHook(require.resolve('../workflows/sdk')),
    logger: quietBundlerLogger,
  }).finally(() => fs.rmSync(path.dirname(entry), { recursive: true, force: true }));
}
