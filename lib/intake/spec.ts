/**
 * The intake spec (docs/intake.md): a source (log files, a PostgreSQL table, a Kafka topic), the schema every record is held
 * to, and the Kafka topic the records go to, exactly once. Pure and JSON-shaped, like the pipeline
 * spec: a parsed intake travels in workflow inputs and is re-validated with `parseIntakeSpec`
 * wherever it arrives as JSON. The schema's column types are the pipeline sources' own
 * (`COLUMN_TYPES`), so a pipeline can declare an intake's topic as its source with the same
 * columns; the event-time column always leaves the intake as epoch milliseconds (UTC).
 */
import { z } from 'zod';
import { NAME_PATTERN } from '../names';
import { COLUMN_TYPES, TIME_TYPES, type ColumnType } from '../pipelines/spec';
import {
  columnName,
  columnsSchema,
  describe,
  duration,
  expected,
  integer,
  kafkaTopic,
  matching,
  objectError,
  oneOf,
  resources,
  strict,
  text,
} from '../pipelines/spec-fields';
import { parseOrThrow } from '../zod-issues';
import { once } from '../lazy';

/** The suffix of an intake's dead-letter topic: `<topic>.dlq`. */
export const DLQ_SUFFIX = '.dlq';
export const dlqTopic = (topic: string) => `${topic}${DLQ_SUFFIX}`;

/** File name globs: `*` and `?` only, no path separators. */
const FILE_GLOB = /^[^/\\]+$/;
/** `schema.table`, unquoted identifiers (a name is always quoted when it reaches SQL). */
const QUALIFIED_TABLE = /^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$/;
/** A PostgreSQL URL whose user part carries no `:password`. */
const POSTGRES_URL = /^postgres(ql)?:\/\/([^:@/\s]+@)?[^@/\s]+(\/[^\s]*)?$/;

const schemas = once(() => {
  const FilesSourceSchema = strict({
    kind: z.literal('files'),
    /** The directory of log files (relative paths are the worker's working directory's). */
    dir: text('a directory path'),
    /**
     * The file names read, a glob with `*` and `?` (rotated files included: `app.log*`).
     * @default '*'
     */
    pattern: matching(FILE_GLOB, 'a file name glob without "/"').default('*'),
    /** One JSON object per line, or CSV with a header line per file. */
    format: oneOf(['jsonl', 'csv']),
  });

  const PostgresSourceSchema = strict({
    kind: z.literal('postgres'),
    /** The table read, as `schema.table`; its changes come from logical decoding (docs/intake.md#postgresql). */
    table: matching(QUALIFIED_TABLE, 'a table as schema.table (letters, digits, underscores)'),
    /**
     * The database, `postgres://user@host:port/database`, without a password (PGPASSWORD or
     * ~/.pgpass holds it). @default the worker's SLUICE_POSTGRES_URL
     */
    url: matching(POSTGRES_URL, 'postgres://user@host:port/database, without a password').optional(),
    /**
     * `initial`: the table's rows as of the intake's first start, then every change after them;
     * `never`: only the changes committed after the first start.
     * @default 'initial'
     */
    snapshot: oneOf(['initial', 'never']).default('initial'),
    /**
     * A deleted row: `ignore` (counted, not sent), or `tombstone` (a record of the row's key with
     * a null value, what compacted topics and Flink's upsert-kafka read as a delete).
     * @default 'ignore'
     */
    deletes: oneOf(['ignore', 'tombstone']).default('ignore'),
  });

  const KafkaSourceSchema = strict({
    kind: z.literal('kafka'),
    /** The topic read (on the worker's brokers), `read_committed`, from its oldest message on. */
    topic: kafkaTopic(),
    /** Each message's value: a JSON object, or one CSV row of `columns`. */
    format: oneOf(['json', 'csv']),
    /** The names of a CSV row's fields, in order (CSV messages carry no header). */
    columns: z.array(columnName(), { error: expected('an array of column names') }).optional(),
  });

  const SourceSchema = z.discriminatedUnion('kind', [FilesSourceSchema, PostgresSourceSchema, KafkaSourceSchema], {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `unknown source kind ${describe(issue.input, 'kind')}; expected files | postgres | kafka`
        : objectError('an object')(issue),
  });

  const ColumnsSchema = columnsSchema(COLUMN_TYPES);

  /** How the intake's long-running activity is admitted to a pool (as `kind: 'streaming'`) and paced. */
  const IntakeSettingsSchema = strict({
    pool: text(),
    tenant: text(),
    queue: text().optional(),
    priority: z.number({ error: expected('a number') }).default(0),
    resources: resources(),
    /**
     * Records per Kafka transaction (and per read of the source). Each transaction costs four
     * round trips besides its sends (add partitions, add offsets, commit offsets, commit), so
     * larger ones go faster: 20,000 lines of 130 bytes are 2.6 MB held in memory.
     * @default 20000
     */
    batchRecords: integer(1, 100_000).default(20_000),
    /**
     * How long a caught-up intake waits before looking at its source again.
     * @default '1 second'
     */
    pollInterval: duration().default('1 second'),
  });

  const IntakeSpecSchema = strict({
    /** The intake's name: its workflow is `intake/<name>`, its transactional id `sluice-intake.<name>`. */
    name: matching(NAME_PATTERN, `a name matching ${NAME_PATTERN.source}`),
    description: text().optional(),
    source: SourceSchema,
    /** Column name → type of every record; undeclared fields are dropped, declared ones required. */
    schema: ColumnsSchema,
    /** The event-time column (declared `timestamp` or `epoch_millis`); it leaves as epoch milliseconds UTC. */
    eventTime: columnName(),
    /** The topic the valid records go to (created with `partitions` if missing); failures go to `<topic>.dlq`. */
    topic: kafkaTopic().refine((t) => !t.endsWith(DLQ_SUFFIX) && !t.startsWith('_'), {
      error: `expected a topic that neither ends with "${DLQ_SUFFIX}" (dead letters) nor starts with "_" (Sluice's own)`,
    }),
    /** @default 1 */
    partitions: integer(1, 1000).default(1),
    /**
     * Columns whose values make the message key (records of one key stay in order, in one partition).
     * @default [] (no key: records spread over the partitions)
     */
    key: z.array(columnName(), { error: expected('an array of column names') }).default([]),
    intake: IntakeSettingsSchema,
  }).superRefine((spec, ctx) => {
    const type = spec.schema[spec.eventTime];
    if (type === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['eventTime'],
        message: `unknown column "${spec.eventTime}"; the schema's columns: ${Object.keys(spec.schema).join(', ')}`,
      });
    } else if (!TIME_TYPES.includes(type)) {
      ctx.addIssue({
        code: 'custom',
        path: ['eventTime'],
        message: `column "${spec.eventTime}" is ${type}; expected ${TIME_TYPES.join(' or ')}`,
      });
    }
    if (spec.source.kind === 'postgres' && spec.key.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['key'],
        message:
          "a postgres source needs the columns that identify a row (its primary key), so a row's changes stay in order",
      });
    }
    if (spec.source.kind === 'kafka') {
      if (spec.source.format === 'csv' && !spec.source.columns?.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['source', 'columns'],
          message: 'CSV messages carry no header: name their fields, in order',
        });
      }
      if (spec.source.topic === spec.topic) {
        ctx.addIssue({
          code: 'custom',
          path: ['source', 'topic'],
          message: `the intake would read its own output "${spec.topic}"`,
        });
      }
    }
    spec.key.forEach((k, i) => {
      if (!(k in spec.schema)) {
        ctx.addIssue({ code: 'custom', path: ['key', i], message: `unknown column "${k}"` });
      }
    });
  });

  return { IntakeSpecSchema };
});

