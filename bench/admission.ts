/**
 * `npm run bench -- admission [--n 500] [--rounds 2] [--concurrency 64] [--warmup-n 150] [--batch 20]
 * [--round-timeout-s N]`:
 * the admission throughput of one pool scheduler on a local dev server, against the signal
 * round-trip throughput of the same server in the same run.
 *
 * - admission: N `holdResourcesWorkflow`s (holdMs 0: request → granted → release) through one
 *   `poolSchedulerWorkflow` (fifo, capacity far above demand, so nothing waits for capacity);
 * - echo, the baseline: N `echoClientWorkflow`s, each one signal round trip to one
 *   `echoServerWorkflow` (bench/echo-workflows.ts), which batches its replies as the scheduler does.
 *
 * Both sides have the same topology, Sluice worker's: the long-lived workflow (pool scheduler, echo
 * server) on a task queue and worker of its own, the many short ones (holders, echo clients) on
 * another. Holders start with their pool, tenant and state search attributes set, as Sluice's
 * starters do. Both sides run with the same N, start concurrency and worker settings on the same server,
 * alternated (a warm-up of each, then echo, admission, echo, admission, ...); each reports the
 * median of its measured rounds. Throughput = N / (first start → last completion). Wait times
 * (`p50WaitMs`: submitted → granted inside the scheduler, i.e. queueing behind the policy; 0 here,
 * since capacity never runs out), `lost` and `duplicateGrants` come from the scheduler's own
 * records (`requestRecords`, `poolState`); `p50AdmitMs` is what a holder sees, from its first step
 * to its body starting (request sent, delivered, decided, grant delivered), in workflow time. CPU
 * is sampled from /proc for the dev server, this process (worker and client) and everything else
 * on the machine. A last round sends `--batch` pings per echo client in one
 * workflow task, to show how far batching messages gets past the per-workflow cost.
 *
 * Prints one JSON object: `{"bench":"admission","admissionsPerSec","echoPerSec","ratio",
 * "p50WaitMs","p99WaitMs","p50AdmitMs","p99AdmitMs","lost","duplicateGrants","dropped","bound",...}`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkerOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../activities';
import { SEARCH_ATTRIBUTES, SluicePool, SluiceState, SluiceTenant } from '../lib/search-attributes';
import { installedLayout } from '../stack/install';
import { bundleSluiceWorkflows, quietBundlerLogger } from '../workers/bundle';
import { installWorkerRuntime } from '../workers/runtime';
import type { ActivityDeps } from '../activities/deps';
import { holdResourcesWorkflow, poolSchedulerWorkflow } from '../workflows';
import { poolState, requestRecords } from '../workflows/messages';
import { MAX_RECORD_LIMIT } from '../workflows/pool/pool-state';
import { InvalidArgumentError } from 'commander';
import { benchCommand, integer, parseBenchArgs } from './args';
import { echoClientWorkflow, echoServerWorkflow, echoStats } from './echo-workflows';
import { median } from './stats';

const POOL_QUEUE = 'bench-pool';
const HOLDER_QUEUE = 'bench-holders';
const ECHO_SERVER_QUEUE = 'bench-echo-server';
const ECHO_QUEUE = 'bench-echo-clients';

type Side = 'echo' | 'admission' | 'echo-batched';

/** One round of either side. */
interface Round {
  side: Side;
  /** Workflows started (for echo-batched: each sends `messages / workflows` pings). */
  workflows: number;
  messages: number;
  seconds: number;
  /** Messages (admissions, round trips) per second. */
  perSec: number;
  /** Client side: start call returned → result returned, per workflow. */
  p50RoundTripMs: number;
  p99RoundTripMs: number;
  /** CPU during the round in % of one core (the machine has `machine.cpus` cores). */
  serverCpuPct: number;
  workerCpuPct: number;
  /** Every other process on the machine. */
  otherCpuPct: number;
  /** CPU per message: the dev server's, and this process's (worker and client). */
  serverCpuMs: number;
  workerCpuMs: number;
  /** Continue-as-new generations of the pool / echo server during the round. */
  generations: number;
  /** History events of one of the round's holder / echo client workflows. */
  eventsPerWorkflow: number;
}

