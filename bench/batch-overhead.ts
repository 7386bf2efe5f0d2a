/**
 * `npm run bench -- batch-overhead [--runs N] [--events N]`: the same Spark job through Sluice
 * (batchPipelineWorkflow: admission, the Spark activity, output validation) and by plain
 * spark-submit (the very command line the activity runs), alternating in one run; medians.
 * Needs the local stack (`./sluice stack up`).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parseEnv } from '../config/env';
import { endOffsets, ensureTopic, produceJson } from '../engines/kafka';
import { sparkSubmitCommand, type SparkSqlJob } from '../engines/spark';
import { compileBatch, definePipeline } from '../lib/pipelines';
import { pageViews } from '../pipelines/page-views';
import { localSparkDefaults } from '../stack/install';
import { depsFromEnv } from '../workers/deps';
import { createSluiceWorker } from '../workers/worker';
import { batchPipelineWorkflow, poolSchedulerWorkflow } from '../workflows';
import { benchCommand, integer, parseBenchArgs } from './args';
import { median } from './stats';

const say = (msg: string) => process.stderr.write(`batch-overhead: ${msg}\n`);
interface BatchOverheadArgs {
  runs: number;
  events: number;
}

/** The options of `npm run bench -- batch-overhead`; throws a `CommanderError` naming a bad one. */
export function parseArgs(args: readonly string[]): BatchOverheadArgs {
  const command = benchCommand(
    'batch-overhead',
    'one Spark job through Sluice against plain spark-submit (needs the stack)',
  )
    .option('--runs <n>', 'measured runs of each side (after one warm-up each)', integer(1), 5)
    .option('--events <n>', 'Kafka events the job reads', integer(1), 20_000);
  return parseBenchArgs<BatchOverheadArgs>(command, args);
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { runs, events: eventCount } = parseArgs(args);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const id = Date.now().toString(36);
  const taskQueue = `bench-batch-${id}`;
  const env = parseEnv({ ...process.env, SLUICE_TASK_QUEUE: taskQueue });
  const deps = depsFromEnv(env, localSparkDefaults(env));
  const topic = `bench-batch-${id}`;
  const partition = '2026-11-20T05';
  const start = Date.UTC(2026, 10, 20, 5);

  say(`producing ${eventCount} events to ${topic}`);
  await ensureTopic(deps.kafka, topic);
  const pages = ['home', 'search', 'cart', 'checkout', 'help'];
  await produceJson(
    deps.kafka,
    topic,
    Array.from({ length: eventCount }, (_, i) => ({
      user: `u${i % 97}`,
      page: pages[i % pages.length],
      amount: (i * 7919) % 100,
      ts: start + Math.floor((i * 3_600_000) / eventCount),
    })),
  );
  // The page-views example pipeline, on the benchmark's own topic and pool.
  if (pageViews.source.kind !== 'kafka') throw new Error('page-views reads Kafka');
  const pipeline = definePipeline({
    ...pageViews,
    name: `bench-${id}`,
    source: { ...pageViews.source, topic },
    batch: { ...pageViews.batch, pool: `bench-${id}`, tenant: 'bench' },
  });

  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  const { worker, connection: wc } = await createSluiceWorker({ env, sparkDefaults: localSparkDefaults(env) });
  const running = worker.run();
  const pool = await client.workflow.start(poolSchedulerWorkflow, {
    taskQueue,
    workflowId: `pool/bench-${id}`,
    args: [{ name: `bench-${id}`, capacity: { cpu: 4, memoryMb: 8192 }, policy: { kind: 'fifo' } }],
  });

  // The plain baseline runs the same compiled job with the same spark-submit command line.
  const compiled = compileBatch(pipeline, partition, {
    startingOffsets: 'earliest',
    endingOffsets: await endOffsets(deps.kafka, topic),
  });
  const plainDir = path.join(deps.spark.workDir, 'bench-plain');
  fs.mkdirSync(plainDir, { recursive: true });
  const plain = async (i: number): Promise<number> => {
    const job: SparkSqlJob = {
      appName: `bench-plain-${id}-${i}`,
      sources: compiled.sources.map((s) =>
        s.format === 'kafka' ? { ...s, bootstrapServers: deps.brokers.join(',') } : s,
      ) as SparkSqlJob['sources'],
      sql: compiled.sql,
      output: { path: path.join(deps.lake, `bench-plain-${id}`, 'batch', `${partition}-${i}`) },
    };
    const jobFile = path.join(plainDir, `${job.appName}.json`);
    fs.writeFileSync(jobFile, JSON.stringify(job));
    const { command, args: cmdArgs, env: cmdEnv } = sparkSubmitCommand(deps.spark, job, jobFile);
    const log = fs.openSync(path.join(plainDir, `${job.appName}.log`), 'w');
    const t0 = performance.now();
    const code = await new Promise<number | null>((resolve) =>
      spawn(command, cmdArgs, { env: cmdEnv, stdio: ['ignore', log, log] }).on('close', resolve),
    );
    const ms = performance.now() - t0;
    fs.closeSync(log);
    if (code !== 0) throw new Error(`plain spark-submit failed (code ${code}); see ${plainDir}/${job.appName}.log`);
    return ms;
  };
  const sluice = async (i: number): Promise<number> => {
    const t0 = performance.now();
    const result = await client.workflow.execute(batchPipelineWorkflow, {
      taskQueue,
      workflowId: `batch/${pipeline.name}/${partition}/bench-${i}`,
      args: [{ pipeline, partition }],
    });
    const ms = performance.now() - t0;
    if (result.state !== 'succeeded') throw new Error(`Sluice run ${i} ended ${result.state}`);
    return ms;
  };

  const sluiceMs: number[] = [];
  const plainMs: number[] = [];
  try {
    say('warm-up: one of each (not counted)');
    await plain(0);
    await sluice(0);
    for (let i = 1; i <= runs; i++) {
      // Alternate which goes first, so neither always runs on a machine the other just warmed.
      const order = i % 2 ? [plain, sluice] : [sluice, plain];
      for (const f of order) {
        const ms = await f(i);
        (f === plain ? plainMs : sluiceMs).push(ms);
        say(`run ${i} ${f === plain ? 'spark-submit' : 'sluice'}: ${(ms / 1000).toFixed(2)} s`);
      }
    }
  } finally {
    await pool.terminate('benchmark done').catch(() => undefined);
    worker.shutdown();
    await running;
    await wc.close();
    await connection.close();
  }
  const s = median(sluiceMs);
  const p = median(plainMs);
  return {
    bench: 'batch-overhead',
    sluiceMs: Math.round(s),
    sparkSubmitMs: Math.round(p),
    ratio: Number((s / p).toFixed(3)),
    runs,
    events: eventCount,
    samples: { sluiceMs: sluiceMs.map(Math.round), sparkSubmitMs: plainMs.map(Math.round) },
  };
}
