/**
 * The intake's one activity: a slice of continuous ingestion. It fences every earlier attempt of the
 * intake (its transactional id), reads the position the last committed transaction recorded, then
 * reads the source from there and commits batch after batch, each one transaction holding the
 * valid records, the dead letters and the new position (engines/kafka-intake.ts). Killed at any
 * instant, the next attempt starts from the last committed position: nothing is lost, and the
 * killed attempt's open transaction is aborted, so nothing is doubled for a `read_committed` reader.
 * The slice returns after `sliceMs` (the workflow records its counts and calls again) or when
 * cancelled (a pause, a cancel).
 */
import { CancelledFailure, Context, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ensureTopic } from '../engines/kafka';
import { IntakeProducer, MAX_RECORD_BYTES, PositionTooLarge, readPosition } from '../engines/kafka-intake';
import { readTopicSchema, writeTopicSchema } from '../engines/schema-registry';
import { ErrorType } from '../lib/errors';
import { compareSchemas, incompatibleChangeMessage, nextRecord, type SchemaVersion } from '../lib/intake/schemas';
import { dlqTopic, intakeSlotName, parseIntakeSpec, topicSchema, type IntakeSpec } from '../lib/intake/spec';
import { parseDuration } from '../lib/pipelines/duration';
import { failpoint } from '../lib/failpoints';
import { sleep } from '../lib/poll';
import type { ActivityDeps } from './deps';
import { lagUnitOf, openSource, type LagUnit, type SourcePosition } from './intake-sources';

/** Counts since the intake started, committed with the position (so a restart keeps them exact). */
export interface IntakeCounts {
  /** Source lines read (records and dead letters). */
  recordsIn: number;
  /** Records written to the topic. */
  recordsOut: number;
  /** Records written to `<topic>.dlq`. */
  deadLetters: number;
  /** Changes read and not sent (a postgres source's deletes, with `deletes: ignore`). */
  skipped?: number;
}

/** What the intake commits as its position with every batch (JSON): the source's, and the counts. */
export interface IntakePosition extends SourcePosition {
  counts: IntakeCounts;
}

export interface IntakeSliceResult {
  counts: IntakeCounts;
  /** The transaction count so far (0: nothing committed yet). */
  commits: number;
  /** Bytes of the source not yet read (files; a postgres source's WAL). */
  lagBytes?: number;
  /** Messages of the source topic not yet read (a kafka source). */
  lagMessages?: number;
  /** Files tracked, with their offsets (a files source). */
  files: { path: string; offset: number }[];
  /** The committed position in a few words. */
  position: string;
}

/**
 * A dead letter on `<topic>.dlq`: why it failed, where it came from (a file and offset; an LSN and
 * transaction id), and what was read (the line; the row as JSON).
 */
export interface DeadLetter {
  intake: string;
  reason: string;
  source: Record<string, string | number>;
  raw: string;
}

/** The failpoint between an intake batch's sends and its commit. */
export const INTAKE_COMMIT_FAILPOINT = 'intake-commit';
/** The failpoint between a batch's commit in Kafka and telling the source (a postgres slot's advance). */
export const INTAKE_COMMITTED_FAILPOINT = 'intake-committed';

const ZERO: IntakeCounts = { recordsIn: 0, recordsOut: 0, deadLetters: 0, skipped: 0 };