interface AdmissionCheck {
  warm: boolean;
  /** Per request, the scheduler's own wait: submitted → granted (the policy's queueing). */
  waits: number[];
  /** Per holder, in workflow time: its first step → its body started (request, delivery, grant). */
  admits: number[];
  lost: number;
  duplicateGrants: number;
  dropped: number;
  /** Size of the records the pool carries across continue-as-new, as JSON. */
  recordsKB: number;
  /**
   * Workflow tasks of the scheduler the server failed (e.g. FORCE_CLOSE_COMMAND: more than 100
   * events buffered while a task was in flight), each followed by a replay; by cause.
   */
  failedSchedulerTasks: Record<string, number>;
  outcomes: Record<string, number>;
}

interface AdmissionArgs {
  n: number;
  rounds: number;
  concurrency: number;
  warmupN: number;
  batch: number;
  /** 0: from the round's size. */
  roundTimeoutS: number;
}

/** The options of `npm run bench -- admission`; throws a `CommanderError` naming a bad one. */
export function parseArgs(args: readonly string[]): AdmissionArgs {
  const command = benchCommand(
    'admission',
    'admissions per second through one pool scheduler against signal round trips',
  )
    // The lost/duplicate check reads every request's record from the pool, which keeps at most 2000.
    .option(
      '--n <n>',
      `holders per round, at most ${MAX_RECORD_LIMIT} (the records a pool keeps)`,
      upTo(MAX_RECORD_LIMIT),
      500,
    )
    .option('--rounds <n>', 'measured rounds per side', integer(1), 2)
    .option('--concurrency <n>', 'workflow starts in flight at once', integer(1), 64)
    .option('--warmup-n <n>', 'holders in the warm-up round of each side (default: min(n, 150))', integer(1))
    .option('--batch <n>', 'pings per echo client in the batched echo round', integer(1), 20)
    .option('--round-timeout-s <n>', 'give up on a round after this many seconds (default: from its size)', integer(1));
  const o = parseBenchArgs<
    Omit<AdmissionArgs, 'warmupN' | 'roundTimeoutS'> & { warmupN?: number; roundTimeoutS?: number }
  >(command, args);
  return { ...o, warmupN: o.warmupN ?? Math.min(o.n, 150), roundTimeoutS: o.roundTimeoutS ?? 0 };
}

