/**
 * The schema registry's storage: the compacted topic `_sluice_schemas`, one record per intake
 * topic, keyed by the topic's name, the newest record the current one (lib/intake/schemas.ts has
 * the rules). Written without transactions, so a reader of the whole topic reaches its end
 * offsets; a retried registration reads its own record back and writes nothing more.
 */
import { consumeJson, ensureTopic, produceJson, TopicNotFound, type KafkaClient } from './kafka';
import { SCHEMAS_TOPIC, type TopicSchemaRecord } from '../lib/intake/schemas';

/** The registered schema of `topic`, or undefined when no intake has registered one. */
export async function readTopicSchema(client: KafkaClient, topic: string): Promise<TopicSchemaRecord | undefined> {
  let records: unknown[];
  try {
    records = await consumeJson(client, SCHEMAS_TOPIC);
  } catch (err) {
    if (err instanceof TopicNotFound) return undefined;
    throw err;
  }
  return (records as TopicSchemaRecord[]).filter((r) => r?.topic === topic).at(-1);
}

export async function writeTopicSchema(client: KafkaClient, record: TopicSchemaRecord): Promise<void> {
  await ensureTopic(client, SCHEMAS_TOPIC, 1, { 'cleanup.policy': 'compact' });
  await produceJson(client, SCHEMAS_TOPIC, [record], () => record.topic);
}
