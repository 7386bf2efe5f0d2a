/**
 * A table's changes through PostgreSQL's logical decoding (docs/intake.md#postgresql): a
 * publication of the one table, a replication slot decoding it with `pgoutput`, read with
 * `pg_logical_slot_peek_binary_changes`. Peeking does not consume: the slot moves only when
 * {@link advanceSlot} is called, after the changes read are committed downstream. So the slot is
 * never ahead of what Kafka holds, and a reader that died after its Kafka commit and before the
 * advance reads those transactions again and skips them by their end LSN.
 *
 * The first start creates the slot on a replication connection inside a REPEATABLE READ
 * transaction (`SNAPSHOT 'use'`): the rows that transaction reads are exactly the table as of the
 * slot's consistent point, and the slot decodes every transaction that commits after it. No row
 * is missed between the two and none is seen twice.
 */
import type { Client } from 'pg';
import { assembleTransactions, formatLsn, parseLsn, type Lsn, type PgTransaction } from './pgoutput';
import { connectPostgres, quoteLiteral, quoteQualified } from './postgres';

export interface SlotState {
  exists: boolean;
  /** How far the slot's consumer confirmed (what a peek starts after). */
  confirmedFlush?: Lsn;
  /** Whether a connection is decoding it right now (a peek in progress, or a zombie's). */
  active?: boolean;
}

export async function slotState(client: Client, slot: string): Promise<SlotState> {
  const r = await client.query<{ confirmed: string | null; active: boolean; plugin: string }>(
    'SELECT confirmed_flush_lsn::text AS confirmed, active, plugin FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  const row = r.rows[0];
  if (!row) return { exists: false };
  if (row.plugin !== 'pgoutput') {
    throw new Error(`replication slot ${slot} decodes with ${row.plugin}, not pgoutput: drop it or rename the intake`);
  }
  return { exists: true, active: row.active, ...(row.confirmed ? { confirmedFlush: parseLsn(row.confirmed) } : {}) };
}

/** Drops the slot if it exists (an earlier attempt's, whose snapshot never committed). */
export async function dropSlot(client: Client, slot: string): Promise<void> {
  await client.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
    slot,
  ]);
}

/**
 * Makes `publication` publish exactly `table` (created, or set to it). It must exist before the
 * slot decodes a change: pgoutput looks publications up as of each change.
 */
export async function ensurePublication(client: Client, publication: string, table: string): Promise<void> {
  const exists = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
  const target = `${quoteQualified(publication)} ${exists.rows.length ? 'SET' : 'FOR'} TABLE ${quoteQualified(table)}`;
  await client.query(exists.rows.length ? `ALTER PUBLICATION ${target}` : `CREATE PUBLICATION ${target}`);
}

/** The table's columns that exist, with their type OIDs (a missing table is an error naming it). */
export async function tableColumns(client: Client, table: string): Promise<{ name: string; typeOid: number }[]> {
  const r = await client.query<{ name: string; type: number }>(
    `SELECT attname AS name, atttypid::int AS type FROM pg_attribute
      WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [quoteQualified(table)],
  );
  if (r.rows.length === 0) throw new TableNotFound(table);
  return r.rows.map((c) => ({ name: c.name, typeOid: c.type }));
}

export class TableNotFound extends Error {
  constructor(readonly table: string) {
    super(`table ${table} does not exist (or has no columns)`);
    this.name = 'TableNotFound';
  }
}

export interface Snapshot {
  /** The slot's consistent point: the snapshot's rows are the table as of it. */
  consistentPoint: Lsn;
  /** Every row as column → text (null for NULL), and the columns' type OIDs. */
  rows: Record<string, string | null>[];
  types: Record<string, number>;
}

/**
 * Creates the slot and, with `withRows`, reads the table as of its consistent point (module
 * comment). The rows come in fetches of `fetchRows` through a cursor; they are all returned.
 */
export async function createSlot(
  url: string,
  slot: string,
  table: string,
  opts: { withRows: boolean; fetchRows?: number },
): Promise<Snapshot> {
  // Replication connections speak the simple query protocol only: no parameters (names are quoted).
  const repl = await connectPostgres(url, { replication: 'database', applicationName: `sluice ${slot}` });
  const text = { types: { getTypeParser: () => (v: string) => v } };
  try {
    if (!opts.withRows) {
      const r = await repl.query(
        `CREATE_REPLICATION_SLOT ${quoteQualified(slot)} LOGICAL pgoutput (SNAPSHOT 'nothing')`,
      );
      return {
        consistentPoint: parseLsn((r.rows[0] as { consistent_point: string }).consistent_point),
        rows: [],
        types: {},
      };
    }
    await repl.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const created = await repl.query(
      `CREATE_REPLICATION_SLOT ${quoteQualified(slot)} LOGICAL pgoutput (SNAPSHOT 'use')`,
    );
    const consistentPoint = parseLsn((created.rows[0] as { consistent_point: string }).consistent_point);
    await repl.query(`DECLARE sluice_snapshot NO SCROLL CURSOR FOR SELECT * FROM ${quoteQualified(table)}`);
    const rows: Record<string, string | null>[] = [];
    let types: Record<string, number> = {};
    for (;;) {
      const r = await repl.query({ text: `FETCH ${opts.fetchRows ?? 5000} FROM sluice_snapshot`, ...text });
      types = Object.fromEntries(r.fields.map((f) => [f.name, f.dataTypeID]));
      rows.push(...(r.rows as Record<string, string | null>[]));
      if (r.rows.length === 0) break;
    }
    await repl.query('COMMIT');
    return { consistentPoint, rows, types };
  } finally {
    await repl.end().catch(() => undefined);
  }
}

export interface Peeked {
  /** Whole committed transactions, in commit order. */
  transactions: PgTransaction[];
  /** The WAL position the peek decoded up to: nothing committed before it is left out. */
  upto: Lsn;
}

/**
 * The committed transactions after the slot's confirmed position, decoded up to the current end
 * of WAL and cut after about `maxChanges` changes (at a transaction's end: a transaction is never
 * split). Consumes nothing.
 */
export async function peekChanges(
  client: Client,
  slot: string,
  publication: string,
  maxChanges: number,
): Promise<Peeked> {
  const end = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  const upto = end.rows[0]!.lsn;
  const r = await client.query<{ lsn: string; data: Buffer }>(
    `SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, $3,
       'proto_version', '1', 'publication_names', ${quoteLiteral(publication)})`,
    [slot, upto, maxChanges],
  );
  const { transactions } = assembleTransactions(r.rows);
  return { transactions, upto: parseLsn(upto) };
}

/**
 * Moves the slot's confirmed position to `lsn` (the server then frees the WAL before it). Only
 * forward: PostgreSQL refuses a move backwards, and an earlier attempt may already have moved it.
 */
export async function advanceSlot(client: Client, slot: string, lsn: Lsn): Promise<void> {
  const state = await slotState(client, slot);
  if (!state.exists || (state.confirmedFlush !== undefined && state.confirmedFlush >= lsn)) return;
  await client.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [slot, formatLsn(lsn)]);
}

/** Bytes of WAL written after `lsn` (the source's lag; it counts other tables' writes too). */
export async function walBytesAfter(client: Client, lsn: Lsn): Promise<number> {
  const r = await client.query<{ lag: string }>(
    'SELECT greatest(pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn), 0)::text AS lag',
    [formatLsn(lsn)],
  );
  return Number(r.rows[0]!.lag);
}