/** An option parser for integers from 1 to `max`. */
function upTo(max: number): (value: string) => number {
  const atLeastOne = integer(1);
  return (value) => {
    const n = atLeastOne(value);
    if (n > max) throw new InvalidArgumentError(`expected at most ${max}`);
    return n;
  };
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { n, rounds, concurrency, warmupN, batch, roundTimeoutS: timeoutS } = parseArgs(args);
  // Generous: a round runs at 10–40 workflows/s on two busy cores.
  const load = (size: number): Load => ({
    concurrency,
    timeoutMs: 1000 * (timeoutS || Math.max(120, size / 2)),
  });

  installWorkerRuntime({ forwardCoreLogs: true });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: installedLayout().temporalBin },
      searchAttributes: [...SEARCH_ATTRIBUTES],
    },
  });
  const serverPid = childPid('temporal');
  // Interrupted (Ctrl-C), the finally below does not run: stop the dev server we started ourselves.
  const interrupted = () => {
    if (serverPid !== undefined) process.kill(serverPid, 'SIGTERM');
    process.exit(130);
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  // Two cores: the workflow thread, the SDK's core threads and the client share one process with
  // the dev server beside it. Enough task slots and pollers that the worker keeps a backlog of
  // tasks to batch, and a cache large enough that no holder is evicted and replayed mid-round.
  const settings = {
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentWorkflowTaskPolls: 20,
    maxCachedWorkflows: 2 * n + 500,
    reuseV8Context: true,
    workflowThreadPoolSize: 1,
  } satisfies Partial<WorkerOptions>;
  const { findGoneHolders, signalPool } = createActivities({ temporal: () => env.client } as ActivityDeps);
  const workers: Worker[] = [];
  const running: Promise<void>[] = [];
  try {
    process.stderr.write('admission: bundling workflows and starting workers\n');
    // As Sluice's worker runs them: the pool scheduler on a task queue (and workflow thread) of
    // its own, so that the load it admits never delays it. The echo server gets the same.
    const [sluiceBundle, echoBundle] = await Promise.all([
      bundleSluiceWorkflows(),
      bundleWorkflowCode({ workflowsPath: require.resolve('./echo-workflows'), logger: quietBundlerLogger }),
    ]);
    const worker = (taskQueue: string, workflowBundle: WorkflowBundleWithSourceMap, activities = {}) =>
      Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities, ...settings });
    workers.push(
      ...(await Promise.all([
        worker(POOL_QUEUE, sluiceBundle, { findGoneHolders }),
        worker(HOLDER_QUEUE, sluiceBundle, { signalPool }),
        worker(ECHO_SERVER_QUEUE, echoBundle),
        worker(ECHO_QUEUE, echoBundle),
      ])),
    );
    running.push(...workers.map((w) => w.run()));

    const client = env.client;
    const measured: Round[] = [];
    const checks: AdmissionCheck[] = [];
    let count = 0;
    const once = async (side: Side, size: number, warm: boolean) => {
      const tag = `r${++count}`;
      const sample = cpuSample(serverPid);
      const r =
        side === 'admission'
          ? await admissionRound(client, tag, size, load(size))
          : await echoRound(client, tag, size, load(size), side === 'echo' ? 1 : batch);
      const round: Round = { ...r.round, ...sample(r.round.messages) };
      process.stderr.write(
        `${warm ? 'warm-up ' : ''}${side} n=${round.messages}: ${round.perSec}/s in ${round.seconds} s, ` +
          `round trip p50 ${round.p50RoundTripMs} ms p99 ${round.p99RoundTripMs} ms, cpu server ` +
          `${round.serverCpuPct}% worker ${round.workerCpuPct}% other ${round.otherCpuPct}%, generations ${round.generations}\n`,
      );
      if (!warm) measured.push(round);
      if (r.check) checks.push({ ...r.check, warm });
    };

    await once('echo', warmupN, true);
    await once('admission', warmupN, true);
    for (let k = 0; k < rounds; k++) {
      await once('echo', n, false);
      await once('admission', n, false);
    }
    await once('echo-batched', n * 2, false);

    const echo = summary(measured.filter((r) => r.side === 'echo'));
    const admission = summary(measured.filter((r) => r.side === 'admission'));
    const batched = measured.find((r) => r.side === 'echo-batched')!;
    // Every round's records are checked (warm-ups too); only measured rounds count for wait times.
    const waits = checks.filter((c) => !c.warm).flatMap((c) => c.waits);
    const admits = checks.filter((c) => !c.warm).flatMap((c) => c.admits);
    return {
      bench: 'admission',
      admissionsPerSec: admission.perSec,
      echoPerSec: echo.perSec,
      ratio: round2(admission.perSec / echo.perSec),
      p50WaitMs: percentile(waits, 0.5),
      p99WaitMs: percentile(waits, 0.99),
      p50AdmitMs: percentile(admits, 0.5),
      p99AdmitMs: percentile(admits, 0.99),
      lost: sum(checks.map((c) => c.lost)),
      duplicateGrants: sum(checks.map((c) => c.duplicateGrants)),
      dropped: sum(checks.map((c) => c.dropped)),
      carriedRecordsKB: Math.max(...checks.map((c) => c.recordsKB)),
      // Every round, warm-ups included: how many of the scheduler's workflow tasks the server failed, by cause.
      failedSchedulerTasks: sum(checks.flatMap((c) => Object.values(c.failedSchedulerTasks))),
      failedSchedulerTasksByCause: checks.reduce<Record<string, number>>((all, c) => {
        for (const [cause, k] of Object.entries(c.failedSchedulerTasks)) all[cause] = (all[cause] ?? 0) + k;
        return all;
      }, {}),
      poolGenerations: measured.filter((r) => r.side === 'admission').map((r) => r.generations),
      bound: bound(echo, admission, batched, batch),
      cpuMsPerAdmission: { server: admission.serverCpuMs, worker: admission.workerCpuMs },
      cpuMsPerEcho: { server: echo.serverCpuMs, worker: echo.workerCpuMs },
      batchedEcho: { pingsPerWorkflow: batch, messagesPerSec: batched.perSec, workflows: batched.workflows },
      n,
      rounds: measured,
      outcomes: checks.map((c) => ({ warm: c.warm, ...c.outcomes })),
      settings: {
        worker: settings,
        client: { startConcurrency: concurrency, maxWorkflowsInFlight: MAX_IN_FLIGHT },
        taskQueues: { pool: POOL_QUEUE, holders: HOLDER_QUEUE, echoServer: ECHO_SERVER_QUEUE, echoClients: ECHO_QUEUE },
        pool: { policy: 'fifo', capacity: { cpu: 1e6 }, demand: { cpu: 1 }, holdMs: 0, recordLimit: n },
      },
      server:
        'temporal server start-dev as the test environment starts it (in-memory SQLite); no dynamic config changed',
      machine: { cpus: os.availableParallelism(), loadavg: os.loadavg().map(round2) },
    };
  } finally {
    for (const w of workers) w.shutdown();
    await Promise.allSettled(running);
    await env.teardown();
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  }
}

