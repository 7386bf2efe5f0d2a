/**
 * The one polling helper: every wait for an engine, a process or a server to reach a state goes
 * through `until`, so each wait names what it waits for, has a deadline and can be aborted.
 */

/** A wait that ran out of time; its message says what was awaited and what was seen last. */
export class PollTimeout extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PollTimeout';
  }
}

export interface PollOptions {
  /** Give up after this long. @default 60_000 */
  timeoutMs?: number;
  /** Pause between probes. @default 200 */
  intervalMs?: number;
  /** Stops the wait (the abort reason is thrown). */
  signal?: AbortSignal;
}

/**
 * Calls `probe` until it returns something other than `undefined`, and returns that. A probe that
 * throws ends the wait with its error (a job that FAILED is not worth waiting for). After
 * `timeoutMs` it throws {@link PollTimeout} naming `what`; `what` may be a function, evaluated
 * then, so the message can carry the last state the probe saw.
 */
export async function until<T>(
  what: string | (() => string),
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 60_000, intervalMs = 200, signal }: PollOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) {
      throw new PollTimeout(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`,
      );
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())), signal);
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
