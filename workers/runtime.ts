import { DefaultLogger, Runtime } from '@temporalio/worker';

/**
 * The SDK's runtime with its logs at WARN, on stderr. The SDK core's own lines (Rust) would go to
 * stdout by default, in the middle of a command's `--json` output (seen: a core WARN broke the
 * demo's JSON): they are forwarded to the same logger instead. Call once, before any worker.
 */
export function installWorkerRuntime(): void {
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } } },
  });
}
