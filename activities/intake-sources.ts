/**
 * The intake's sources behind one interface: read a batch after a position, and hear that a
 * position was committed. The intake activity (intake.ts) owns the loop, the Kafka transaction and
 * the counts; a source only reads, turns what it read into normalised records or dead letters, and
 * says where it is. Each kind keeps its own part of the committed position (`files`, `postgres`,
 * `kafka`).
 */
import { ApplicationFailure } from '@temporalio/common';
import * as path from 'node:path';
import type { Client } from 'pg';
import { readLines, SourceDirNotFound, type FilePositions } from '../engines/file-source';
import { formatLsn, parseLsn, type PgChange } from '../engines/pgoutput';
import { TopicNotFound, type KafkaClient } from '../engines/kafka';
import { TopicReader } from '../engines/kafka-topic-reader';
import { connectPostgres } from '../engines/postgres';
import {
  advanceSlot,
  createSlot,
  dropSlot,
  ensurePublication,
  peekChanges,
  slotState,
  TableNotFound,
  walBytesAfter,
} from '../engines/postgres-cdc';
import { ErrorType } from '../lib/errors';
import { pgRow } from '../lib/intake/postgres-rows';
import { normaliseKey, normaliseLine, normaliseRecord, normaliseText, type Normalised } from '../lib/intake/records';
import { intakeSlotName, type IntakeSpec } from '../lib/intake/spec';

/** Where a source is, as committed with the records read before it (JSON). */
export interface SourcePosition {
  files?: FilePositions;
  postgres?: {
    /** The end LSN of the last transaction delivered (or the snapshot's consistent point). */
    lsn: string;
  };
  /** The next offset to read per partition of the source topic (none yet: its oldest). */
  kafka?: Record<string, string>;
}

/** One thing read: a record (a null `value` is a tombstone), or a dead letter, with where it came from. */
export type SourceItem =
  | { kind: 'record'; normalised: Normalised & { ok: true }; source: Record<string, string | number> }
  | { kind: 'tombstone'; key: string }
  | { kind: 'skipped' }
  | { kind: 'dead'; reason: string; raw: string; source: Record<string, string | number> };

export interface SourceRead {
  items: SourceItem[];
  position: SourcePosition;
  /** Whether the position moved (false: nothing new, the loop waits). */
  moved: boolean;
  /** How much of the source is not read yet, in the source's {@link IntakeSource.lagUnit}. */
  lag: number;
}

export type LagUnit = 'bytes' | 'messages';

/** What a source kind's lag is counted in: files and WAL in bytes, a topic in messages. */
export function lagUnitOf(kind: IntakeSpec['source']['kind']): LagUnit {
  switch (kind) {
    case 'files':
    case 'postgres':
      return 'bytes';
    case 'kafka':
      return 'messages';
  }
}

export interface IntakeSource {
  /** {@link lagUnitOf} the source's kind. */
  lagUnit: LagUnit;
  read(position: SourcePosition, maxItems: number): Promise<SourceRead>;
  /** After `position` is committed with everything read before it. */
  committed(position: SourcePosition): Promise<void>;
  close(): Promise<void>;
}

export interface SourceEnv {
  /** The database a postgres source without `url` reads (SLUICE_POSTGRES_URL). */
  postgresUrl: string;
  /** The cluster a kafka source's topic is on (the intake's own). */
  kafka: KafkaClient;
}

export async function openSource(spec: IntakeSpec, env: SourceEnv): Promise<IntakeSource> {
  switch (spec.source.kind) {
    case 'files':
      return filesSource(spec);
    case 'postgres':
      return postgresSource(spec, spec.source.url ?? env.postgresUrl);
    case 'kafka':
      return kafkaSource(spec, env.kafka);
  }
}

/** A source's configuration or state that no retry can fix: the intake fails with the reason. */
const permanent = (spec: IntakeSpec, err: Error, type: string = ErrorType.invalidInput) =>
  ApplicationFailure.create({ message: `intake ${spec.name}: ${err.message}`, type, nonRetryable: true, cause: err });

