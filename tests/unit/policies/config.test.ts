import { formatZodIssues } from '../../../lib/zod-issues';
import {
  createPolicy,
  parsePolicyConfig,
  PolicyConfigError,
  PolicyConfigSchema,
  type PolicyConfig,
} from '../../../scheduler-policies';

/** The `path: message` lines createPolicy reports for `config`. */
function issuesOf(config: unknown): string[] {
  try {
    createPolicy(config as PolicyConfig);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyConfigError);
    expect((err as PolicyConfigError).message).toContain((err as PolicyConfigError).issues[0]);
    return [...(err as PolicyConfigError).issues];
  }
  throw new Error(`expected ${JSON.stringify(config)} to be rejected`);
}

describe('policy config', () => {
  it('accepts every kind and names the policy after it', () => {
    const configs: PolicyConfig[] = [
      { kind: 'fifo' },
      { kind: 'priority' },
      { kind: 'priority', agingPerMinute: 0.5 },
      { kind: 'fair', weights: { a: 2, b: 0.5 } },
      {
        kind: 'capacity',
        queues: [
          { name: 'prod', guaranteed: 0.7, max: 1 },
          { name: 'dev', guaranteed: 0.3, max: 0.5 },
        ],
        preemption: false,
      },
      { kind: 'backfill' },
    ];
    expect(configs.map((c) => createPolicy(c).name)).toEqual([
      'fifo',
      'priority',
      'priority',
      'fair',
      'capacity',
      'backfill',
    ]);
  });

  it('rejects an unknown kind, naming the kind field', () => {
    expect(issuesOf({ kind: 'lottery' })).toEqual([
      "kind: unknown policy kind 'lottery'; expected fifo | priority | fair | capacity | backfill",
    ]);
    expect(issuesOf({})).toEqual([
      'kind: unknown policy kind (missing); expected fifo | priority | fair | capacity | backfill',
    ]);
  });

  it('rejects a negative or zero weight, naming the tenant', () => {
    expect(issuesOf({ kind: 'fair', weights: { a: 1, b: -2 } })).toEqual(['weights.b: weight must be > 0']);
    expect(issuesOf({ kind: 'fair', weights: { 'team x': 0 } })).toEqual(['weights["team x"]: weight must be > 0']);
  });

  it('rejects shares outside [0, 1], naming the queue field', () => {
    expect(issuesOf({ kind: 'capacity', queues: [{ name: 'a', guaranteed: -0.1, max: 0.5 }] })).toEqual([
      'queues[0].guaranteed: share must be a number between 0 and 1',
    ]);
    expect(
      issuesOf({
        kind: 'capacity',
        queues: [
          { name: 'a', guaranteed: 0.5, max: 1 },
          { name: 'b', guaranteed: 0.1, max: 1.5 },
        ],
      }),
    ).toEqual(['queues[1].max: share must be a number between 0 and 1']);
  });

  it('rejects guaranteed > max on the guaranteed field', () => {
    expect(
      issuesOf({
        kind: 'capacity',
        queues: [
          { name: 'a', guaranteed: 0.2, max: 1 },
          { name: 'b', guaranteed: 0.6, max: 0.5 },
        ],
      }),
    ).toEqual(['queues[1].guaranteed: guaranteed 0.6 > max 0.5']);
  });

  it('rejects guarantees summing above 1, duplicate names, no queues, and a negative aging rate', () => {
    expect(
      issuesOf({
        kind: 'capacity',
        queues: [
          { name: 'a', guaranteed: 0.7, max: 1 },
          { name: 'b', guaranteed: 0.6, max: 1 },
        ],
      }),
    ).toEqual(['queues: guaranteed shares sum to 1.3 > 1']);
    expect(
      issuesOf({
        kind: 'capacity',
        queues: [
          { name: 'a', guaranteed: 0.1, max: 1 },
          { name: 'a', guaranteed: 0.1, max: 1 },
        ],
      }),
    ).toEqual(["queues[1].name: duplicate queue name 'a'"]);
    expect(issuesOf({ kind: 'capacity', queues: [] })).toEqual(['queues: at least one queue is required']);
    expect(issuesOf({ kind: 'priority', agingPerMinute: -1 })).toEqual(['agingPerMinute: agingPerMinute must be >= 0']);
  });

  it('is strict: unknown fields are rejected by name', () => {
    expect(issuesOf({ kind: 'fifo', aging: 1 })).toEqual(['(root): Unrecognized key: "aging"']);
    expect(issuesOf({ kind: 'capacity', queues: [{ name: 'a', guaranteed: 0.1, max: 1, min: 0 }] })).toEqual([
      'queues[0]: Unrecognized key: "min"',
    ]);
  });

  it('exposes the schema for synchronous validation and a formatter for its errors', () => {
    const result = PolicyConfigSchema.safeParse({
      kind: 'capacity',
      queues: [{ name: 'a', guaranteed: 0.9, max: 0.5 }],
    });
    expect(result.success).toBe(false);
    if (!result.success)
      expect(formatZodIssues(result.error)).toEqual(['queues[0].guaranteed: guaranteed 0.9 > max 0.5']);
    expect(parsePolicyConfig({ kind: 'priority', agingPerMinute: 2 })).toEqual({ kind: 'priority', agingPerMinute: 2 });
    expect(() => parsePolicyConfig(null)).toThrow('(root): ');
  });
});
