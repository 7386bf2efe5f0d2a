/** Nearest-rank percentile of an ascending array; 0 for an empty one. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export interface WaitStats {
  jobs: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

/** Wait-time summary in seconds (input in ms). */
export function waitStats(waitsMs: number[]): WaitStats {
  const sorted = waitsMs.slice().sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length);
  const sec = (ms: number): number => Math.round(ms / 100) / 10;
  return {
    jobs: sorted.length,
    p50: sec(percentile(sorted, 50)),
    p95: sec(percentile(sorted, 95)),
    p99: sec(percentile(sorted, 99)),
    mean: sec(mean),
  };
}

/** Jain's fairness index (Σx)² / (n·Σx²): 1 when all x are equal, 1/n when one gets everything. */
export function jain(xs: readonly number[]): number {
  const sum = xs.reduce((s, x) => s + x, 0);
  const squares = xs.reduce((s, x) => s + x * x, 0);
  return squares === 0 ? 1 : (sum * sum) / (xs.length * squares);
}
