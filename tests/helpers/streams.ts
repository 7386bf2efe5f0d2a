/**
 * What the streaming integration tests share: a generator that produces page views with synthetic
 * event times throughout a test (and knows what it produced), and readers of what the stream
 * committed, through the engines' own APIs: the Iceberg table by a Flink batch query, the Kafka
 * sink topic with read_committed, the pipeline's Flink jobs from the JobManager.
 */
import { flinkCatalogOptions, lakeCatalogFromEnv } from '../../lib/lake-catalog';
import { flinkOptions } from '../../lib/pipelines';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { listFlinkJobs, SqlGatewaySession } from '../../engines/flink';
import { definePipeline, type PipelineSpec } from '../../lib/pipelines';
import { ServiceError, type WorkflowHandle } from '@temporalio/client';
import { sleep, until } from '../../lib/poll';
import { streamStatus, type StreamState, type StreamStatus } from '../../workflows/messages';
import type { Env } from '../../config/env';

export const WINDOW_MS = 10_000;
/** Synthetic event time of the first event: 2026-01-01T00:00:00Z. */
export const T0 = Date.UTC(2026, 0, 1);
const PAGES = ['a', 'b', 'c'];

/** A streaming pipeline reading `topic` into the lake and `${topic}-out`, 10-second windows. */
export function streamSpec(
  name: string,
  topic: string,
  pool: string,
  stream: Record<string, unknown> = {},
): PipelineSpec {
  return definePipeline({
    name,
    kind: 'streaming',
    source: {
      kind: 'kafka',
      topic,
      format: 'json',
      schema: { user: 'string', page: 'string', amount: 'bigint', ts: 'epoch_millis' },
      eventTime: 'ts',
    },
    transform: {
      window: { tumbling: '10 seconds' },
      groupBy: ['page'],
      aggregates: [
        { fn: 'count', as: 'views' },
        { fn: 'sum', column: 'amount', as: 'total_amount' },
      ],
    },
    partitioning: 'hour',
    sink: { lake: true, kafka: { topic: `${topic}-out` } },
    stream: {
      pool,
      tenant: 'it',
      parallelism: 1,
      maxParallelism: 16,
      resources: { cpu: 1, memoryMb: 512 },
      checkpointInterval: '2 seconds',
      allowedLateness: '1 second',
      idleTimeout: '1 second',
      restart: { attempts: 3, backoff: '1 second' },
      ...stream,
    },
  } as Parameters<typeof definePipeline>[0]);
}

/** `window start (epoch ms)|page` → count, the unit every total is compared in. */
export type Totals = Map<string, { views: number; amount: number }>;

/**
 * Produces page views on a 2-partition topic, a batch every `intervalMs`, with event times that
 * advance 100 ms per event, until stopped. Remembers every event it produced.
 */
export class EventGenerator {
  private producer: Producer;
  private seq = 0;
  private running?: Promise<void>;
  private stopping = false;
  readonly produced: Totals = new Map();

  constructor(
    brokers: string[],
    readonly topic: string,
  ) {
    this.producer = new Kafka({ brokers, clientId: `gen-${topic}`, logLevel: logLevel.NOTHING }).producer();
  }

  async start(intervalMs = 250, perBatch = 5): Promise<void> {
    await this.producer.connect();
    this.running = (async () => {
      while (!this.stopping) {
        await this.batch(perBatch);
        // The production rate ("throughout the test"), not a wait for anything.
        await sleep(intervalMs);
      }
    })();
  }

  /** Produces `n` events now (also while the loop runs: the two never interleave a batch). */
  async batch(n: number): Promise<void> {
    const messages = [];
    for (let i = 0; i < n; i++) {
      const s = this.seq++;
      const page = PAGES[s % PAGES.length]!;
      const ts = T0 + s * 100;
      const amount = (s % 7) + 1;
      messages.push({ key: page, value: JSON.stringify({ user: `u${s % 11}`, page, amount, ts }) });
      const key = `${ts - (ts % WINDOW_MS)}|${page}`;
      const t = this.produced.get(key) ?? { views: 0, amount: 0 };
      this.produced.set(key, { views: t.views + 1, amount: t.amount + amount });
    }
    await this.producer.send({ topic: this.topic, messages });
  }

  get count(): number {
    return this.seq;
  }

  /**
   * Stops producing, then writes one event an hour later to every partition: the watermark passes
   * every window produced so far, so all of them fire.
   */
  async stopAndFlush(): Promise<void> {
    this.stopping = true;
    await this.running;
    const ts = T0 + this.seq * 100 + 3_600_000;
    await this.producer.send({
      topic: this.topic,
      messages: [0, 1].map((partition) => ({
        partition,
        value: JSON.stringify({ user: 'x', page: 'flush', amount: 0, ts }),
      })),
    });
    await this.producer.disconnect();
  }
}

const toEpoch = (value: unknown) => {
  const text = String(value).replace(' ', 'T');
  return Date.parse(/Z|[+-]\d\d:\d\d$/.test(text) ? text : `${text}Z`);
};

