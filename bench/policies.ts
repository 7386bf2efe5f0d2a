/**
 * `npm run bench -- policies [--iterations N] [--warmup N] [--shuffled]`: the cost of one `decide`
 * with 10,000 pending and 1,000 running requests, per policy and case, against the baseline of
 * sorting the same pending array by (priority desc, submittedAt asc) in the same process. Cases:
 * `nearly-full` (running grants hold 97% of cpu: few admissions) and `admitting` (room for a few
 * hundred admissions, half the requests preemptible), so that the cost of admitting is measured
 * too. Prints `{"bench":"policies","results":[{case, policy, decideMs, sortMs, ratio, admitted,
 * preempted}, ...]}`; `--sim` runs the trace simulator instead (see bench/sim/ and
 * docs/policies/README.md).
 */
import { benchCommand, integer, parseBenchArgs } from './args';
import {
  createPolicy,
  type AdmissionRequest,
  type Grant,
  type PolicyConfig,
  type PoolSnapshot,
} from '../scheduler-policies';
import { seededRandom } from './sim/random';
import { median } from './stats';

export const PENDING = 10_000;
export const RUNNING = 1_000;

export const BENCH_POLICIES: readonly PolicyConfig[] = [
  { kind: 'fifo' },
  { kind: 'priority', agingPerMinute: 0.1 },
  { kind: 'fair', weights: { t0: 2, t1: 1, t2: 1, t3: 0.5 } },
  {
    kind: 'capacity',
    queues: [
      { name: 'prod', guaranteed: 0.4, max: 1 },
      { name: 'etl', guaranteed: 0.3, max: 0.8 },
      { name: 'adhoc', guaranteed: 0.2, max: 0.5 },
      { name: 'dev', guaranteed: 0.1, max: 0.3 },
    ],
  },
  { kind: 'backfill' },
];

const QUEUES = ['prod', 'etl', 'adhoc', 'dev'];
const TENANTS = 12;

/** How full a bench snapshot's pool is, and how many of its requests are preemptible. */
export interface SnapshotShape {
  /** Share of the pool's cpu that running grants hold. */
  cpuFill: number;
  /** Share of the pool's memory that running grants hold. */
  memoryFill: number;
  /** Share of requests (running and pending) that may be preempted. */
  preemptible: number;
}

export const BENCH_CASES = {
  /** Few admissions: every policy mostly explains why requests wait. */
  'nearly-full': { cpuFill: 0.97, memoryFill: 0.9, preemptible: 0.7 },
  /**
   * About a fifth of the pool free: a few hundred admissions of 1–8 cpu (the capacity policy admits
   * 200–300 and preempts 100–200), half the requests preemptible.
   */
  admitting: { cpuFill: 0.8, memoryFill: 0.7, preemptible: 0.5 },
} as const satisfies Record<string, SnapshotShape>;
export type BenchCase = keyof typeof BENCH_CASES;

/**
 * A deterministic snapshot: `running` grants fill `shape.cpuFill` of the pool's cpu with every
 * queue and tenant represented, `pending` arrives over the last hour in submission order (as the
 * pool scheduler keeps it), mixed batch (with estimates) and streaming (without), priorities 0–9.
 */