export function createIntakeActivities(deps: ActivityDeps) {
  return {
    /**
     * Registers the intake topic's schema (lib/intake/schemas.ts): a first or compatible version is
     * recorded, the same one is left as it is, an incompatible one (a dropped or retyped column)
     * is refused by name unless `force`. Returns the current version.
     */
    async registerIntakeSchema(input: { intake: IntakeSpec; force?: boolean }): Promise<SchemaVersion> {
      const spec = parseIntakeSpec(input.intake);
      const columns = topicSchema(spec);
      const registered = await readTopicSchema(deps.kafka, spec.topic);
      const change = compareSchemas(registered?.current.columns, columns);
      if (change.kind === 'same') return registered!.current;
      if (change.kind === 'incompatible' && !input.force) {
        throw ApplicationFailure.create({
          message: incompatibleChangeMessage(spec.name, registered!, change),
          type: ErrorType.schemaIncompatible,
          nonRetryable: true,
        });
      }
      const record = nextRecord(
        spec.topic,
        registered,
        columns,
        `intake ${spec.name}`,
        Date.now(),
        change.kind === 'incompatible',
      );
      await writeTopicSchema(deps.kafka, record);
      return record.current;
    },

    /** The intake's counts and files as its last committed transaction recorded them (reads only). */
    async intakeProgress(input: { intake: IntakeSpec }): Promise<IntakeSliceResult> {
      const spec = parseIntakeSpec(input.intake);
      const { position, commit } = await committedPosition(deps, spec.name);
      return sliceResult(spec, position, commit, lagOf(lagUnitOf(spec.source.kind), 0));
    },

    /** One slice of the intake (see the module comment); heartbeats its counts after each batch. */
    async runIntakeSlice(input: {
      intake: IntakeSpec;
      sliceMs: number;
      /** Return as soon as the source is read to its end (the benchmark; a drain before a shutdown). */
      untilCaughtUp?: boolean;
    }): Promise<IntakeSliceResult> {
      const spec = parseIntakeSpec(input.intake);
      const ctx = Context.current();
      const poll = parseDuration(spec.intake.pollInterval)!.ms;
      await ensureTopic(deps.kafka, spec.topic, spec.partitions);
      await ensureTopic(deps.kafka, dlqTopic(spec.topic), 1);
      // Fence first, then read: no transaction of an earlier attempt can commit after the read.
      const producer = await IntakeProducer.open(deps.kafka, spec.name, {
        // A table's first snapshot is one transaction (intake-sources.ts): allow it the broker's
        // longest (transaction.max.timeout.ms); a killed attempt's is aborted by the next one's fence.
        transactionTimeoutMs: spec.source.kind === 'postgres' ? 900_000 : undefined,
      });
      const source = await openSource(spec, { postgresUrl: deps.postgresUrl, kafka: deps.kafka });
      try {
        const committed = await committedPosition(deps, spec.name);
        let position = committed.position;
        let commits = committed.commit;
        let lag = 0;
        const deadline = Date.now() + input.sliceMs;
        // A commit that reached Kafka before an earlier attempt died may not have reached the source.
        await source.committed(position);
        while (Date.now() < deadline) {
          if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled');
          const read = await source.read(position, spec.intake.batchRecords);
          lag = read.lag;
          if (!read.moved) {
            heartbeat({ ...position.counts, ...lagOf(source.lagUnit, lag) });
            if (input.untilCaughtUp) break;
            await sleep(Math.min(poll, Math.max(0, deadline - Date.now())), ctx.cancellationSignal).catch(() => {
              throw new CancelledFailure('cancelled');
            });
            continue;
          }
          const records: { key: string | null; value: string | null }[] = [];
          const deadLetters: { key: string | null; value: string }[] = [];
          const dead = (reason: string, raw: string, from: DeadLetter['source']) => {
            const letter: DeadLetter = {
              intake: spec.name,
              reason,
              source: from,
              // Kept whole unless it could not be written either: then its start.
              raw: raw.length > MAX_RECORD_BYTES / 4 ? `${raw.slice(0, 1000)}...` : raw,
            };
            deadLetters.push({ key: null, value: JSON.stringify(letter) });
          };
          let skipped = 0;
          for (const item of read.items) {
            if (item.kind === 'skipped') skipped += 1;
            else if (item.kind === 'tombstone') records.push({ key: item.key, value: null });
            else if (item.kind === 'dead') dead(item.reason, item.raw, item.source);
            else {
              const value = JSON.stringify(item.normalised.record);
              const bytes = Buffer.byteLength(value);
              // A record the broker would refuse would fail every retry of its transaction: a dead letter.
              if (bytes <= MAX_RECORD_BYTES) records.push({ key: item.normalised.key, value });
              else dead(`record of ${bytes} bytes, above ${MAX_RECORD_BYTES}`, value, item.source);
            }
          }
          const next: IntakePosition = {
            ...read.position,
            counts: {
              recordsIn: position.counts.recordsIn + read.items.length,
              recordsOut: position.counts.recordsOut + records.length,
              deadLetters: position.counts.deadLetters + deadLetters.length,
              skipped: (position.counts.skipped ?? 0) + skipped,
            },
          };
          try {
            await producer.commit(
              {
                topic: spec.topic,
                records,
                deadLetterTopic: dlqTopic(spec.topic),
                deadLetters,
                position: JSON.stringify(next),
                commit: commits + 1,
              },
              // Crash tests: hold with the batch sent and not committed (a SIGKILL then aborts it).
              () => failpoint(deps.failpointsDir, INTAKE_COMMIT_FAILPOINT, ctx.cancelled, spec.name),
            );
          } catch (err) {
            if (err instanceof PositionTooLarge) {
              throw ApplicationFailure.create({
                message: err.message,
                type: ErrorType.invalidInput,
                nonRetryable: true,
              });
            }
            throw err;
          }
          commits += 1;
          position = next;
          // Crash tests: hold with the batch committed and the source not told (the slot not moved).
          await failpoint(deps.failpointsDir, INTAKE_COMMITTED_FAILPOINT, ctx.cancelled, spec.name);
          await source.committed(position);
          heartbeat({ ...position.counts, ...lagOf(source.lagUnit, lag) });
        }
        return sliceResult(spec, position, commits, lagOf(source.lagUnit, lag));
      } finally {
        await source.close();
        await producer.close();
      }
    },
  };
}

