import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../../lib/search-attributes';
import { installedLayout } from '../../stack/install';
import { bundleSluiceWorkflows } from '../../workers/bundle';

/**
 * A dev server for one suite, from the stack's own `temporal` binary: the test environment never
 * tries a download of its own (nothing but the package registries is reachable). `extraArgs` go
 * to `temporal server start-dev`, e.g. `['--dynamic-config-value', 'limit.x=1']`.
 */
export function createTestEnv(extraArgs: string[] = []): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: installedLayout().temporalBin },
      searchAttributes: [...SEARCH_ATTRIBUTES],
      extraArgs,
    },
  });
}

/** Bundle the workflow code once per suite (bundling per worker is slow). */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleSluiceWorkflows();
}
