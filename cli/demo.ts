import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { parseEnv } from '../config/env';
import { SluiceKind, SluicePipeline } from '../lib/search-attributes';
import { localSparkDefaults } from '../stack/install';
import { stackUp } from '../stack/stack';
import { URLS } from '../stack/services';
import { connectionOptions } from '../workers/connection';
import { createSluiceWorker } from '../workers/worker';
import { helloPipelineWorkflow } from '../workflows';
import { parsePositiveInt } from './stack';

const say = (msg: string) => process.stderr.write(`sluice: ${msg}\n`);

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('bring the local stack up and run the hello pipeline through every engine')
    .option('--events <n>', 'demo events to produce', parsePositiveInt, 500)
    .action(async (opts: { events: number }) => {
      const env = parseEnv();
      // The SDK's INFO lines (worker state changes) would bury the demo's own output.
      Runtime.install({ logger: new DefaultLogger('WARN') });
      await stackUp({ say });
      const runId = `demo-${Date.now().toString(36)}`;
      const workflowId = `hello/${runId}`;
      say(`starting a worker on task queue ${env.SLUICE_TASK_QUEUE}`);
      const { worker, connection: workerConnection } = await createSluiceWorker({
        env,
        sparkDefaults: localSparkDefaults(env),
      });
      const connection = await Connection.connect(connectionOptions(env));
      try {
        const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
        say(
          `running ${workflowId}: watch it at ${URLS.temporalUi}/namespaces/${env.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(workflowId)}`,
        );
        const result = await worker.runUntil(
          client.workflow.execute(helloPipelineWorkflow, {
            taskQueue: env.SLUICE_TASK_QUEUE,
            workflowId,
            args: [{ runId, events: opts.events }],
            typedSearchAttributes: [
              { key: SluicePipeline, value: 'hello' },
              { key: SluiceKind, value: 'demo' },
            ],
            staticSummary: `hello pipeline: ${opts.events} events through Kafka, Spark and Flink`,
          }),
        );
        const table = new Table({
          head: ['user', 'batch events', 'batch total', 'stream events', 'stream total'],
          ...plain(),
        });
        for (const [i, b] of result.batch.rows.entries()) {
          const s = result.stream.rows[i];
          table.push([b.user, b.events, b.total, s?.events ?? '-', s?.total ?? '-']);
        }
        process.stdout.write(`${table.toString()}\n`);
        process.stdout.write(
          [
            `Kafka topic:  ${result.topic} offsets ${JSON.stringify(result.offsets.from)}..${JSON.stringify(result.offsets.to)}`,
            `Spark app:    ${result.batch.applicationId} (${URLS.sparkConnectUi}) wrote ${result.batch.table} (snapshot ${result.batch.snapshotId})`,
            `Flink job:    ${result.stream.jobId} (${URLS.flink}/#/job/completed/${result.stream.jobId}/overview) wrote topic ${result.stream.topic}`,
            `Workflow:     ${URLS.temporalUi}/namespaces/${env.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(workflowId)}`,
            result.agree
              ? 'Batch (Spark) and stream (Flink) agree.'
              : 'MISMATCH: batch (Spark) and stream (Flink) differ.',
            'The stack keeps running for you to explore; stop it with: ./sluice stack down',
            '',
          ].join('\n'),
        );
        if (!result.agree) process.exitCode = 1;
      } finally {
        await connection.close();
        await workerConnection.close();
      }
    });
}

/** No colour codes when the output is not a terminal (CI logs, pipes). */
export function plain(): { style?: { head: string[]; border: string[] } } {
  return process.stdout.isTTY ? {} : { style: { head: [], border: [] } };
}
