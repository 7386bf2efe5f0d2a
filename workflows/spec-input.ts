import { ApplicationFailure } from '@temporalio/workflow';
import { ErrorType } from '../lib/errors';
import { parsePipelineSpec, type PipelineSpec } from '../lib/pipelines';

/**
 * A pipeline workflow's spec, validated where it arrives (the workflow input is JSON): a spec that
 * does not validate, or one of another kind, fails the run at once and for good
 * (`InvalidPipelineSpec`), naming the field or the kind.
 */
export function specOfKind<K extends PipelineSpec['kind']>(
  input: unknown,
  kind: K,
): Extract<PipelineSpec, { kind: K }> {
  let parsed: PipelineSpec;
  try {
    parsed = parsePipelineSpec(input);
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.invalidPipelineSpec);
  }
  if (parsed.kind !== kind) {
    throw ApplicationFailure.nonRetryable(
      `${parsed.name} is a ${parsed.kind} pipeline, not a ${kind} one`,
      ErrorType.invalidPipelineSpec,
    );
  }
  return parsed as Extract<PipelineSpec, { kind: K }>;
}
