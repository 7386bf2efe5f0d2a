import * as crypto from 'node:crypto';
import type { Table } from 'apache-arrow';
import { OPERATION_PROPERTY, PARTITION_COLUMN, sqlString, STEP_PROPERTY, type BatchStepPlan } from '../lib/spark-step';
import {
  isUnavailable,
  overwriteWhere,
  SparkConnectClient,
  SparkConnectError,
  sqlCommand,
  sqlQuery,
  type ExecuteOptions,
  type SparkConnectConfig,
} from './spark-connect';

/*
 * A batch step on the Spark Connect server, run at most once per step name:
 * 1. the table's snapshot log is asked for a commit of this step (a retry after the step
 *    committed, whatever happened to the worker or the server since): found → its result;
 * 2. the executions earlier attempts started are reattached to: one still running is followed
 *    to its end instead of being started again;
 * 3. otherwise it executes: the setup statements, then the write, under session and operation ids
 *    derived from the step name, the activity attempt and the execution number (the server
 *    accepts an operation id once; a crashed attempt's session must stay addressable for its
 *    reattach).
 */

/** A UUID derived from a key (the server wants UUIDs for session and operation ids). */
export function uuidFor(key: string): string {
  const h = crypto.createHash('sha256').update(key).digest('hex');
  // Version 8 (custom), RFC 9562 variant bits.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The ids of one execution of a step: its session and its write operation. */
export interface ExecutionIds {
  sessionId: string;
  operationId: string;
}

/** The ids of a step's execution number `n` of activity attempt `attempt` (n counts executions within one attempt). */
export function executionIds(stepName: string, attempt: number, n = 0): ExecutionIds {
  const key = `${stepName}#${attempt}.${n}`;
  return { sessionId: uuidFor(`${key}#session`), operationId: uuidFor(`${key}#write`) };
}

/** The tag every operation of a step carries (interrupt by tag; jobs found by tag in Spark's UI API). */
export const stepTag = (stepName: string) =>
  `sluice-step-${crypto.createHash('sha256').update(stepName).digest('hex').slice(0, 24)}`;

export interface CommittedStep {
  snapshotId: string;
  /** Rows the commit wrote into the partition. */
  rows: number;
  applicationId?: string;
  operationId?: string;
}

export interface ConnectStepOutcome {
  commit: CommittedStep | undefined;
  /** How the result was reached: a commit found, an earlier execution followed, or executed now. */
  via: 'found' | 'reattached' | 'executed';
  ids?: ExecutionIds;
}

export interface ConnectStepOptions extends ExecuteOptions {
  /** Told the ids before anything runs under them (heartbeats carry them). */
  onExecution?: (ids: ExecutionIds) => void;
}

/**
 * One step, at most once: its commit if there is one; else the first of `earlier` executions the
 * server still runs, followed to its end; else a new execution under `ids`.
 */
export async function runConnectStep(
  client: SparkConnectClient,
  step: { stepName: string; plan: BatchStepPlan; ids: ExecutionIds; earlier: ExecutionIds[] },
  opts: ConnectStepOptions = {},
): Promise<ConnectStepOutcome> {
  const lookupSession = uuidFor(`${step.ids.sessionId}#lookup`);
  try {
    const found = await findStepCommit(client, lookupSession, step.plan.table, step.stepName);
    if (found) return { commit: found, via: 'found' };

    for (const ids of step.earlier) {
      try {
        opts.onExecution?.(ids);
        await client.reattach(ids.sessionId, ids.operationId, opts);
      } catch (err) {
        // Unknown to the server (never started there, over and released, lost with a restarted
        // server) or ended in an error: either way it no longer runs. Only an unreachable
        // server leaves the question open.
        if (isUnavailable(err) || opts.signal?.aborted) throw err;
        continue;
      }
      const commit = await findStepCommit(client, lookupSession, step.plan.table, step.stepName);
      // It ran to its end: committed, or wrote an empty partition (no commit to find).
      return { commit, via: 'reattached', ids };
    }

    opts.onExecution?.(step.ids);
    const { sessionId, operationId } = step.ids;
    const tags = [stepTag(step.stepName)];
    try {
      for (const [i, statement] of step.plan.setup.entries()) {
        await runSetup(client, { sessionId, operationId: uuidFor(`${operationId}#setup${i}`), statement, tags });
      }
      await client.execute(
        {
          sessionId,
          operationId,
          tags,
          plan: overwriteWhere(step.plan.table, step.plan.query, step.plan.overwrite, {
            ...step.plan.options,
            [`snapshot-property.${OPERATION_PROPERTY}`]: operationId,
          }),
        },
        opts,
      );
    } finally {
      // A cancelled step's session stays until its operation is interrupted (the caller does it).
      if (!opts.signal?.aborted) await client.releaseSession(sessionId).catch(() => undefined);
    }
    const commit = await findStepCommit(client, lookupSession, step.plan.table, step.stepName);
    return { commit, via: 'executed', ids: step.ids };
  } finally {
    await client.releaseSession(lookupSession).catch(() => undefined);
  }
}

/**
 * A setup statement; `CREATE TABLE IF NOT EXISTS` of two steps racing on a new table may lose
 * the catalog commit to the other (the table then exists): run once more and it sees it.
 */
async function runSetup(
  client: SparkConnectClient,
  s: { sessionId: string; operationId: string; statement: string; tags: string[] },
): Promise<void> {
  try {
    await client.execute({
      sessionId: s.sessionId,
      operationId: s.operationId,
      tags: s.tags,
      plan: sqlCommand(s.statement),
    });
  } catch (err) {
    if (!(err instanceof SparkConnectError) || !/already exists|CommitFailed/i.test(err.message)) throw err;
    await client.execute({
      sessionId: s.sessionId,
      operationId: uuidFor(`${s.operationId}#again`),
      tags: s.tags,
      plan: sqlCommand(s.statement),
    });
  }
}

/**
 * A client and a session of their own for `fn` (reads of the lake), both released after. Steps
 * manage their sessions themselves: theirs must outlive a crash.
 */
export async function withSession<T>(
  cfg: SparkConnectConfig,
  fn: (client: SparkConnectClient, sessionId: string) => Promise<T>,
): Promise<T> {
  const client = new SparkConnectClient(cfg);
  const sessionId = crypto.randomUUID();
  try {
    return await fn(client, sessionId);
  } finally {
    await client.releaseSession(sessionId).catch(() => undefined);
    client.close();
  }
}

/** Rows of a query as plain JSON-safe objects (small results only): see {@link plainRows}. */
export async function queryRows(
  client: SparkConnectClient,
  sessionId: string,
  query: string,
): Promise<Record<string, unknown>[]> {
  const { table } = await client.execute({ sessionId, operationId: crypto.randomUUID(), plan: sqlQuery(query) });
  return table ? plainRows(table) : [];
}

/** An Arrow table's rows as plain objects; int64 values (BigInt) as numbers when exact, else strings. */
export function plainRows(table: Table): Record<string, unknown>[] {
  return table.toArray().map((r) => {
    const row: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r.toJSON() as Record<string, unknown>)) {
      row[k] = typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v;
    }
    return row;
  });
}

