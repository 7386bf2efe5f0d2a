import type { Command } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parseEnv, poolTaskQueue } from '../config/env';
import { localSparkDefaults } from '../stack/install';
import { createSluiceWorker } from '../workers/worker';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run a Sluice worker in the foreground (Ctrl-C stops it gracefully)')
    .action(async () => {
      const env = parseEnv();
      Runtime.install({ logger: new DefaultLogger('WARN') });
      const { worker, connection } = await createSluiceWorker({ env, sparkDefaults: localSparkDefaults(env) });
      process.stderr.write(
        `sluice: worker polling ${env.SLUICE_TASK_QUEUE} (pipelines) and ${poolTaskQueue(env)} (pool schedulers) on ${env.TEMPORAL_ADDRESS}\n`,
      );
      try {
        await worker.run();
      } finally {
        await connection.close();
      }
    });
}
