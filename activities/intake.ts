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
import * as path from 'node:path';
import { readLines, SourceDirNotFound, type FilePositions } from '../engines/file-source';
import { ensureTopic } from '../engines/kafka';
import { IntakeProducer, MAX_RECORD_BYTES, PositionTooLarge, readPosition } from '../engines/kafka-intake';
import { readTopicSchema, writeTopicSchema } from '../engines/schema-registry';
import { ErrorType } from '../lib/errors';
import { normaliseLine } from '../lib/intake/records';
import { compareSchemas, incompatibleChangeMessage, nextRecord, type SchemaVersion } from '../lib/intake/schemas';
import { dlqTopic, parseIntakeSpec, topicSchema, type IntakeSpec } from '../lib/intake/spec';
import { parseDuration } from '../lib/pipelines/duration';
import { failpoint } from '../lib/failpoints';
import { sleep } from '../lib/poll';
import type { ActivityDeps } from './deps';

/** Counts since the intake started, committed with the position (so a restart keeps them exact). */
export interface IntakeCounts {
  /** Source lines read (records and dead letters). */
  recordsIn: number;
  /** Records written to the topic. */
  recordsOut: number;
  /** Records written to `<topic>.dlq`. */
  deadLetters: number;
}

/** What the intake commits as its position with every batch (JSON). */
export interface IntakePosition {
  files: FilePositions;
  counts: IntakeCounts;
}

export interface IntakeSliceResult {
  counts: IntakeCounts;
  /** The transaction count so far (0: nothing committed yet). */
  commits: number;
  /** Bytes of the source not yet read. */
  lagBytes: number;
  /** Files tracked, with their offsets. */
  files: { path: string; offset: number }[];
}

/** A dead letter on `<topic>.dlq`: why it failed, where it came from, and the line itself. */
export interface DeadLetter {
  intake: string;
  reason: string;
  source: { file: string; offset: number };
  raw: string;
}

/** The failpoint between an intake batch's sends and its commit. */
export const INTAKE_COMMIT_FAILPOINT = 'intake-commit';

const ZERO: IntakeCounts = { recordsIn: 0, recordsOut: 0, deadLetters: 0 };

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
      return sliceResult(position, commit, 0);
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
      const dir = path.resolve(spec.source.dir);
      const poll = parseDuration(spec.intake.pollInterval)!.ms;
      await ensureTopic(deps.kafka, spec.topic, spec.partitions);
      await ensureTopic(deps.kafka, dlqTopic(spec.topic), 1);
      // Fence first, then read: no transaction of an earlier attempt can commit after the read.
      const producer = await IntakeProducer.open(deps.kafka, spec.name);
      try {
        const committed = await committedPosition(deps, spec.name);
        let position = committed.position;
        let commits = committed.commit;
        let lagBytes = 0;
        const deadline = Date.now() + input.sliceMs;
        while (Date.now() < deadline) {
          if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled');
          const read = await readLines({
            dir,
            pattern: spec.source.pattern,
            positions: position.files,
            maxLines: spec.intake.batchRecords,
            header: spec.source.format === 'csv',
          }).catch((err: unknown) => {
            // A missing directory may appear (a mount, a late writer): retried with backoff. Anything
            // else the reader refuses (a corrupt stored position) no retry can fix.
            const missing = err instanceof SourceDirNotFound;
            throw ApplicationFailure.create({
              message: `intake ${spec.name}: ${(err as Error).message}`,
              type: missing ? 'SourceDirNotFound' : ErrorType.invalidInput,
              nonRetryable: !missing,
              cause: err as Error,
            });
          });
          lagBytes = read.lagBytes;
          const unchanged = read.lines.length === 0 && samePositions(read.positions, position.files);
          if (unchanged) {
            heartbeat({ ...position.counts, lagBytes });
            if (input.untilCaughtUp) break;
            await sleep(Math.min(poll, Math.max(0, deadline - Date.now())), ctx.cancellationSignal).catch(() => {
              throw new CancelledFailure('cancelled');
            });
            continue;
          }
          const records: { key: string | null; value: string }[] = [];
          const deadLetters: { key: string | null; value: string }[] = [];
          for (const line of read.lines) {
            const n = normaliseLine(spec, line.text, line.header);
            const value = n.ok ? JSON.stringify(n.record) : undefined;
            // A record the broker would refuse would fail every retry of its transaction: a dead letter.
            const tooLarge = value !== undefined && Buffer.byteLength(value) > MAX_RECORD_BYTES;
            if (n.ok && !tooLarge) records.push({ key: n.key, value: value! });
            else {
              const letter: DeadLetter = {
                intake: spec.name,
                reason: n.ok ? `record of ${Buffer.byteLength(value!)} bytes, above ${MAX_RECORD_BYTES}` : n.reason,
                source: { file: line.path, offset: line.offset },
                // Kept whole unless it could not be written either: then its start.
                raw: line.text.length > MAX_RECORD_BYTES / 4 ? `${line.text.slice(0, 1000)}...` : line.text,
              };
              deadLetters.push({ key: null, value: JSON.stringify(letter) });
            }
          }
          const next: IntakePosition = {
            files: read.positions,
            counts: {
              recordsIn: position.counts.recordsIn + read.lines.length,
              recordsOut: position.counts.recordsOut + records.length,
              deadLetters: position.counts.deadLetters + deadLetters.length,
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
          heartbeat({ ...position.counts, lagBytes });
        }
        return sliceResult(position, commits, lagBytes);
      } finally {
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

function sliceResult(position: IntakePosition, commits: number, lagBytes: number): IntakeSliceResult {
  return {
    counts: position.counts,
    commits,
    lagBytes,
    files: Object.values(position.files).map((f) => ({ path: f.path, offset: f.offset })),
  };
}

/** Whether reading moved nothing (no line taken, no file dropped, restarted or first seen). */
function samePositions(a: FilePositions, b: FilePositions): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => b[k] && b[k].offset === a[k]!.offset && b[k].path === a[k]!.path && b[k].head === a[k]!.head);
}