/** The commit of the table that carries this step's name, newest first; undefined without one (or without the table). */
export async function findStepCommit(
  client: SparkConnectClient,
  sessionId: string,
  table: string,
  stepName: string,
): Promise<CommittedStep | undefined> {
  let rows: Record<string, unknown>[];
  try {
    rows = await queryRows(
      client,
      sessionId,
      `SELECT CAST(snapshot_id AS STRING) AS snapshot_id, summary FROM ${table}.snapshots ` +
        `WHERE summary[${sqlString(STEP_PROPERTY)}] = ${sqlString(stepName)} ORDER BY committed_at DESC LIMIT 1`,
    );
  } catch (err) {
    if (err instanceof SparkConnectError && err.errorClass === 'TABLE_OR_VIEW_NOT_FOUND') return undefined;
    throw err;
  }
  const row = rows[0];
  if (!row) return undefined;
  const summary = mapOf(row.summary);
  return {
    snapshotId: String(row.snapshot_id),
    rows: Number(summary['added-records'] ?? 0),
    applicationId: summary['spark.app.id'],
    operationId: summary[OPERATION_PROPERTY],
  };
}

/** Arrow gives a MAP<STRING,STRING> as a Map or as a list of {key, value} entries, depending on the path. */
export function mapOf(v: unknown): Record<string, string> {
  if (v instanceof Map) return Object.fromEntries(v);
  if (v && typeof v === 'object' && 'toJSON' in v) return mapOf((v as { toJSON(): unknown }).toJSON());
  if (Array.isArray(v)) return Object.fromEntries(v.map((e: { key: string; value: string }) => [e.key, e.value]));
  return (v ?? {}) as Record<string, string>;
}

/** A partition as committed in a snapshot: its rows (bounded) and count, and the table's columns with Spark's types. */
export async function readCommittedPartition(
  client: SparkConnectClient,
  sessionId: string,
  at: { table: string; partition: string; snapshotId?: string; limit?: number },
): Promise<{ rows: number; columns: { name: string; type: string }[]; sample: Record<string, unknown>[] }> {
  const version = at.snapshotId ? ` VERSION AS OF ${BigInt(at.snapshotId).toString()}` : '';
  const where = `WHERE \`${PARTITION_COLUMN}\` = ${sqlString(at.partition)}`;
  const [count] = await queryRows(client, sessionId, `SELECT count(*) AS n FROM ${at.table}${version} ${where}`);
  const described = await queryRows(client, sessionId, `DESCRIBE TABLE ${at.table}`);
  const columns: { name: string; type: string }[] = [];
  for (const r of described) {
    const name = String(r.col_name ?? '');
    if (name === '' || name.startsWith('#')) break;
    if (name !== PARTITION_COLUMN) columns.push({ name, type: String(r.data_type) });
  }
  const names = columns.map((c) => `\`${c.name.replace(/`/g, '``')}\``).join(', ');
  const sample =
    (at.limit ?? 0) > 0 && names
      ? await queryRows(
          client,
          sessionId,
          `SELECT ${names} FROM ${at.table}${version} ${where} ORDER BY ${names} LIMIT ${at.limit}`,
        )
      : [];
  return { rows: Number(count?.n ?? 0), columns, sample };
}
