import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { installWorkerRuntime } from '../workers/runtime';
import Table from 'cli-table3';
import { Option, type Command } from 'commander';
import { parseEnv, poolTaskQueue, type Env } from '../config/env';
import { createKafkaClient } from '../engines/kafka';
import { streamProgress, viewRows, viewSnapshots } from '../engines/lake-view';
import { withSession } from '../engines/spark-connect-step';
import { sparkTableName } from '../lib/lake-catalog';
import { definePipeline, type LambdaPipelineSpec } from '../lib/pipelines';
import { until } from '../lib/poll';
import { SluiceKind, SluicePipeline, SluicePool } from '../lib/search-attributes';
import { pageViewsLambda } from '../pipelines/page-views-lambda';
import { localSparkDefaults } from '../stack/install';
import { URLS } from '../stack/services';
import { stackUp } from '../stack/stack';
import { connectionOptions } from '../workers/connection';
import { depsFromEnv } from '../workers/deps';
import { createSluiceWorker } from '../workers/worker';
import { lambdaPipelineWorkflow, poolSchedulerWorkflow, poolWorkflowId } from '../workflows';
import { lambdaStatus, lambdaWorkflowId, streamWorkflowId, type LambdaStatus } from '../workflows/messages';
import {
  DEMO_FEEDS,
  generatorFeed,
  intakeFeed,
  type DemoFeed,
  type DemoFeedKind,
  type DemoIntakeReport,
} from './demo-feed';
import { demoTraffic } from './demo-traffic';
import { viewPartitions } from './lambda';
import { requireSourceMatchesTopic } from './source-schema';
import { plain } from './table-style';

const say = (msg: string) => process.stderr.write(`sluice: ${msg}\n`);
const HOUR = 3_600_000;
/**
 * The demo's pool: room for the stream (1 slot) and two batch partitions at once. One per task
 * queue: a pool is served by the workers of its queue, and the demo's worker serves its own.
 */
