import * as path from 'node:path';
import { env } from '../config/env';
import { PROJECT_ROOT } from '../lib/project-root';

export interface StackPaths {
  /** Engine installs; git-ignored, reused across runs. @default <root>/.cache/sluice (SLUICE_CACHE_DIR) */
  cache: string;
  /** Everything the running stack writes. @default <root>/data/stack (SLUICE_STACK_DIR) */
  data: string;
  /** One log file per service. */
  logs: string;
  /** PID files of the processes `stack up` started. */
  run: string;
}

export function stackPaths(): StackPaths {
  const e = env();
  const cache = path.resolve(e.SLUICE_CACHE_DIR ?? path.join(PROJECT_ROOT, '.cache', 'sluice'));
  const data = path.resolve(e.SLUICE_STACK_DIR ?? path.join(PROJECT_ROOT, 'data', 'stack'));
  return { cache, data, logs: path.join(data, 'logs'), run: path.join(data, 'run') };
}
