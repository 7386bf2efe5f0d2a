import type { Env } from '../config/env';
import { createKafkaClient } from '../engines/kafka';
import { readTopicSchema } from '../engines/schema-registry';
import { sourceMismatch } from '../lib/intake/schemas';
import type { PipelineSpec } from '../lib/pipelines';
import { UsageError } from './errors';

/**
 * A Kafka source whose topic an intake registered must read it with the topic's columns (it would
 * read nulls or fail mid-way otherwise): refused with the differing columns named. A topic nobody
 * registered is not checked (someone else fills it).
 */
export async function requireSourceMatchesTopic(env: Env, spec: PipelineSpec): Promise<void> {
  if (spec.source.kind !== 'kafka') return;
  const registered = await readTopicSchema(createKafkaClient(env.SLUICE_KAFKA_BROKERS), spec.source.topic);
  const problems = registered ? sourceMismatch(registered.current.columns, spec.source.schema) : [];
  if (problems.length) {
    throw new UsageError(
      `${spec.name}: its source does not match topic ${spec.source.topic} (schema version ${registered!.current.version}, registered by ${registered!.current.registeredBy}): ${problems.join('; ')}`,
    );
  }
}