/** The position the intake's last committed transaction recorded (none yet: the start of everything). */
async function committedPosition(
  deps: ActivityDeps,
  intake: string,
): Promise<{ position: IntakePosition; commit: number }> {
  const committed = await readPosition(deps.kafka, intake);
  const position: IntakePosition = committed.position
    ? (JSON.parse(committed.position) as IntakePosition)
    : { files: {}, counts: { ...ZERO } };
  return { position, commit: committed.commit };
}

/** The lag under the name of its unit. */
const lagOf = (unit: LagUnit, lag: number) => (unit === 'bytes' ? { lagBytes: lag } : { lagMessages: lag });

function sliceResult(
  spec: IntakeSpec,
  position: IntakePosition,
  commits: number,
  lag: { lagBytes: number } | { lagMessages: number },
): IntakeSliceResult {
  return {
    counts: { ...position.counts, skipped: position.counts.skipped ?? 0 },
    commits,
    ...lag,
    files: Object.values(position.files ?? {}).map((f) => ({ path: f.path, offset: f.offset })),
    position: describePosition(spec, position),
  };
}

/** Where the source is, in a few words (the status line): `3 files`, `LSN 0/1529B60 (slot …)`. */
function describePosition(spec: IntakeSpec, position: IntakePosition): string {
  if (spec.source.kind === 'kafka') {
    const offsets = Object.entries(position.kafka ?? {});
    return offsets.length
      ? `${spec.source.topic} at ${offsets.map(([p, o]) => `${p}:${o}`).join(', ')}`
      : `${spec.source.topic} from its start`;
  }
  if (spec.source.kind === 'postgres') {
    return position.postgres
      ? `LSN ${position.postgres.lsn} (slot ${intakeSlotName(spec.name)})`
      : 'no snapshot committed yet';
  }
  const n = Object.keys(position.files ?? {}).length;
  return `${n} file${n === 1 ? '' : 's'}`;
}