interface SideSummary {
  perSec: number;
  serverCpuMs: number;
  workerCpuMs: number;
  busyPct: number;
  otherPct: number;
  events: number;
}

/** The medians of a side's measured rounds. */
function summary(rs: Round[]): SideSummary {
  return {
    perSec: round2(median(rs.map((r) => r.perSec))),
    serverCpuMs: round2(median(rs.map((r) => r.serverCpuMs))),
    workerCpuMs: round2(median(rs.map((r) => r.workerCpuMs))),
    busyPct: Math.round(median(rs.map((r) => r.serverCpuPct + r.workerCpuPct + r.otherCpuPct))),
    otherPct: Math.round(median(rs.map((r) => r.otherCpuPct))),
    events: median(rs.map((r) => r.eventsPerWorkflow)),
  };
}

/** What bounds throughput, from this run's measurements: one sentence. */
function bound(echo: SideSummary, admission: SideSummary, batched: Round, pings: number): string {
  const perEcho = round2(echo.serverCpuMs + echo.workerCpuMs);
  const perAdmission = round2(admission.serverCpuMs + admission.workerCpuMs);
  return (
    `CPU: the ${os.availableParallelism()} cores were ${admission.busyPct}% busy of ${os.availableParallelism() * 100}% ` +
    `(other processes ${admission.otherPct}%); an admission costs ${perAdmission} ms CPU (server ${admission.serverCpuMs}, ` +
    `worker+client ${admission.workerCpuMs}; holder ${admission.events} history events) against ${perEcho} ms for an echo ` +
    `round trip (server ${echo.serverCpuMs}, worker+client ${echo.workerCpuMs}; client ${echo.events} events): both ` +
    `sides are bound by CPU, and most of it goes to starting, dispatching and completing workflows; the cost is per workflow, not ` +
    `per message: ${pings} pings per echo workflow reach ${batched.perSec}/s.`
  );
}

// ---- the two sides -------------------------------------------------------------------------------

async function admissionRound(
  client: Client,
  tag: string,
  n: number,
  { concurrency, timeoutMs }: Load,
): Promise<{ round: Omit<Round, CpuFields>; check: Omit<AdmissionCheck, 'warm'> }> {
  const name = `bench-${tag}`;
  const pool = await client.workflow.start(poolSchedulerWorkflow, {
    taskQueue: POOL_QUEUE,
    workflowId: `pool/${name}`,
    args: [{ name, capacity: { cpu: 1e6 }, policy: { kind: 'fifo' }, options: { recordLimit: n } }],
  });
  await pool.query(poolState); // the pool is up before the clock starts
  const returned = new Map<string, string>();
  const admits: number[] = [];
  const timing = await drive(n, concurrency, timeoutMs, async (i) => {
    const id = `hold-${tag}-${i}`;
    const h = await client.workflow.start(holdResourcesWorkflow, {
      taskQueue: HOLDER_QUEUE,
      workflowId: id,
      args: [{ pool: name, demand: { cpu: 1 }, holdMs: 0, tenant: 'bench', kind: 'batch', requestId: `${id}#r` }],
      // As Sluice's own starters do: the holder then upserts only its change of state.
      typedSearchAttributes: [
        { key: SluicePool, value: name },
        { key: SluiceTenant, value: 'bench' },
        { key: SluiceState, value: 'waiting-admission' },
      ],
    });
    return {
      done: async () => {
        const r = await h.result().catch((err: unknown) => ({ requestId: `${id}#r`, outcome: String(err) }));
        returned.set(r.requestId, r.outcome);
        if ('admittedAt' in r && r.admittedAt !== undefined && r.requestedAt !== undefined) {
          admits.push(r.admittedAt - r.requestedAt);
        }
      },
      terminate: () => h.terminate('benchmark round timed out'),
    };
  });
  const [page, view, sample] = await Promise.all([
    pool.query(requestRecords),
    pool.query(poolState),
    client.workflow.getHandle(`hold-${tag}-0`).describe(),
  ]);
  const failedSchedulerTasks: Record<string, number> = {};
  for (const e of (await pool.fetchHistory()).events ?? []) {
    const cause = e.workflowTaskFailedEventAttributes?.cause;
    if (cause === undefined || cause === null) continue;
    const name = temporal.api.enums.v1.WorkflowTaskFailedCause[cause] ?? String(cause);
    failedSchedulerTasks[name] = (failedSchedulerTasks[name] ?? 0) + 1;
  }
  await pool.terminate('benchmark round over');

  const grants = new Map<string, number>();
  const released = new Set<string>();
  const outcomes: Record<string, number> = {};
  for (const r of page.records) {
    if (r.grantedAt !== undefined) grants.set(r.requestId, (grants.get(r.requestId) ?? 0) + 1);
    if (r.outcome === 'released') released.add(r.requestId);
    outcomes[r.outcome ?? 'open'] = (outcomes[r.outcome ?? 'open'] ?? 0) + 1;
  }
  let lost = 0;
  for (let i = 0; i < n; i++) {
    const requestId = `hold-${tag}-${i}#r`;
    const holder = returned.get(requestId);
    if (released.has(requestId) && holder === 'released') continue;
    lost += 1;
    if (lost <= 3) {
      process.stderr.write(
        `admission: ${requestId} lost: scheduler ${released.has(requestId) ? 'released' : 'no release'}, holder ${holder}\n`,
      );
    }
  }
  const check = {
    waits: page.records.flatMap((r) => (r.waitMs !== undefined ? [r.waitMs] : [])),
    admits,
    lost,
    duplicateGrants: view.counters.duplicateGrants + [...grants.values()].filter((c) => c > 1).length,
    dropped: page.dropped,
    recordsKB: Math.round(JSON.stringify(page.records).length / 1024),
    failedSchedulerTasks,
    outcomes,
  };
  return {
    round: { side: 'admission', ...timing, generations: view.generation, eventsPerWorkflow: sample.historyLength },
    check,
  };
}

