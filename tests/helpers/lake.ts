import type { ActivityDeps } from '../../activities';
import { queryRows, readCommittedPartition, withSession } from '../../engines/spark-connect-step';
import { sparkTableName } from '../../lib/lake-catalog';

/** A batch partition's rows in the table's current snapshot (or at `snapshotId`). */
export async function lakeRows(
  deps: Pick<ActivityDeps, 'sparkConnect'>,
  pipeline: string,
  partition: string,
  snapshotId?: string,
): Promise<Record<string, unknown>[]> {
  const read = await withSession(deps.sparkConnect, (client, session) =>
    readCommittedPartition(client, session, {
      table: sparkTableName(pipeline, 'batch'),
      partition,
      snapshotId,
      limit: 10_000,
    }),
  );
  return read.sample;
}

/** Any SQL query's rows (int64 values as numbers when exact). */
export async function sqlRows(
  deps: Pick<ActivityDeps, 'sparkConnect'>,
  query: string,
): Promise<Record<string, unknown>[]> {
  return withSession(deps.sparkConnect, (client, session) => queryRows(client, session, query));
}
