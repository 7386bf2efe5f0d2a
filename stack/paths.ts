import * as path from 'node:path';

/** The project root: this file compiles to dist/stack/paths.js, and runs as stack/paths.ts under jest. */
export const PROJECT_ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');

export interface StackPaths {
  /** Engine installs; git-ignored, reused across runs. @default <root>/.cache/sluice */
  cache: string;
  /** Everything the running stack writes. @default <root>/data/stack */
  data: string;
  /** One log file per service. */
  logs: string;
  /** PID files of the processes `stack up` started. */
  run: string;
}

export function stackPaths(env: NodeJS.ProcessEnv = process.env): StackPaths {
  const cache = path.resolve(env.SLUICE_CACHE_DIR ?? path.join(PROJECT_ROOT, '.cache', 'sluice'));
  const data = path.resolve(env.SLUICE_STACK_DIR ?? path.join(PROJECT_ROOT, 'data', 'stack'));
  return { cache, data, logs: path.join(data, 'logs'), run: path.join(data, 'run') };
}
