import type { AdmissionRequest } from '../../scheduler-policies';
import { seededRandom } from './random';

/**
 * A synthetic multi-tenant trace: mixed batch jobs (with runtime estimates that are off by up
 * to 2x, as user estimates are) and long-running streaming jobs (no estimate), five tenants over
 * four capacity queues, with a diurnal arrival rate, random bursts of ad-hoc work, and a
 * nightly ETL wave. Deterministic for a seed.
 */

export interface TraceJob {
  request: AdmissionRequest;
  /** How long it really runs once granted, ms. */
  runtimeMs: number;
}

export interface TenantProfile {
  name: string;
  queue: string;
  /** Share of batch arrivals (outside bursts and the ETL wave). */
  weight: number;
  /** Mean batch cpu load this tenant offers, as a fraction of the pool (runtimes are scaled to it). */
  load: number;
  priority: number;
  preemptible: boolean;
  /** cpu per batch job: 2^U(min, max), rounded. */
  cpuLog2: [number, number];
  /** memoryMb per cpu. */
  memPerCpu: [number, number];
  /** Median batch runtime, minutes (lognormal, sigma 1). */
  medianMinutes: number;
  /** Streaming jobs over the whole trace. */
  streaming: number;
}

export const POOL = { cpu: 1024, memoryMb: 4 * 1024 * 1024 };
/** Mean memory load offered by batch jobs (their memory is scaled to it). */
const MEMORY_LOAD = 0.5;

export const QUEUES = [
  { name: 'prod', guaranteed: 0.4, max: 1 },
  { name: 'etl', guaranteed: 0.3, max: 0.8 },
  { name: 'adhoc', guaranteed: 0.2, max: 0.6 },
  { name: 'dev', guaranteed: 0.1, max: 0.3 },
];

export const TENANTS: readonly TenantProfile[] = [
  {
    name: 'search',
    queue: 'prod',
    weight: 0.15,
    load: 0.1,
    priority: 8,
    preemptible: false,
    cpuLog2: [0, 3],
    memPerCpu: [2048, 4096],
    medianMinutes: 4,
    streaming: 90,
  },
  {
    name: 'payments',
    queue: 'prod',
    weight: 0.15,
    load: 0.06,
    priority: 7,
    preemptible: false,
    cpuLog2: [0, 2],
    memPerCpu: [2048, 4096],
    medianMinutes: 3,
    streaming: 60,
  },
  {
    name: 'warehouse',
    queue: 'etl',
    weight: 0.3,
    load: 0.2,
    priority: 4,
    preemptible: true,
    cpuLog2: [1, 5],
    memPerCpu: [4096, 8192],
    medianMinutes: 6,
    streaming: 0,
  },
  {
    name: 'analysts',
    queue: 'adhoc',
    weight: 0.25,
    load: 0.12,
    priority: 2,
    preemptible: true,
    cpuLog2: [0, 4],
    memPerCpu: [2048, 8192],
    medianMinutes: 3,
    streaming: 0,
  },
  {
    name: 'ml',
    queue: 'dev',
    weight: 0.15,
    load: 0.1,
    priority: 1,
    preemptible: true,
    cpuLog2: [2, 6],
    memPerCpu: [4096, 16384],
    medianMinutes: 8,
    streaming: 30,
  },
];

export interface TraceOptions {
  seed: number;
  jobs: number;
  /** Length of the arrival window, ms. */
  horizonMs: number;
  /** Multiplies every tenant's offered batch load. */
  loadScale: number;
}

export const DEFAULT_TRACE: TraceOptions = { seed: 7, jobs: 100_000, horizonMs: 3 * 24 * 3_600_000, loadScale: 1.25 };

const HOUR = 3_600_000;
const MINUTE = 60_000;