async function echoRound(
  client: Client,
  tag: string,
  messages: number,
  { concurrency, timeoutMs }: Load,
  pings: number,
): Promise<{ round: Omit<Round, CpuFields>; check?: undefined }> {
  const serverId = `echo-server-${tag}`;
  const server = await client.workflow.start(echoServerWorkflow, {
    taskQueue: ECHO_SERVER_QUEUE,
    workflowId: serverId,
    args: [],
  });
  await server.query(echoStats);
  const workflows = Math.ceil(messages / pings);
  let answered = 0;
  const timing = await drive(workflows, concurrency, timeoutMs, async (i) => {
    const h = await client.workflow.start(echoClientWorkflow, {
      taskQueue: ECHO_QUEUE,
      workflowId: `echo-${tag}-${i}`,
      args: [serverId, pings],
    });
    return {
      done: async () => {
        const pongs = await h.result();
        answered += pongs;
      },
      terminate: () => h.terminate('benchmark round timed out'),
    };
  });
  const [stats, sample] = await Promise.all([
    server.query(echoStats),
    client.workflow.getHandle(`echo-${tag}-0`).describe(),
  ]);
  await server.terminate('benchmark round over');
  if (answered !== workflows * pings) throw new Error(`echo: ${workflows * pings - answered} pings unanswered`);
  const perSec = round2(answered / timing.seconds);
  return {
    round: {
      side: pings === 1 ? 'echo' : 'echo-batched',
      ...timing,
      messages: answered,
      perSec,
      generations: stats.generation,
      eventsPerWorkflow: sample.historyLength,
    },
  };
}

type CpuFields = 'serverCpuPct' | 'workerCpuPct' | 'otherCpuPct' | 'serverCpuMs' | 'workerCpuMs';

/** How a round is driven: start calls in flight at most, and how long it may last. */
interface Load {
  concurrency: number;
  timeoutMs: number;
}

/**
 * Workflows started and not finished, at most. Each is awaited by a `result()` long poll, and the
 * dev server refuses more than 1200 concurrent long polls per namespace (`frontend.namespaceCount`;
 * the workers' pollers count too): beyond it `result()` fails with RESOURCE_EXHAUSTED.
 */
const MAX_IN_FLIGHT = 1000;

/** A started workflow, as `drive` sees it. */
interface Started {
  /** Resolves when the workflow is done and its result checked. */
  done: () => Promise<void>;
  terminate: () => Promise<unknown>;
}

/**
 * Starts `n` workflows with at most `concurrency` start calls and `MAX_IN_FLIGHT` unfinished
 * workflows at a time, and waits for all of them to complete. The clock runs from the first start to the last completion. A round that is not
 * over within `timeoutMs` fails, after terminating the workflows still running.
 */
