/**
 * The one JSON-over-HTTP helper of the engine clients (Flink's REST APIs, Spark's master). Every
 * call has a timeout, and every failure says whether a retry may help:
 * - no answer (timeout, refused or reset connection) or a 5xx, 408 or 429: `retryable`;
 * - any other 4xx: the server refused the request itself: not retryable.
 * The engine clients decide on top of this what is the engine's own refusal of a job (bad SQL),
 * which is the only failure they report as permanent.
 */

export class HttpError extends Error {
  constructor(
    message: string,
    /** The HTTP status; undefined when no answer came. */
    readonly status: number | undefined,
    /** True when the same request may succeed later (see the module comment). */
    readonly retryable: boolean,
    /** The response body (as text), when there was one. */
    readonly body: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HttpError';
  }
}

export interface RequestOptions {
  method?: string;
  /** Sent as JSON, unless a string or URLSearchParams (sent as they are). */
  body?: unknown;
  headers?: Record<string, string>;
  /** @default 30_000 */
  timeoutMs?: number;
  /** Aborts the request: the abort reason is thrown as it is (a cancellation, not an HTTP failure). */
  signal?: AbortSignal;
  /** Turns an error body into the message to report (engines wrap their messages in JSON). */
  describe?: (body: string) => string;
}

/** Statuses that mean "not now" rather than "no". */
const RETRYABLE_STATUS = new Set([408, 425, 429]);

/** Performs a request and returns the response body as text; throws {@link HttpError} unless 2xx. */
export async function requestText(url: string, opts: RequestOptions = {}): Promise<string> {
  const method = opts.method ?? 'GET';
  const what = `${method} ${url}`;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const { body, contentType } = encode(opts.body);
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method,
      body,
      headers: { ...(contentType ? { 'content-type': contentType } : {}), ...opts.headers },
      signal,
    });
    text = await res.text();
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const reason = timeout.aborted ? `no answer within ${timeoutMs} ms` : describeNetworkError(err);
    throw new HttpError(`${what}: ${reason}`, undefined, true, undefined, { cause: err });
  }
  if (!res.ok) {
    const message = opts.describe ? opts.describe(text) : text.slice(0, 500);
    const retryable = res.status >= 500 || RETRYABLE_STATUS.has(res.status);
    throw new HttpError(`${what}: HTTP ${res.status}: ${message}`, res.status, retryable, text);
  }
  return text;
}

/** As {@link requestText}, parsing the body as JSON (an empty body is `{}`). */
export async function requestJson<T>(url: string, opts: RequestOptions = {}): Promise<T> {
  const text = await requestText(url, opts);
  try {
    return (text ? JSON.parse(text) : {}) as T;
  } catch (err) {
    // A cut-off body (a proxy or a server restarting): worth another try.
    throw new HttpError(
      `${opts.method ?? 'GET'} ${url}: the answer is not JSON: ${text.slice(0, 200)}`,
      200,
      true,
      text,
      {
        cause: err,
      },
    );
  }
}

/** True for an error a retry may fix: an {@link HttpError} that says so. */
export function isRetryableHttpError(err: unknown): boolean {
  return err instanceof HttpError && err.retryable;
}

/** `base` without trailing slashes, joined with `path`. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path.startsWith('/') ? '' : '/'}${path}`;
}

function encode(body: unknown): { body?: string; contentType?: string } {
  if (body === undefined) return {};
  if (typeof body === 'string') return { body };
  if (body instanceof URLSearchParams)
    return { body: body.toString(), contentType: 'application/x-www-form-urlencoded' };
  return { body: JSON.stringify(body), contentType: 'application/json' };
}

/** fetch's "fetch failed" hides the reason in `cause` (ECONNREFUSED, ECONNRESET, ...). */
function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}