export function benchSnapshot(
  seed = 42,
  shuffled = false,
  shape: SnapshotShape = BENCH_CASES['nearly-full'],
): PoolSnapshot {
  const random = seededRandom(seed);
  const now = 1_750_000_000_000;
  const request = (id: string, submittedAt: number): AdmissionRequest => {
    const streaming = random() < 0.2;
    const cpu = 1 + Math.floor(random() * 8);
    return {
      id,
      tenant: `t${Math.floor(random() * TENANTS)}`,
      queue: QUEUES[Math.floor(random() * QUEUES.length)],
      priority: Math.floor(random() * 10),
      demand: { cpu, memoryMb: cpu * 1024 * (1 + Math.floor(random() * 4)) },
      submittedAt,
      preemptible: random() < shape.preemptible,
      kind: streaming ? 'streaming' : 'batch',
      ...(streaming ? {} : { estimatedRuntimeMs: 60_000 * (1 + Math.floor(random() * 120)) }),
    };
  };
  const running: Grant[] = [];
  let cpuUsed = 0;
  let memUsed = 0;
  for (let j = 0; j < RUNNING; j++) {
    const grantedAt = now - 1 - Math.floor(random() * 3_600_000);
    const r = request(`run-${j}`, grantedAt - Math.floor(random() * 600_000));
    running.push({ request: r, grantedAt });
    cpuUsed += r.demand.cpu;
    memUsed += r.demand.memoryMb;
  }
  running.sort((a, b) => a.grantedAt - b.grantedAt);
  const pending: AdmissionRequest[] = [];
  for (let i = 0; i < PENDING; i++)
    pending.push(request(`req-${i}`, now - 3_600_000 + Math.floor((i * 3_600_000) / PENDING)));
  if (shuffled) {
    for (let i = pending.length - 1; i > 0; i--) {
      const k = Math.floor(random() * (i + 1));
      [pending[i], pending[k]] = [pending[k], pending[i]];
    }
  }
  const capacity = { cpu: Math.ceil(cpuUsed / shape.cpuFill), memoryMb: Math.ceil(memUsed / shape.memoryFill) };
  return { capacity, running, pending, now };
}

export function sortBaseline(pending: readonly AdmissionRequest[]): AdmissionRequest[] {
  return pending.slice().sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0) || a.submittedAt - b.submittedAt);
}

function time(fn: () => unknown): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

interface PoliciesArgs {
  iterations: number;
  warmup: number;
  shuffled: boolean;
}

/** The options of `npm run bench -- policies` (without `--sim`, which hands over to run-sim). */
export function parseArgs(args: readonly string[]): PoliciesArgs {
  const command = benchCommand('policies', 'the cost of one decide per policy against sorting the pending list')
    .option('--iterations <n>', 'measured runs per policy and case (the median is reported)', integer(1), 101)
    .option('--warmup <n>', 'unmeasured runs first, per policy and case', integer(0), 20)
    .option('--shuffled', 'pending requests in random order instead of arrival order', false)
    .option('--sim', 'run the trace simulator instead (options: npm run bench -- policy-sim --help)');
  return parseBenchArgs<PoliciesArgs>(command, args);
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  if (args.includes('--sim')) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('./sim/run-sim') as { run: (a: string[]) => Promise<Record<string, unknown>> }).run(
      args.filter((a) => a !== '--sim'),
    );
  }
  const { iterations, warmup, shuffled } = parseArgs(args);
  const results: Record<string, unknown>[] = [];
  for (const [name, shape] of Object.entries(BENCH_CASES) as [BenchCase, SnapshotShape][]) {
    const snapshot = benchSnapshot(42, shuffled, shape);
    for (const config of BENCH_POLICIES) {
      const policy = createPolicy(config);
      for (let w = 0; w < warmup; w++) {
        policy.decide(snapshot);
        sortBaseline(snapshot.pending);
      }
      const decideTimes: number[] = [];
      const sortTimes: number[] = [];
      let admitted = 0;
      let preempted = 0;
      // Interleaved so that drift (GC, frequency scaling) hits both sides alike.
      for (let k = 0; k < iterations; k++) {
        sortTimes.push(time(() => sortBaseline(snapshot.pending)));
        decideTimes.push(
          time(() => {
            const d = policy.decide(snapshot);
            admitted = d.admit.length;
            preempted = d.preempt.length;
          }),
        );
      }
      const decideMs = median(decideTimes);
      const sortMs = median(sortTimes);
      results.push({
        case: name,
        policy: policy.name,
        decideMs: round(decideMs),
        sortMs: round(sortMs),
        ratio: round(decideMs / sortMs),
        admitted,
        preempted,
      });
      process.stderr.write(
        `${name} ${policy.name}: decide ${decideMs.toFixed(3)} ms, sort ${sortMs.toFixed(3)} ms, ` +
          `${admitted} admitted, ${preempted} preempted\n`,
      );
    }
  }
  return { bench: 'policies', pending: PENDING, running: RUNNING, iterations, shuffled, results };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