async function drive(
  n: number,
  concurrency: number,
  timeoutMs: number,
  start: (i: number) => Promise<Started>,
): Promise<Pick<Round, 'workflows' | 'messages' | 'seconds' | 'perSec' | 'p50RoundTripMs' | 'p99RoundTripMs'>> {
  const t0 = performance.now();
  let last = t0;
  const roundTrips: number[] = [];
  const completions: Promise<void>[] = [];
  const unfinished = new Map<number, Started>();
  const waiting: (() => void)[] = []; // lanes waiting for a workflow to finish
  let failure: unknown;
  let next = 0;
  const lane = async () => {
    while (next < n && failure === undefined) {
      if (unfinished.size >= MAX_IN_FLIGHT) {
        await new Promise<void>((resolve) => waiting.push(resolve));
        continue;
      }
      const i = next++;
      const w = await start(i);
      const started = performance.now();
      unfinished.set(i, w);
      completions.push(
        w
          .done()
          .then(() => {
            last = performance.now();
            roundTrips.push(last - started);
          })
          .finally(() => {
            unfinished.delete(i);
            waiting.shift()?.();
          }),
      );
    }
  };
  // A failure stops new starts, but everything in flight settles before the caller tears the
  // server down: a call still retrying on a closed connection would crash the process.
  const fail = (err: unknown) => {
    if (failure === undefined) process.stderr.write(`admission: ${String(err)}\n`);
    failure ??= err;
  };
  const terminations: Promise<unknown>[] = [];
  const timer = setTimeout(() => {
    fail(new Error(`round not over after ${timeoutMs / 1000} s: ${n - next + unfinished.size} of ${n} unfinished`));
    waiting.splice(0).forEach((resume) => resume());
    for (const w of unfinished.values()) terminations.push(w.terminate().catch(() => undefined));
  }, timeoutMs);
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, () => lane().catch(fail)));
  await Promise.all(completions.map((c) => c.catch(fail)));
  clearTimeout(timer);
  await Promise.all(terminations);
  if (failure !== undefined) throw failure;
  const seconds = (last - t0) / 1000;
  return {
    workflows: n,
    messages: n,
    seconds: round2(seconds),
    perSec: round2(n / seconds),
    p50RoundTripMs: Math.round(percentile(roundTrips, 0.5)),
    p99RoundTripMs: Math.round(percentile(roundTrips, 0.99)),
  };
}

// ---- measuring -----------------------------------------------------------------------------------

/** The pid of this process's child named `comm` (the dev server the test environment spawned). */
function childPid(comm: string): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = procStat(entry);
      if (stat.ppid === process.pid && stat.comm === comm) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

/** A process's name, parent and CPU time (user + system, in clock ticks) from /proc/<pid>/stat. */
function procStat(pid: string | number): { comm: string; ppid: number; ticks: number } {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' '); // fields[0] is field 3, the state
  return {
    comm: text.slice(text.indexOf('(') + 1, close),
    ppid: Number(fields[1]),
    ticks: Number(fields[11]) + Number(fields[12]),
  };
}

/** Busy clock ticks of the whole machine, from /proc/stat (everything but idle and iowait). */
function machineTicks(): number {
  const [, ...values] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number);
  void idle;
  void iowait;
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/** Starts a CPU sample of the server, this process and the machine; the returned function ends it. */
function cpuSample(serverPid: number | undefined) {
  const TICKS = 100; // USER_HZ on Linux
  const server = () => (serverPid === undefined ? NaN : procStat(serverPid).ticks);
  const s0 = server();
  const w0 = procStat('self').ticks;
  const m0 = machineTicks();
  const t0 = performance.now();
  return (messages: number): Pick<Round, CpuFields> => {
    const seconds = (performance.now() - t0) / 1000;
    const s = (server() - s0) / TICKS;
    const w = (procStat('self').ticks - w0) / TICKS;
    const m = (machineTicks() - m0) / TICKS;
    return {
      serverCpuPct: Math.round((s / seconds) * 100),
      workerCpuPct: Math.round((w / seconds) * 100),
      otherCpuPct: Math.max(0, Math.round(((m - s - w) / seconds) * 100)),
      serverCpuMs: round2((s * 1000) / messages),
      workerCpuMs: round2((w * 1000) / messages),
    };
  };
}

// ---- helpers -------------------------------------------------------------------------------------

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