export type IntakeSpecInput = z.input<ReturnType<typeof schemas>['IntakeSpecSchema']>;
export type IntakeSpec = z.output<ReturnType<typeof schemas>['IntakeSpecSchema']>;

/** A spec that does not validate; permanent. `issues` are `path: problem`. */
export class InvalidIntakeSpec extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[], name?: string) {
    super(`invalid intake spec${name ? ` ${JSON.stringify(name)}` : ''}: ${issues.join('; ')}`);
    this.name = 'InvalidIntakeSpec';
    this.issues = issues;
  }
}

/** Validates an intake that arrived as data (JSON, workflow input); throws {@link InvalidIntakeSpec}. */
export function parseIntakeSpec(input: unknown): IntakeSpec {
  return parseOrThrow(schemas().IntakeSpecSchema, input, (issues) => {
    const name = input !== null && typeof input === 'object' ? (input as { name?: unknown }).name : undefined;
    return new InvalidIntakeSpec(issues, typeof name === 'string' ? name : undefined);
  });
}

/** Declares an intake in code; @throws InvalidIntakeSpec listing every problem as `path: problem`. */
export function defineIntake(spec: IntakeSpecInput): IntakeSpec {
  return parseIntakeSpec(spec);
}

/** The source in a few words, for statuses and summaries: `files:<dir>/<pattern> (<format>)`, `postgres:<table>`. */
export function describeSource(spec: IntakeSpec): string {
  const source = spec.source;
  switch (source.kind) {
    case 'files':
      return `files:${source.dir}/${source.pattern} (${source.format})`;
    case 'postgres':
      return `postgres:${source.table}`;
    case 'kafka':
      return `kafka:${source.topic} (${source.format})`;
  }
}

/**
 * The replication slot and the publication a `postgres` source reads, one of each per intake:
 * `sluice_intake_<name>` (dashes as underscores; PostgreSQL's names are at most 63 bytes, so a
 * long intake name is cut and made unique again with a hash of it).
 */
export function intakeSlotName(name: string): string {
  const full = `sluice_intake_${name.replace(/-/g, '_')}`;
  if (full.length <= 63) return full;
  let hash = 0;
  for (const ch of name) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) >>> 0;
  return `${full.slice(0, 54)}_${hash.toString(16).padStart(8, '0')}`;
}

/** The schema the intake's topic carries: the declared columns, the event time as `epoch_millis`. */
export function topicSchema(spec: IntakeSpec): Record<string, ColumnType> {
  return Object.fromEntries(
    Object.entries(spec.schema).map(([c, t]) => [c, c === spec.eventTime ? 'epoch_millis' : t] as const),
  );
}

/** The transactional id every attempt of an intake produces with: a new attempt fences the last. */
export const intakeTransactionalId = (name: string) => `sluice-intake.${name}`;
/**
 * The topic whose partitions carry intakes' committed positions, as consumer-group offset metadata
 * (engines/kafka-intake.ts): it holds no records, only the groups' committed offsets.
 */
export const POSITIONS_TOPIC = '_sluice_intake_positions';
