/**
 * `once(build)`: a function that builds its value on the first call and returns that value ever
 * after.
 *
 * Why the schema modules build their zod schemas through it: with `reuseV8Context`, Temporal's
 * worker evaluates every module of the workflow bundle again for each new workflow run (module
 * state stays per run), and building a few hundred zod schemas costs a few milliseconds each time
 * — for every holder, pipeline and pool run, although only a pool or a pipeline ever parses. Built
 * on first use, a run that never parses never pays. (zod itself is evaluated once and shared, see
 * `lib/zod-shared.ts`, which `workers/bundle.ts` preloads.)
 */
export function once<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
}
