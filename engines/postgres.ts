/**
 * PostgreSQL connections (the `pg` client): the one place that opens one, so connection settings
 * (timeouts, the application name the server's `pg_stat_activity` shows) are set once.
 */
import { Client } from 'pg';

export interface PostgresOptions {
  /** `'database'`: a logical replication connection (CREATE_REPLICATION_SLOT; simple queries only). */
  replication?: 'database';
  connectTimeoutMs?: number;
  applicationName?: string;
}

/** A connected client; the caller ends it (`withPostgres` does). */
export async function connectPostgres(url: string, opts: PostgresOptions = {}): Promise<Client> {
  const client = new Client({
    connectionString: url,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    application_name: opts.applicationName ?? 'sluice',
    ...(opts.replication ? { replication: opts.replication } : {}),
  });
  // A connection the server drops later (a restart) emits 'error' on the client: without a
  // listener Node would end the process; the failed query reports it instead.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export async function withPostgres<T>(
  url: string,
  fn: (client: Client) => Promise<T>,
  opts: PostgresOptions = {},
): Promise<T> {
  const client = await connectPostgres(url, opts);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether the server answers a query (the stack's health check). */
export async function postgresReady(url: string, timeoutMs = 2000): Promise<boolean> {
  return withPostgres(url, async (c) => (await c.query('SELECT 1 AS ok')).rows.length === 1, {
    connectTimeoutMs: timeoutMs,
    applicationName: 'sluice-health',
  });
}

/** A quoted identifier, `public.orders` → `"public"."orders"` (a name is never spliced in raw). */
export function quoteQualified(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}

/** A quoted string literal, for the replication protocol's commands (they take no parameters). */
export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
