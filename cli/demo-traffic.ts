/**
 * The demo's event generator: page views of several users over three UTC hours, deterministic for
 * a seed, with records out of order (within the stream's allowed lateness) and records that arrive
 * late (after the stream's window for them has fired, so Flink drops them and Spark counts them).
 * It comes in two phases: the late records can only be late once the stream has fired their window,
 * so the demo sends the second phase after it sees that window committed.
 */

export interface DemoEvent {
  user: string;
  page: string;
  amount: number;
  ts: number;
}

export interface DemoTraffic {
  /** The three hour partitions the demo's lambda pipeline covers. */
  partitions: [string, string, string];
  /** Hour 0 and hour 1 up to :20 (some neighbours swapped by a few seconds). */
  phaseA: DemoEvent[];
  /** The late records (for hour 1's first window), hour 1's rest, hour 2, and two records in hour 3 that close hour 2. */
  phaseB: DemoEvent[];
  /** The late records within phaseB. */
  late: DemoEvent[];
  /** The first window of hour 1: its commit in the stream layer means records for it are late now. */
  lateWindowStart: number;
}

const PAGES = ['/home', '/search', '/product', '/cart', '/checkout'];
const MIN = 60_000;
const HOUR = 60 * MIN;

/** A small deterministic PRNG (mulberry32): the same seed gives the same traffic. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Traffic for the three hours starting at `startMs` (a UTC hour). */
export function demoTraffic(startMs: number, seed = 1): DemoTraffic {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const event = (ts: number): DemoEvent => ({
    user: `u${String(1 + Math.floor(rnd() * 20)).padStart(2, '0')}`,
    page: pick(PAGES),
    amount: 1 + Math.floor(rnd() * 100),
    ts,
  });
  // Steady traffic: one record every 40 s or so, in time order.
  const steady = (from: number, to: number) => {
    const out: DemoEvent[] = [];
    for (let ts = from + Math.floor(rnd() * 20_000); ts < to; ts += 20_000 + Math.floor(rnd() * 40_000))
      out.push(event(ts));
    return out;
  };
  // Out of order inside the 5-second lateness: now and then a record 2 s older than the one before it.
  const outOfOrder = (events: DemoEvent[]) => events.flatMap((e, i) => (i % 6 === 5 ? [e, event(e.ts - 2_000)] : [e]));
  const phaseA = outOfOrder(steady(startMs, startMs + HOUR + 20 * MIN));
  const lateWindowStart = startMs + HOUR;
  const late = [event(lateWindowStart + 3 * MIN), event(lateWindowStart + 8 * MIN), event(lateWindowStart + 12 * MIN)];
  const phaseB = [
    ...late,
    ...outOfOrder(steady(startMs + HOUR + 20 * MIN, startMs + 3 * HOUR)),
    // Hour 3: the first record's window fires when the second arrives, and shows hour 2 closed.
    event(startMs + 3 * HOUR + 10_000),
    event(startMs + 3 * HOUR + 20 * MIN),
  ];
  const hour = (ms: number) => new Date(ms).toISOString().slice(0, 13);
  return {
    partitions: [hour(startMs), hour(startMs + HOUR), hour(startMs + 2 * HOUR)],
    phaseA,
    phaseB,
    late,
    lateWindowStart,
  };
}
