/**
 * `npm run bench -- intake [--records N] [--rounds N]`: a files intake's throughput (JSON lines read,
 * validated, normalised and written to a topic in Kafka transactions with the source position, as
 * `intake/<name>` does: its activity, run to the end of its source) against Kafka's own
 * `kafka-producer-perf-test` (ProducerPerformance, acks=all) writing records of the intake's mean
 * output size to the same broker, alternating in one run; medians. Needs the local stack's Kafka
 * (`./sluice stack up`); Kafka's tools jar is installed on first use. Generating the file is not timed.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createIntakeActivities, type IntakeSliceResult } from '../activities/intake';
import { parseEnv } from '../config/env';
import { ensureTopic } from '../engines/kafka';
import { defineIntake } from '../lib/intake/spec';
import { run as runCommand } from '../stack/exec';
import { ensureKafkaTools, localSparkDefaults } from '../stack/install';
import { depsFromEnv } from '../workers/deps';
import { benchCommand, integer, parseBenchArgs } from './args';
import { median } from './stats';

const say = (msg: string) => process.stderr.write(`intake: ${msg}\n`);

interface IntakeArgs {
  records: number;
  rounds: number;
  batch?: number;
}

export function parseArgs(args: readonly string[]): IntakeArgs {
  const command = benchCommand('intake', 'a files intake into Kafka against kafka-producer-perf-test')
    .option('--records <n>', 'records per round', integer(1000), 200_000)
    .option('--rounds <n>', 'measured rounds of each (after one warm-up each)', integer(1), 3)
    .option(
      '--batch <n>',
      "records per transaction (the intake's batchRecords; default: the spec's default)",
      integer(1),
    );
  return parseBenchArgs<IntakeArgs>(command, args);
}

/** One log line: a page view with a user, an amount, an ISO time (normalised to epoch ms) and a field dropped. */
function logLine(i: number): string {
  return JSON.stringify({
    user: `user-${i % 5000}`,
    page: `/page/${i % 300}`,
    amount: (i * 7919) % 10_000,
    ts: new Date(Date.UTC(2026, 11, 1) + i * 10).toISOString(),
    agent: 'Mozilla/5.0 (X11; Linux x86_64)',
  });
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const opts = parseArgs(args);
  const env = parseEnv(process.env);
  const deps = depsFromEnv(env, localSparkDefaults(env));
  const tools = await ensureKafkaTools(say);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-intake-'));
  const stamp = Date.now().toString(36);
  try {
    const lines: string[] = [];
    for (let i = 0; i < opts.records; i++) lines.push(logLine(i));
    const inputBytes = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    say(`${opts.records} lines, ${(inputBytes / 1e6).toFixed(1)} MB per round`);
    let recordSize = 0;

    const intakeRound = async (round: number) => {
      const src = path.join(dir, `src-${round}`);
      fs.mkdirSync(src);
      fs.writeFileSync(path.join(src, 'access.log'), lines.join('\n') + '\n');
      const spec = defineIntake({
        name: `bench-${stamp}-${round}`,
        source: { kind: 'files', dir: src, pattern: 'access.log*', format: 'jsonl' },
        schema: { user: 'string', page: 'string', amount: 'bigint', ts: 'epoch_millis' },
        eventTime: 'ts',
        topic: `bench-intake-${stamp}-${round}`,
        key: ['page'],
        intake: {
          pool: 'bench',
          tenant: 'bench',
          resources: { cpu: 1, memoryMb: 256 },
          ...(opts.batch ? { batchRecords: opts.batch } : {}),
        },
      });
      // Topics exist before the clock starts, as the baseline's does.
      await ensureTopic(deps.kafka, spec.topic, spec.partitions);
      await ensureTopic(deps.kafka, `${spec.topic}.dlq`, 1);
      const activity = createIntakeActivities(deps).runIntakeSlice;
      const start = process.hrtime.bigint();
      const result: IntakeSliceResult = await new MockActivityEnvironment().run(activity, {
        intake: spec,
        sliceMs: 600_000,
        untilCaughtUp: true,
      });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (result.counts.recordsOut !== opts.records) {
        throw new Error(`the intake wrote ${result.counts.recordsOut} of ${opts.records} records`);
      }
      return ms;
    };

    const baselineRound = async (round: number) => {
      const topic = `bench-perf-${stamp}-${round}`;
      await ensureTopic(deps.kafka, topic, 1);
      const out = await runCommand('java', [
        '-cp',
        `${tools}/*`,
        'org.apache.kafka.tools.ProducerPerformance',
        '--topic',
        topic,
        '--num-records',
        String(opts.records),
        '--record-size',
        String(recordSize),
        '--throughput',
        '-1',
        '--producer-props',
        `bootstrap.servers=${deps.brokers.join(',')}`,
        'acks=all',
      ]);
      // The last line: "200000 records sent, 151515.2 records/sec (21.67 MB/sec), ..."
      const m = /(\d+) records sent, ([\d.]+) records\/sec/.exec(out.trim().split('\n').at(-1) ?? '');
      if (!m) throw new Error(`kafka-producer-perf-test said: ${out.slice(-500)}`);
      return Number(m[2]);
    };

    // The baseline writes records of the intake's output size: the normalised record, its key.
    const sample = lines.slice(0, 1000).map((l) => {
      const v = JSON.parse(l) as Record<string, unknown>;
      return JSON.stringify({ user: v.user, page: v.page, amount: v.amount, ts: Date.parse(String(v.ts)) });
    });
    recordSize = Math.round(sample.reduce((n, s) => n + Buffer.byteLength(s), 0) / sample.length);

    const intakeRates: number[] = [];
    const baselineRates: number[] = [];
    for (let round = 0; round <= opts.rounds; round++) {
      const order = round % 2 === 0 ? (['intake', 'baseline'] as const) : (['baseline', 'intake'] as const);
      for (const which of order) {
        if (which === 'intake') {
          const ms = await intakeRound(round);
          const rate = opts.records / (ms / 1000);
          if (round > 0) intakeRates.push(rate);
          say(
            `round ${round}${round === 0 ? ' (warm-up)' : ''}: intake ${rate.toFixed(0)} records/s (${ms.toFixed(0)} ms)`,
          );
        } else {
          const rate = await baselineRound(round);
          if (round > 0) baselineRates.push(rate);
          say(
            `round ${round}${round === 0 ? ' (warm-up)' : ''}: kafka-producer-perf-test ${rate.toFixed(0)} records/s`,
          );
        }
      }
    }
    const recordsPerSec = median(intakeRates);
    const baselinePerSec = median(baselineRates);
    return {
      bench: 'intake',
      recordsPerSec: Math.round(recordsPerSec),
      baselinePerSec: Math.round(baselinePerSec),
      ratio: Number((recordsPerSec / baselinePerSec).toFixed(3)),
      records: opts.records,
      recordSize,
      rounds: opts.rounds,
      batchRecords: opts.batch ?? 'default',
      client: 'kafkajs',
      intakeRuns: intakeRates.map(Math.round),
      baselineRuns: baselineRates.map(Math.round),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
