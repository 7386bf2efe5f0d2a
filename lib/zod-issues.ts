import type { z } from 'zod';

/**
 * A zod error as one `path: problem` line per issue, e.g. `queues[1].guaranteed: guaranteed 0.6 >
 * max 0.5` or `transform.aggregates[1].column: unknown column "amout"`; the root is `(root)`.
 * Pure (imports only zod's types): used by workflow code, policies and the CLI alike.
 */
export function formatZodIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * Parses `input` with `schema` and returns the output, or throws naming every bad field. With a
 * string `what`, the error is an `Error` reading `invalid <what>: <path: problem>; ...` (its cause
 * the `ZodError`); with a function, that function builds the error from the issue lines (for a
 * typed error such as `PolicyConfigError`). Synchronous: fit for an update validator.
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string | ((issues: string[], cause: z.ZodError) => Error),
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = formatZodIssues(result.error);
  if (typeof what === 'function') throw what(issues, result.error);
  throw new Error(`invalid ${what}: ${issues.join('; ')}`, { cause: result.error });
}
