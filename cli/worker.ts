import type { Command } from 'commander';
import { installWorkerRuntime } from '../workers/runtime';
import { parseEnv, poolTaskQueue } from '../config/env';
import { UsageError } from './errors';
import { localSparkDefaults } from '../stack/install';
import { userWorkflowFiles, UserWorkflowsError } from '../workers/user-workflows';
import { createSluiceWorker } from '../workers/worker';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run a Sluice worker in the foreground (Ctrl-C stops it gracefully)')
    .option(
      '--workflows <paths...>',
      "users' workflow files or folders (a folder's index, else each .ts/.js file in it), run beside Sluice's workflows; they import building blocks from 'sluice/workflow'",
    )
    .action(async (opts: { workflows?: string[] }) => {
      const env = parseEnv();
      installWorkerRuntime({ forwardCoreLogs: true });
      let files: string[] = [];
      try {
        files = userWorkflowFiles(opts.workflows ?? []);
      } catch (err) {
        if (err instanceof UserWorkflowsError) throw new UsageError(err.message);
        throw err;
      }
      const { worker, connection } = await createSluiceWorker({
        env,
        sparkDefaults: localSparkDefaults(env),
        userWorkflows: files,
      });
      process.stderr.write(
        `sluice: worker polling ${env.SLUICE_TASK_QUEUE} (pipelines) and ${poolTaskQueue(env)} (pool schedulers) on ${env.TEMPORAL_ADDRESS}${files.length ? `, with the workflows of ${files.join(', ')}` : ''}\n`,
      );
      try {
        await worker.run();
      } finally {
        await connection.close();
      }
    });
}
