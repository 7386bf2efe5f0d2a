/**
 * The schema registry's rules (docs/intake.md#schemas), pure: what an intake topic's schema is, how
 * a new version compares with the registered one, and whether a pipeline's declared source matches
 * the topic it reads. The records live in the compacted topic `_sluice_schemas`, keyed by topic
 * (engines/schema-registry.ts).
 *
 * Compatibility is the one a reader needs (Confluent's BACKWARD, restricted to required columns):
 * adding a column is compatible, dropping or retyping one is not, since a pipeline reading the
 * topic would lose the column or read it as the wrong type. A pipeline may read a subset of the
 * topic's columns; a column it declares that the topic lacks, or has with another type, refuses it.
 */
import type { ColumnType } from '../pipelines/spec';

export const SCHEMAS_TOPIC = '_sluice_schemas';

export type Columns = Record<string, ColumnType>;

/** One registered version of a topic's schema (the topic's record keeps the earlier ones). */
export interface SchemaVersion {
  version: number;
  columns: Columns;
  /** What registered it: `intake <name>`. */
  registeredBy: string;
  registeredAt: number;
  /** Registered although incompatible with the version before it. */
  forced?: boolean;
}

/** A topic's record in `_sluice_schemas`: its current version and every version before it. */
export interface TopicSchemaRecord {
  topic: string;
  current: SchemaVersion;
  history: SchemaVersion[];
}

export interface SchemaChange {
  kind: 'new' | 'same' | 'compatible' | 'incompatible';
  added: string[];
  dropped: string[];
  retyped: { column: string; from: ColumnType; to: ColumnType }[];
}

/** How `next` compares with the registered columns (`undefined`: nothing registered yet). */
export function compareSchemas(registered: Columns | undefined, next: Columns): SchemaChange {
  if (!registered) return { kind: 'new', added: Object.keys(next), dropped: [], retyped: [] };
  const added = Object.keys(next).filter((c) => !(c in registered));
  const dropped = Object.keys(registered).filter((c) => !(c in next));
  const retyped = Object.keys(next)
    .filter((c) => c in registered && registered[c] !== next[c])
    .map((c) => ({ column: c, from: registered[c]!, to: next[c]! }));
  const kind = dropped.length || retyped.length ? 'incompatible' : added.length ? 'compatible' : 'same';
  return { kind, added, dropped, retyped };
}

/** The change in words: `dropped column "b"; column "c" retyped int → string`. */
export function describeChange(change: SchemaChange): string {
  return [
    ...change.dropped.map((c) => `dropped column "${c}"`),
    ...change.retyped.map((r) => `column "${r.column}" retyped ${r.from} → ${r.to}`),
    ...change.added.map((c) => `added column "${c}"`),
  ].join('; ');
}

/**
 * Why `intake`'s schema is refused for `record`'s topic (the CLI and the registering activity say
 * it the same way): the registered version, who registered it, and the change.
 */
export function incompatibleChangeMessage(intake: string, record: TopicSchemaRecord, change: SchemaChange): string {
  return (
    `intake ${intake}: topic ${record.topic}'s schema (version ${record.current.version}, registered by ` +
    `${record.current.registeredBy}) would change incompatibly: ${describeChange(change)}; give --force-schema to register it anyway`
  );
}

/** The record after registering `columns` (or the same record when they are the current ones). */
export function nextRecord(
  topic: string,
  record: TopicSchemaRecord | undefined,
  columns: Columns,
  by: string,
  at: number,
  forced: boolean,
): TopicSchemaRecord {
  if (!record) return { topic, current: { version: 1, columns, registeredBy: by, registeredAt: at }, history: [] };
  return {
    topic,
    current: {
      version: record.current.version + 1,
      columns,
      registeredBy: by,
      registeredAt: at,
      ...(forced ? { forced } : {}),
    },
    history: [...record.history, record.current],
  };
}

/**
 * Why a pipeline declaring `source` columns cannot read a topic registered with `topic` columns,
 * one problem per column; empty when it can.
 */
export function sourceMismatch(topic: Columns, source: Columns): string[] {
  return Object.entries(source).flatMap(([c, type]) => {
    if (!(c in topic)) return [`column "${c}" is not in the topic (its columns: ${Object.keys(topic).join(', ')})`];
    return topic[c] === type ? [] : [`column "${c}" is ${type} in the pipeline, ${topic[c]} in the topic`];
  });
}