const demoPool = (env: Env) => `demo-${env.SLUICE_TASK_QUEUE.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 63);

/**
 * `sluice demo`: the main job on the local stack. Three hours of generated page views (several
 * users and pages, records out of order and late) written as rotated access logs, which an intake
 * carries into Kafka exactly once (a line cut short goes to the dead-letter topic); a lambda
 * pipeline over the topic: Flink's speed layer, Spark's batch partitions through one pool, a check
 * of each partition (one deliberately corrupted and then repaired, one whose late records the
 * stream dropped), and the merged view with its provenance. `--feed generator` skips the intake.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'bring the local stack up and run a lambda pipeline through Kafka, Flink and Spark; print its merged view',
    )
    .option('--seed <n>', 'seed of the generated traffic', (v) => Number(v), 1)
    .addOption(
      new Option(
        '--feed <source>',
        'where the traffic comes from: access-log files read by an intake, or produced to the topic directly',
      )
        .choices(DEMO_FEEDS)
        .default('files'),
    )
    .option('--json', 'print the result as one JSON object (the view, the partitions, the checks, the links)')
    .action(async (opts: { seed: number; feed: DemoFeedKind; json?: boolean }) => {
      const env = parseEnv();
      // The SDK's INFO lines (worker state changes) would bury the demo's own output.
      installWorkerRuntime({ forwardCoreLogs: true });
      await stackUp({ say });
      const run = Date.now().toString(36);
      const name = `demo-${run}`;
      // Three hours of event time ending two days ago (any past hours do: the pipeline is new each run).
      const start = Math.floor(Date.now() / HOUR) * HOUR - 48 * HOUR;
      const traffic = demoTraffic(start, opts.seed);
      const spec: LambdaPipelineSpec = definePipeline({
        ...pageViewsLambda,
        name,
        source: { ...pageViewsLambda.source, topic: `demo-views-${run}` },
        batch: { ...pageViewsLambda.batch, pool: demoPool(env) },
        stream: {
          ...pageViewsLambda.stream,
          pool: demoPool(env),
          checkpointInterval: '2 seconds',
          idleTimeout: '1 second',
        },
        schedule: { start: traffic.partitions[0], end: traffic.partitions[2] },
      });

      // The spec as a file, for `sluice view` and `sluice run` after the demo (it is not registered).
      const specFile = path.join(path.dirname(env.SLUICE_LAKE), 'demo', `${name}.json`);
      fs.mkdirSync(path.dirname(specFile), { recursive: true });
      fs.writeFileSync(specFile, `${JSON.stringify(spec, null, 2)}\n`);
      say(`starting a worker on task queue ${env.SLUICE_TASK_QUEUE}`);
      const { worker, connection: workerConnection } = await createSluiceWorker({
        env,
        sparkDefaults: localSparkDefaults(env),
      });
      const connection = await Connection.connect(connectionOptions(env));
      const kafka = createKafkaClient(env.SLUICE_KAFKA_BROKERS);
      const deps = depsFromEnv(env, localSparkDefaults(env));
      try {
        const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
        let intake: DemoIntakeReport | undefined;
        const status = await worker.runUntil(async () => {
          await ensurePool(client, env);
          const feed: DemoFeed =
            opts.feed === 'files'
              ? await intakeFeed(client, {
                  demo: name,
                  topic: spec.source.topic,
                  dir: path.join(path.dirname(specFile), name, 'logs'),
                  pool: demoPool(env),
                  taskQueue: env.SLUICE_TASK_QUEUE,
                })
              : await generatorFeed(kafka, spec.source.topic);
          try {
            return await runPipeline(feed);
          } finally {
            // The intake is cancelled while the worker still runs, so it gives its pool grant back.
            intake = await feed.close();
          }
        });
        async function runPipeline(feed: DemoFeed) {
          say(`${await feed.send(traffic.phaseA)} (${traffic.partitions[0]} and ${traffic.partitions[1]} up to :20)`);
          // As `sluice start` does: a pipeline that reads its topic with other columns is refused.
          await requireSourceMatchesTopic(env, spec);
          const workflowId = lambdaWorkflowId(name);
          const handle = await client.workflow.start(lambdaPipelineWorkflow, {
            taskQueue: env.SLUICE_TASK_QUEUE,
            workflowId,
            args: [{ pipeline: spec, pollMs: 1000, faults: { corruptBatch: [traffic.partitions[0]] } }],
            typedSearchAttributes: [
              { key: SluicePipeline, value: name },
              { key: SluiceKind, value: 'lambda' },
              { key: SluicePool, value: demoPool(env) },
            ],
            staticSummary: `demo: lambda pipeline ${name} over ${traffic.partitions.join(', ')}`,
          });
          say(`started ${workflowId}: ${workflowUrl(env, workflowId)}`);

          // Late records are late only once the stream has fired their window: wait for its commit.
          const streamTable = sparkTableName(name, 'stream');
          await until(
            'the stream layer to commit the first window of the second hour',
            async () => {
              const p = await withSession(deps.sparkConnect, (c, s) =>
                streamProgress({ client: c, sessionId: s }, streamTable),
              );
              return (p.watermarkMs ?? 0) >= traffic.lateWindowStart + 15 * 60_000 ? true : undefined;
            },
            { timeoutMs: 300_000, intervalMs: 1000 },
          );
          say(
            `${await feed.send(traffic.phaseB)}: ${traffic.late.length} of them late for the window ${new Date(traffic.lateWindowStart).toISOString()}`,
          );

          let last = '';
          await until(
            `${workflowId} to publish every partition`,
            async () => {
              const s = await handle.query(lambdaStatus);
              const line = s.partitions.map((p) => `${p.partition.slice(11)}h ${p.phase}`).join(' | ');
              if (line && line !== last) say((last = line));
              const described = await handle.describe();
              return described.status.name === 'RUNNING' ? undefined : s;
            },
            { timeoutMs: 600_000, intervalMs: 1000 },
          );
          await handle.result();
          return handle.query(lambdaStatus);
        }

        const merged = sparkTableName(name, 'merged');
        const { snaps, rows } = await withSession(deps.sparkConnect, async (c, s) => ({
          snaps: await viewSnapshots({ client: c, sessionId: s }, merged),
          rows: await viewRows({ client: c, sessionId: s }, { table: merged, limit: 1000 }),
        }));
        const current = snaps.at(-1);
        const partitions = viewPartitions(current, { from: traffic.partitions[0], to: traffic.partitions[2] }, 'hour');
        const links = {
          workflow: workflowUrl(env, lambdaWorkflowId(name)),
          stream: workflowUrl(env, streamWorkflowId(name)),
          flink: URLS.flink,
          sparkConnect: URLS.sparkConnectUi,
          sparkHistory: URLS.sparkHistory,
        };
        if (opts.json) {
          process.stdout.write(
            `${JSON.stringify({ pipeline: name, spec: specFile, topic: spec.source.topic, intake, view: { table: merged, snapshot: current?.snapshotId, snapshots: snaps.length, partitions, rows }, status, links })}\n`,
          );
          return;
        }
        process.stdout.write(
          render(name, specFile, merged, current?.snapshotId, snaps.length, partitions, rows, status, links, intake),
        );
      } finally {
        await connection.close();
        await workerConnection.close();
      }
    });
}

/** The demo's pool, started if it does not run yet (a second run of the demo reuses it). */
async function ensurePool(client: Client, env: Env): Promise<void> {
  const pool = demoPool(env);
  try {
    await client.workflow.start(poolSchedulerWorkflow, {
      taskQueue: poolTaskQueue(env),
      workflowId: poolWorkflowId(pool),
      args: [{ name: pool, capacity: { cpu: 4, memoryMb: 8192 }, policy: { kind: 'fifo' } }],
      typedSearchAttributes: [
        { key: SluiceKind, value: 'pool' },
        { key: SluicePool, value: pool },
      ],
      staticSummary: `resource pool ${pool} (the demo's): admission control (fifo)`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

const workflowUrl = (env: Env, id: string) =>
  `${URLS.temporalUi}/namespaces/${env.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(id)}`;

function render(
  name: string,
  specFile: string,
  table: string,
  snapshot: string | undefined,
  snapshots: number,
  partitions: ReturnType<typeof viewPartitions>,
  rows: Record<string, unknown>[],
  status: LambdaStatus,
  links: Record<string, string>,
  intake: DemoIntakeReport | undefined,
): string {
  const style = plain().style;
  const opts = (head: string[]) => ({ head, ...(style ? { style } : {}) });
  // The view, one line per window: views (and amount) per page.
  const pages = [...new Set(rows.map((r) => String(r.page)))].sort();
  const byWindow = new Map<string, Record<string, string>>();
  for (const r of rows) {
    const ws = r.window_start instanceof Date ? r.window_start : new Date(Number(r.window_start));
    const key = `${String(r.partition)} ${ws.toISOString().slice(11, 16)}`;
    byWindow.set(key, { ...byWindow.get(key), [String(r.page)]: `${String(r.views)} (${String(r.total_amount)})` });
  }
  const view = new Table(opts(['partition', 'window', ...pages]));
  for (const [key, cells] of byWindow) {
    const [partition, window] = key.split(' ');
    view.push([partition!, window!, ...pages.map((p) => cells[p] ?? '')]);
  }
  const prov = new Table(opts(['partition', 'served by', 'rows', 'checks, in order', 'batch runs']));
  const reports: string[] = [];
  for (const p of partitions) {
    const st = status.partitions.find((x) => x.partition === p.partition);
    const checks = st?.checks ?? [];
    const verdicts = checks.map((c) =>
      c.consistent
        ? 'consistent'
        : `${c.mismatched} mismatched, ${c.missingInStream + c.missingInBatch} one-sided` +
          (c.lateData?.explained && c.lateData.droppedLateRecords > 0
            ? ` (all ${c.lateData.difference} missing views are records the stream dropped as late)`
            : ''),
    );
    prov.push([
      p.partition,
      p.layer === 'gap'
        ? `gap: ${p.reason}`
        : `${p.layer}${p.flagged ? ' (flagged)' : ''}${p.check ? `, ${p.check}` : ''}`,
      String(p.rows),
      verdicts.join(' → '),
      String(st?.batchRuns ?? 0),
    ]);
    const report = checks.at(-1)?.report;
    if (report) reports.push(`  ${p.partition}: ${report}`);
  }
  return [
    ...(intake
      ? [
          `Intake ${intake.workflowId}: ${intake.files.join(', ')} in ${intake.dir} → ${intake.recordsOut} records, exactly once; ${intake.deadLetters} line cut short → ${intake.deadLetterTopic}`,
          '',
        ]
      : []),
    `Lambda pipeline ${name}: ${status.state}, batch layer verified up to ${status.highWaterMark ?? '(none)'}`,
    '',
    `The merged view ${table} @ snapshot ${snapshot ?? '(none)'} (${snapshots} snapshots, each readable with sluice view --as-of): views (amount) per page`,
    view.toString(),
    '',
    'Per partition: the layer that serves it and what the checks found (the first hour was corrupted on purpose, then recomputed):',
    prov.toString(),
    'Check reports (JSON):',
    ...reports,
    '',
    `Temporal UI:   ${links.workflow}`,
    `Speed layer:   ${links.stream} (Flink ${links.flink})`,
    `Spark:         ${links.sparkConnect} (batch steps on Spark Connect), history ${links.sparkHistory}`,
    `Again:         sluice view ${specFile}   ·   sluice status lambda/${name}`,
    'The stack keeps running for you to explore; stop it with: ./sluice stack down',
    '',
  ].join('\n');
}