function filesSource(spec: IntakeSpec): IntakeSource {
  if (spec.source.kind !== 'files') throw new Error('not a files source');
  const source = spec.source;
  const dir = path.resolve(source.dir);
  return {
    lagUnit: lagUnitOf(spec.source.kind),
    async read(position, maxItems) {
      const files = position.files ?? {};
      const read = await readLines({
        dir,
        pattern: source.pattern,
        positions: files,
        maxLines: maxItems,
        header: source.format === 'csv',
      }).catch((err: unknown) => {
        // A missing directory may appear (a mount, a late writer): retried with backoff. Anything
        // else the reader refuses (a corrupt stored position) no retry can fix.
        if (err instanceof SourceDirNotFound) {
          throw ApplicationFailure.create({
            message: `intake ${spec.name}: ${err.message}`,
            type: 'SourceDirNotFound',
            cause: err,
          });
        }
        throw permanent(spec, err as Error);
      });
      const items = read.lines.map((line): SourceItem => {
        const n = normaliseLine(spec, line.text, line.header);
        const from = { file: line.path, offset: line.offset };
        return n.ok
          ? { kind: 'record', normalised: n, source: from }
          : { kind: 'dead', reason: n.reason, raw: line.text, source: from };
      });
      const moved = read.lines.length > 0 || !samePositions(read.positions, files);
      return { items, position: { files: read.positions }, moved, lag: read.lagBytes };
    },
    async committed() {},
    async close() {},
  };
}

/** Whether reading moved nothing (no line taken, no file dropped, restarted or first seen). */
function samePositions(a: FilePositions, b: FilePositions): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => b[k] && b[k].offset === a[k]!.offset && b[k].path === a[k]!.path && b[k].head === a[k]!.head);
}

