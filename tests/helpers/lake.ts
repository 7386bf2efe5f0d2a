import * as crypto from 'node:crypto';
import type { ActivityDeps } from '../../activities';
import { SparkConnectClient } from '../../engines/spark-connect';
import { queryRows, readCommittedPartition } from '../../engines/spark-connect-step';
import { sparkTableName } from '../../lib/lake-catalog';

/** Runs `fn` with a Spark Connect client and a session of its own, both closed after. */
export async function withConnect<T>(
  deps: Pick<ActivityDeps, 'sparkConnect'>,
  fn: (client: SparkConnectClient, session: string) => Promise<T>,
): Promise<T> {
  const client = new SparkConnectClient(deps.sparkConnect);
  const session = crypto.randomUUID();
  try {
    return await fn(client, session);
  } finally {
    await client.releaseSession(session).catch(() => undefined);
    client.close();
  }
}

/** A batch partition's rows in the table's current snapshot (or at `snapshotId`). */
export async function lakeRows(
  deps: Pick<ActivityDeps, 'sparkConnect'>,
  pipeline: string,
  partition: string,
  snapshotId?: string,
): Promise<Record<string, unknown>[]> {
  return withConnect(deps, async (client, session) => {
    const read = await readCommittedPartition(client, session, {
      table: sparkTableName(pipeline, 'batch'),
      partition,
      snapshotId,
      limit: 10_000,
    });
    return read.sample.map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
    );
  });
}

/** Any SQL query's rows (bigints as numbers when they fit). */
export async function sqlRows(
  deps: Pick<ActivityDeps, 'sparkConnect'>,
  query: string,
): Promise<Record<string, unknown>[]> {
  return withConnect(deps, async (client, session) =>
    (await queryRows(client, session, query)).map((r) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [
          k,
          typeof v === 'bigint' && Number.isSafeInteger(Number(v)) ? Number(v) : v,
        ]),
      ),
    ),
  );
}
