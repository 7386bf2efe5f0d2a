import { DefaultLogger, Runtime } from '@temporalio/worker';

export interface WorkerRuntimeOptions {
  /**
   * The SDK core's own lines (Rust) go to stdout by default, in the middle of a command's `--json`
   * output (seen: a core WARN broke the demo's JSON). Forwarding sends them to the logger, on
   * stderr, instead. But a runtime that forwards holds Node's event loop open until
   * `Runtime.shutdown()` (and it ignores SIGTERM): only a process that ends with `process.exit`
   * (bin/sluice.js, bench/run.ts) may forward. Jest files that forwarded kept CI's jest from ever
   * exiting (seen: all tests passed, then a hang until the 90-minute limit).
   */
  forwardCoreLogs: boolean;
}

/** The SDK's runtime with its logs at WARN, on stderr. Call once, before any worker. */
export function installWorkerRuntime({ forwardCoreLogs }: WorkerRuntimeOptions): void {
  const filter = { core: 'WARN', other: 'ERROR' } as const;
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: forwardCoreLogs ? { forward: {}, filter } : { console: {}, filter } },
  });
}