async function postgresSource(spec: IntakeSpec, url: string): Promise<IntakeSource> {
  if (spec.source.kind !== 'postgres') throw new Error('not a postgres source');
  const source = spec.source;
  const slot = intakeSlotName(spec.name);
  const publication = slot;
  const client: Client = await connectPostgres(url, { applicationName: `sluice intake ${spec.name}` });

  const rowItem = (row: Record<string, string | null>, types: Record<string, number>, at: Record<string, string>) => {
    const n = normaliseRecord(spec, pgRow(row, types), true);
    return n.ok
      ? ({ kind: 'record', normalised: n, source: at } as const)
      : ({ kind: 'dead', reason: n.reason, raw: JSON.stringify(row), source: at } as const);
  };
  const keyItem = (row: Record<string, string | null>, types: Record<string, number>, at: Record<string, string>) => {
    const n = normaliseKey(spec, pgRow(row, types), true);
    return n.ok
      ? ({ kind: 'tombstone', key: n.key! } as const)
      : ({ kind: 'dead', reason: `delete: ${n.reason}`, raw: JSON.stringify(row), source: at } as const);
  };
  const changeItems = (c: PgChange, at: Record<string, string>): SourceItem[] => {
    if (c.op === 'delete') return [source.deletes === 'tombstone' ? keyItem(c.row, c.types, at) : { kind: 'skipped' }];
    // A TOASTed value an update left unchanged is not sent unless the table logs whole old rows.
    const unsent = c.unchangedToast.filter((col) => col in spec.schema);
    if (unsent.length) {
      return [
        {
          kind: 'dead',
          reason: `column "${unsent[0]}": PostgreSQL did not send its unchanged TOASTed value (ALTER TABLE ${source.table} REPLICA IDENTITY FULL sends it)`,
          raw: JSON.stringify(c.row),
          source: at,
        },
      ];
    }
    const item = rowItem(c.row, c.types, at);
    // An update that changed the key moves the row: with tombstones, its old key is deleted first.
    if (source.deletes === 'tombstone' && c.op === 'update' && c.oldKey) {
      const old = keyItem(c.oldKey, c.types, at);
      if (old.kind === 'tombstone' && !(item.kind === 'record' && item.normalised.key === old.key)) return [old, item];
    }
    return [item];
  };

  return {
    lagUnit: lagUnitOf(spec.source.kind),
    async read(position, maxItems) {
      try {
        if (!position.postgres) {
          // Nothing committed yet: a slot that exists is an earlier attempt's whose snapshot never
          // reached Kafka (its transaction was aborted), so start again from a new one.
          await dropSlot(client, slot);
          await ensurePublication(client, publication, source.table);
          const snap = await createSlot(url, slot, source.table, { withRows: source.snapshot === 'initial' });
          const at = { lsn: formatLsn(snap.consistentPoint), snapshot: 'initial' };
          return {
            items: snap.rows.map((row) => rowItem(row, snap.types, at)),
            position: { postgres: { lsn: formatLsn(snap.consistentPoint) } },
            moved: true,
            lag: await walBytesAfter(client, snap.consistentPoint),
          };
        }
        const after = parseLsn(position.postgres.lsn);
        const state = await slotState(client, slot);
        if (!state.exists) {
          throw permanent(
            spec,
            new Error(
              `replication slot ${slot} is gone (dropped outside Sluice): the changes after ${position.postgres.lsn} cannot be read again; start the intake under a new name for a new snapshot`,
            ),
          );
        }
        const peeked = await peekChanges(client, slot, publication, maxItems);
        // Transactions at or before the committed position were delivered by an attempt that died
        // before it moved the slot. The activity moves the slot there before its first read; this
        // skip is the second guard (a move that failed), so each is delivered once either way.
        const fresh = peeked.transactions.filter((t) => t.endLsn > after);
        const items: SourceItem[] = [];
        for (const t of fresh) {
          for (const c of t.changes) items.push(...changeItems(c, { lsn: formatLsn(c.lsn), xid: String(t.xid) }));
          for (const table of t.truncated) {
            items.push({
              kind: 'dead',
              reason: `TRUNCATE of ${table}: its rows were removed without a delete each`,
              raw: `TRUNCATE ${table}`,
              source: { lsn: formatLsn(t.commitLsn), xid: String(t.xid) },
            });
          }
        }
        const last = fresh.at(-1)?.endLsn;
        if (peeked.transactions.length === 0) {
          // Nothing of the table committed before `upto`: the slot may move there (the server keeps
          // no WAL for it), though the committed position stays where it is.
          await advanceSlot(client, slot, peeked.upto);
        } else if (!last) {
          await advanceSlot(client, slot, after);
        }
        const lsn = last ?? after;
        return {
          items,
          position: { postgres: { lsn: formatLsn(lsn) } },
          moved: last !== undefined,
          lag: await walBytesAfter(client, lsn),
        };
      } catch (err) {
        if (err instanceof TableNotFound) throw permanent(spec, err);
        throw err;
      }
    },
    async committed(position) {
      if (position.postgres) await advanceSlot(client, slot, parseLsn(position.postgres.lsn));
    },
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}

/** How long a read of a caught-up topic waits for a message before it reports nothing new. */
const TOPIC_WAIT_MS = 500;

async function kafkaSource(spec: IntakeSpec, kafka: KafkaClient): Promise<IntakeSource> {
  if (spec.source.kind !== 'kafka') throw new Error('not a kafka source');
  const source = spec.source;
  let reader: TopicReader | undefined;
  return {
    lagUnit: lagUnitOf(spec.source.kind),
    async read(position, maxItems) {
      const offsets = { ...(position.kafka ?? {}) };
      // Opened at the first read, at the committed position; later reads continue from its buffer,
      // which is exactly the position the loop committed last (a failed commit ends the attempt).
      reader ??= await TopicReader.open(kafka, source.topic, offsets, spec.name).catch((err: Error) => {
        throw err instanceof TopicNotFound ? permanent(spec, err) : err;
      });
      const messages = await reader.take(maxItems, TOPIC_WAIT_MS);
      const items = messages.map((m): SourceItem => {
        offsets[String(m.partition)] = (BigInt(m.offset) + 1n).toString();
        const from = { topic: source.topic, partition: m.partition, offset: Number(m.offset) };
        if (m.value === null) return { kind: 'skipped' };
        const text = m.value.toString('utf8');
        const n = normaliseText(spec, source.format, text, source.columns);
        return n.ok
          ? { kind: 'record', normalised: n, source: from }
          : { kind: 'dead', reason: n.reason, raw: text, source: from };
      });
      return { items, position: { kafka: offsets }, moved: messages.length > 0, lag: await reader.lag(offsets) };
    },
    async committed() {},
    async close() {
      await reader?.close();
    },
  };
}