/** Adds rows to totals; returns how many (window, page) keys were seen more than once. */
function tally(rows: { window_start: unknown; page: unknown; views: unknown; total_amount: unknown }[]) {
  const totals: Totals = new Map();
  let duplicates = 0;
  for (const row of rows) {
    if (row.page === 'flush') continue;
    const key = `${toEpoch(row.window_start)}|${String(row.page)}`;
    if (totals.has(key)) duplicates += 1;
    const t = totals.get(key) ?? { views: 0, amount: 0 };
    totals.set(key, { views: t.views + Number(row.views), amount: t.amount + Number(row.total_amount) });
  }
  return { totals, duplicates };
}

/** The Iceberg table `lake.<pipeline>.stream` at its current snapshot, by a Flink batch query. */
export async function icebergTotals(env: Env, pipeline: string, lake: string) {
  const session = await SqlGatewaySession.open(env.SLUICE_FLINK_SQL_GATEWAY, `it-read-${pipeline}`, {
    'execution.runtime-mode': 'batch',
  });
  try {
    await session.execute(
      `CREATE CATALOG IF NOT EXISTS lake WITH (${flinkOptions(flinkCatalogOptions(lakeCatalogFromEnv({ ...env, SLUICE_LAKE: lake })))})`,
    );
    const { rows } = await session.execute(
      `SELECT \`window_start\`, \`page\`, \`views\`, \`total_amount\` FROM lake.\`${pipeline}\`.\`stream\``,
    );
    return tally(
      rows.map(([window_start, page, views, total_amount]) => ({ window_start, page, views, total_amount })),
    );
  } finally {
    await session.close();
  }
}

/** The Kafka sink topic's records, read_committed (kafkajs' default isolation). */
export async function kafkaTotals(brokers: string[], topic: string, expectRecords: number) {
  const kafka = new Kafka({ brokers, clientId: `read-${topic}`, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `it-read-${topic}-${Date.now()}`, readUncommitted: false });
  const rows: { window_start: unknown; page: unknown; views: unknown; total_amount: unknown }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void rows.push(JSON.parse(String(message.value))) });
    await until(
      () => `${expectRecords} committed records in ${topic} (has ${rows.length})`,
      async () => (rows.length >= expectRecords ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    // This pause is the assertion's window: a duplicate would arrive after the expected count (the
    // records are already committed, so nothing signals "no more"); exactness without a window is
    // asserted on the Iceberg table's snapshot.
    await sleep(1000);
  } finally {
    await consumer.disconnect();
  }
  return tally(rows);
}

/** The pipeline's Flink jobs that have not ended (its name is `sluice:<pipeline>#<generation>`). */
export async function liveJobs(restUrl: string, pipeline: string) {
  const jobs = await listFlinkJobs(restUrl);
  return jobs.filter(
    (j) =>
      j.name.startsWith(`sluice:${pipeline}#`) && !['FINISHED', 'FAILED', 'CANCELED', 'SUSPENDED'].includes(j.state),
  );
}

/** Only the windows the generator produced (the flush window never fires). */
export function producedTotals(gen: EventGenerator): Totals {
  return gen.produced;
}

export function sortedEntries(t: Totals) {
  return [...t.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** Waits until a stream's `status` query says `state` (a FAILED stream ends the wait with its error). */
export async function waitState(
  handle: WorkflowHandle,
  state: StreamState,
  timeoutMs = 300_000,
): Promise<StreamStatus> {
  let last = '';
  return until(
    () => `${handle.workflowId} to be ${state} (is ${last})`,
    async () => {
      // Unanswered while no worker serves the workflow (one was just SIGKILLed, the next is starting):
      // the server gives the query up; asked again on the next round.
      const st = await handle.query(streamStatus).catch((err: unknown) => {
        if (err instanceof ServiceError) return undefined;
        throw err;
      });
      if (!st) {
        last = 'no answer to the status query yet';
        return undefined;
      }
      last = `${st.state}${st.error ? `: ${st.error}` : ''}`;
      if (st.state === 'FAILED' && state !== 'FAILED') throw new Error(`${handle.workflowId} FAILED: ${st.error}`);
      return st.state === state ? st : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/**
 * Stops the generator, lets every window fire, and returns both sinks' totals (the Iceberg table's
 * current snapshot, the Kafka topic read_committed) beside what was produced.
 */
export async function sinkTotals(
  env: Env,
  lake: string,
  brokers: string[],
  pipeline: string,
  topic: string,
  gen: EventGenerator,
) {
  await gen.stopAndFlush();
  const expected = sortedEntries(gen.produced);
  let table: Awaited<ReturnType<typeof icebergTotals>> | undefined;
  await until(
    () => `the Iceberg table of ${pipeline} to hold all ${expected.length} windows (has ${table?.totals.size ?? 0})`,
    async () => {
      table = await icebergTotals(env, pipeline, lake);
      return table.totals.size >= expected.length ? table : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 2000 },
  );
  const kafka = await kafkaTotals(brokers, `${topic}-out`, expected.length);
  return { expected, lake: table!, kafka };
}
