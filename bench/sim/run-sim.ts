/**
 * `npm run bench -- policy-sim [--jobs N] [--seed S] [--load X] [--out DIR]` (or `policies --sim`): replays a
 * synthetic trace through all five policies, writes `simulation.json` and `simulation.svg` to
 * docs/policies/ (or DIR) and prints the headline figures as one JSON object.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createPolicy, type PolicyConfig } from '../../scheduler-policies';
import { benchCommand, integer, parseBenchArgs, positiveNumber } from '../args';
import { renderChart } from './chart';
import { simulate, type SimResult } from './simulator';
import { DEFAULT_TRACE, generateTrace, POOL, QUEUES, TENANTS } from './trace';

export const SIM_POLICIES: readonly PolicyConfig[] = [
  { kind: 'fifo' },
  { kind: 'priority', agingPerMinute: 0.05 },
  { kind: 'fair' },
  { kind: 'capacity', queues: QUEUES },
  { kind: 'backfill' },
];

interface SimArgs {
  jobs: number;
  seed: number;
  load: number;
  out?: string;
}

/** The options of `npm run bench -- policy-sim`; throws a `CommanderError` naming a bad one. */
export function parseArgs(args: readonly string[]): SimArgs {
  const command = benchCommand('policy-sim', 'replays a synthetic trace through all five policies')
    .option('--jobs <n>', 'jobs in the trace', integer(1), DEFAULT_TRACE.jobs)
    .option('--seed <n>', 'seed of the trace', integer(0), DEFAULT_TRACE.seed)
    .option('--load <x>', 'scale of the arrival rate (offered load)', positiveNumber, DEFAULT_TRACE.loadScale)
    .option('--out <dir>', 'where simulation.json and simulation.svg go (default: docs/policies/)');
  return parseBenchArgs<SimArgs>(command, args);
}

/**
 * Formats JSON the way the repository's Prettier config would, so a regenerated file passes
 * `prettier --check`; unchanged if Prettier (a dev dependency) is not installed.
 */
async function formatJson(json: string, dir: string): Promise<string> {
  try {
    const prettier = (await import('prettier')) as typeof import('prettier');
    const options = await prettier.resolveConfig(join(dir, 'simulation.json'));
    return await prettier.format(json, { ...options, parser: 'json' });
  } catch {
    return json;
  }
}

/** The repository root: the nearest ancestor of this file holding package.json. */
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { jobs, load: loadScale, seed, out: outArg } = parseArgs(args);
  const out = resolve(outArg ?? join(repoRoot(), 'docs', 'policies'));
  const traceOptions = { ...DEFAULT_TRACE, jobs, seed, loadScale };
  const start = 1_750_000_000_000;
  const trace = generateTrace(traceOptions, start);
  const streaming = trace.filter((j) => j.request.kind === 'streaming').length;
  process.stderr.write(
    `trace: ${trace.length} jobs (${streaming} streaming), ${TENANTS.length} tenants, ${QUEUES.length} queues\n`,
  );

  const results: SimResult[] = [];
  for (const config of SIM_POLICIES) {
    const result = simulate(createPolicy(config), trace, POOL, {
      tickMs: 10_000,
      windowStart: start,
      windowEnd: start + traceOptions.horizonMs,
      drainLimitMs: 24 * 3_600_000,
    });
    results.push(result);
    process.stderr.write(
      `${result.policy}: ${result.decisions} decisions in ${result.wallSeconds} s (decide ${result.decideSeconds} s), cpu ${result.utilisation.cpu}, jain share ${result.jainShare} slowdown ${result.jainSlowdown}\n`,
    );
  }

  const hours = traceOptions.horizonMs / 3_600_000;
  const subtitle = `${trace.length.toLocaleString('en-US')} jobs (${streaming} streaming) over ${hours} h, ${TENANTS.length} tenants, ${QUEUES.length} queues, pool ${POOL.cpu} cpu / ${POOL.memoryMb / 1024 / 1024} TiB, seed ${seed}`;
  mkdirSync(out, { recursive: true });
  const full = {
    trace: { ...traceOptions, jobs: trace.length, streaming, pool: POOL, queues: QUEUES, tenants: TENANTS },
    policies: SIM_POLICIES,
    results,
  };
  writeFileSync(join(out, 'simulation.json'), await formatJson(JSON.stringify(full, null, 2) + '\n', out));
  writeFileSync(join(out, 'simulation.svg'), renderChart(results, subtitle));

  return {
    bench: 'policy-sim',
    jobs: trace.length,
    streaming,
    output: out,
    results: results.map((r) => ({
      policy: r.policy,
      utilisation: r.utilisation,
      jainShare: r.jainShare,
      jainSlowdown: r.jainSlowdown,
      p95WaitSecondsByTenant: Object.fromEntries(Object.entries(r.waitByTenant).map(([t, s]) => [t, s.p95])),
      p95WaitSecondsByQueue: Object.fromEntries(Object.entries(r.waitByQueue).map(([q, s]) => [q, s.p95])),
      preemptions: r.preemptions,
      unfinished: r.unfinished,
      maxPending: r.maxPending,
      decideSeconds: r.decideSeconds,
    })),
  };
}
