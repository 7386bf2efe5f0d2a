/**
 * The Sluice worker process: `node dist/workers/main.js` (or `npm run worker`). Configuration
 * comes from environment variables (config/env.ts); SIGINT/SIGTERM shut it down gracefully.
 */
import { ConfigError, parseEnv, poolTaskQueue } from '../config/env';
import { createSluiceWorker } from './worker';

async function main(): Promise<void> {
  const env = parseEnv();
  const { worker, connection } = await createSluiceWorker({ env });
  process.stderr.write(
    `sluice worker: polling task queues ${env.SLUICE_TASK_QUEUE} (pipelines) and ${poolTaskQueue(env)} (pool schedulers) on ${env.TEMPORAL_ADDRESS} (namespace ${env.TEMPORAL_NAMESPACE})\n`,
  );
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `sluice worker: ${err instanceof ConfigError ? err.message : ((err as Error).stack ?? String(err))}\n`,
  );
  process.exit(1);
});