/** Generates the trace, sorted by submission time. `start` is the epoch of the first arrival window. */
export function generateTrace(options: TraceOptions = DEFAULT_TRACE, start = 1_750_000_000_000): TraceJob[] {
  const random = seededRandom(options.seed);
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * random();
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const jobs: TraceJob[] = [];
  let serial = 0;

  const streamingTotal = TENANTS.reduce((n, t) => n + t.streaming, 0);
  const batchTotal = options.jobs - streamingTotal;

  // Arrival times by rejection sampling from an intensity: diurnal (peak mid-afternoon, trough
  // at night), 5x during ad-hoc bursts (three a day, 20–40 min, office hours), 4x during the
  // nightly ETL wave (01:00–01:30).
  const diurnal = (t: number): number => 1 + 0.6 * Math.sin((2 * Math.PI * ((t / HOUR + 16) % 24)) / 24);
  const bursts: { from: number; to: number }[] = [];
  for (let day = 0; day * 24 * HOUR < options.horizonMs; day++) {
    for (let b = 0; b < 3; b++) {
      const from = day * 24 * HOUR + uniform(8, 18) * HOUR;
      bursts.push({ from, to: from + uniform(20, 40) * MINUTE });
    }
  }
  const inBurst = (t: number): boolean => bursts.some((b) => t >= b.from && t < b.to);
  const inEtlWave = (t: number): boolean => (t / HOUR) % 24 >= 1 && (t / HOUR) % 24 < 1.5;
  const intensity = (t: number): number => diurnal(t) * (inBurst(t) ? 5 : inEtlWave(t) ? 4 : 1);
  const times: number[] = [];
  while (times.length < batchTotal) {
    const t = random() * options.horizonMs;
    if (random() * 8 < intensity(t)) times.push(t);
  }
  times.sort((a, b) => a - b);

  const pick = (): TenantProfile => {
    let x = random();
    for (const t of TENANTS) if ((x -= t.weight) < 0) return t;
    return TENANTS[TENANTS.length - 1];
  };
  const raw: { tenant: TenantProfile; at: number; cpu: number; mem: number; runtime: number }[] = [];
  for (const at of times) {
    const tenant = inBurst(at) && random() < 0.8 ? TENANTS[3] : inEtlWave(at) && random() < 0.75 ? TENANTS[2] : pick();
    const cpu = Math.max(1, Math.round(2 ** uniform(tenant.cpuLog2[0], tenant.cpuLog2[1])));
    const mem = Math.round(cpu * uniform(tenant.memPerCpu[0], tenant.memPerCpu[1]));
    const runtime = Math.min(6 * HOUR, Math.max(20_000, tenant.medianMinutes * MINUTE * Math.exp(normal())));
    raw.push({ tenant, at, cpu, mem, runtime });
  }
  // Scale each tenant's runtimes to its offered cpu load, and all memory to MEMORY_LOAD.
  const offered = new Map<TenantProfile, number>();
  for (const j of raw)
    offered.set(j.tenant, (offered.get(j.tenant) ?? 0) + (j.cpu * j.runtime) / options.horizonMs / POOL.cpu);
  const scaled = raw.map((j) => ({
    ...j,
    runtime: Math.max(
      10_000,
      Math.round((j.runtime * j.tenant.load * options.loadScale) / (offered.get(j.tenant) as number)),
    ),
  }));
  const memoryOffered = scaled.reduce((sum, j) => sum + (j.mem * j.runtime) / options.horizonMs / POOL.memoryMb, 0);
  const memoryScale = (MEMORY_LOAD * options.loadScale) / memoryOffered;
  for (const j of scaled) {
    const runtimeMs = j.runtime;
    const estimate = Math.round(runtimeMs * uniform(1, 2)); // users overestimate
    jobs.push({
      runtimeMs,
      request: {
        id: `b${serial++}`,
        tenant: j.tenant.name,
        queue: j.tenant.queue,
        priority: j.tenant.priority,
        demand: { cpu: j.cpu, memoryMb: Math.max(256, Math.round(j.mem * memoryScale)) },
        submittedAt: start + Math.round(j.at),
        preemptible: j.tenant.preemptible,
        estimatedRuntimeMs: estimate,
        kind: 'batch',
      },
    });
  }

  for (const tenant of TENANTS) {
    for (let k = 0; k < tenant.streaming; k++) {
      const cpu = 2 ** Math.floor(uniform(1, 4)); // 2, 4 or 8
      jobs.push({
        runtimeMs: Math.round(uniform(2, 12) * HOUR),
        request: {
          id: `s${serial++}`,
          tenant: tenant.name,
          queue: tenant.queue,
          priority: tenant.priority + 1,
          demand: { cpu, memoryMb: cpu * 4096 },
          submittedAt: start + Math.round(uniform(0, options.horizonMs)),
          preemptible: false,
          kind: 'streaming',
        },
      });
    }
  }
  jobs.sort((a, b) => a.request.submittedAt - b.request.submittedAt);
  return jobs;
}
