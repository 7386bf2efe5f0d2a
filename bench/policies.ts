/**
 * `npm run bench -- policies [--iterations N] [--shuffled]`: the cost of one `decide` on a
 * nearly full pool with 10,000 pending and 1,000 running requests, per policy, against the
 * baseline of sorting the same pending array by (priority desc, submittedAt asc) in the same
 * process. Prints `{"bench":"policies","results":[{policy, decideMs, sortMs, ratio}, ...]}`;
 * `--sim` runs the trace simulator instead (see bench/sim/ and docs/policies/README.md).
 */
import {
  createPolicy,
  type AdmissionRequest,
  type Grant,
  type PolicyConfig,
  type PoolSnapshot,
} from '../scheduler-policies';
import { seededRandom } from './sim/random';

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

/**
 * A deterministic snapshot: `running` grants fill about 97% of the pool's cpu with every queue
 * and tenant represented, `pending` arrives over the last hour in submission order (as the pool
 * scheduler keeps it), mixed batch (with estimates) and streaming (without), priorities 0–9.
 */
export function benchSnapshot(seed = 42, shuffled = false): PoolSnapshot {
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
      preemptible: random() < 0.7,
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
  const capacity = { cpu: Math.ceil(cpuUsed / 0.97), memoryMb: Math.ceil(memUsed / 0.9) };
  return { capacity, running, pending, now };
}

export function sortBaseline(pending: readonly AdmissionRequest[]): AdmissionRequest[] {
  return pending.slice().sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0) || a.submittedAt - b.submittedAt);
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function time(fn: () => unknown): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function option(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  return at >= 0 && at + 1 < args.length ? Number(args[at + 1]) : fallback;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  if (args.includes('--sim')) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('./sim/run-sim') as { run: (a: string[]) => Promise<Record<string, unknown>> }).run(args);
  }
  const iterations = option(args, '--iterations', 101);
  const warmup = option(args, '--warmup', 20);
  const snapshot = benchSnapshot(42, args.includes('--shuffled'));
  const results: Record<string, unknown>[] = [];
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
      policy: policy.name,
      decideMs: round(decideMs),
      sortMs: round(sortMs),
      ratio: round(decideMs / sortMs),
      admitted,
      preempted,
    });
    process.stderr.write(`${policy.name}: decide ${decideMs.toFixed(3)} ms, sort ${sortMs.toFixed(3)} ms\n`);
  }
  return { bench: 'policies', pending: PENDING, running: RUNNING, iterations, results };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
