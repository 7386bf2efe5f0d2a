/**
 * A small scanner for user-written Spark SQL: just enough lexing (string literals, quoted
 * identifiers, comments) to tell whether the text is one SELECT query, and where it begins.
 * It is not a parser; Spark reports anything else when the job runs.
 */

/** The first keyword of a query and where it starts (after leading whitespace and comments). */
export interface LeadingKeyword {
  keyword: string;
  index: number;
}

/** Scan result: the first problem found, or the query's leading keyword. */
export type SqlScan = { ok: true; leading: LeadingKeyword } | { ok: false; problem: string };

/**
 * Checks that `sql` is a single `SELECT ...` or `WITH ... SELECT ...` query: no `;` outside string
 * literals, quoted identifiers and comments, nothing unterminated. Spark's lexing rules: `'...'`
 * and `"..."` are string literals with backslash escapes (`r'...'` raw strings without), backticks
 * quote identifiers, `--` comments run to the end of the line, and `/* ... *\/` comments nest.
 */
export function scanSelect(sql: string): SqlScan {
  let leading: LeadingKeyword | undefined;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === "'" || c === '"') {
      const raw = (sql[i - 1] === 'r' || sql[i - 1] === 'R') && !/[A-Za-z0-9_]/.test(sql[i - 2] ?? '');
      const end = closeQuote(sql, i, c, !raw);
      if (end < 0) return { ok: false, problem: `unterminated string literal at ${position(sql, i)}` };
      i = end + 1;
    } else if (c === '`') {
      const end = sql.indexOf('`', i + 1);
      if (end < 0) return { ok: false, problem: `unterminated quoted identifier at ${position(sql, i)}` };
      i = end + 1;
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '/' && next === '*') {
      const end = closeBlockComment(sql, i);
      if (end < 0) return { ok: false, problem: `unterminated comment at ${position(sql, i)}` };
      i = end;
    } else if (c === ';') {
      return {
        ok: false,
        problem: `";" at ${position(sql, i)}: must be a single SELECT query (no ";" outside string literals)`,
      };
    } else if (/[A-Za-z_]/.test(c) && leading === undefined) {
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i))![0];
      leading = { keyword: word.toUpperCase(), index: i };
      i += word.length;
    } else if (/\s/.test(c)) {
      i += 1;
    } else {
      if (leading === undefined) leading = { keyword: c, index: i };
      i += 1;
    }
  }
  if (leading === undefined) return { ok: false, problem: 'must be a SELECT query, got no SQL' };
  if (leading.keyword !== 'SELECT' && leading.keyword !== 'WITH') {
    return {
      ok: false,
      problem: `must be a SELECT query (SELECT ... or WITH ... SELECT ...), starts with "${leading.keyword}"`,
    };
  }
  return { ok: true, leading };
}

/** Index of the quote that closes the literal opened at `start`, or -1. */
function closeQuote(sql: string, start: number, quote: string, escapes: boolean): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (escapes && sql[i] === '\\') i += 1;
    else if (sql[i] === quote) return i;
  }
  return -1;
}

/** Index just past the (possibly nested) block comment opened at `start`, or -1. */
function closeBlockComment(sql: string, start: number): number {
  let depth = 0;
  for (let i = start; i < sql.length - 1; i++) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth += 1;
      i += 1;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth -= 1;
      i += 1;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** `line L, column C` (1-based) of `index`. */
function position(sql: string, index: number): string {
  const before = sql.slice(0, index);
  const line = before.split('\n').length;
  const column = index - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}
