import { definePipeline, InvalidPipelineSpec, parsePipelineSpec, type KappaPipelineSpec } from '../../../lib/pipelines';
import { generationName, generationSpec, kappaColumns, kappaKeys } from '../../../lib/pipelines/kappa';

const base = {
  name: 'clicks',
  kind: 'kappa' as const,
  source: {
    kind: 'kafka' as const,
    topic: 'clicks',
    format: 'json' as const,
    schema: { page: 'string' as const, amount: 'bigint' as const, ts: 'epoch_millis' as const },
    eventTime: 'ts',
  },
  transform: {
    window: { tumbling: '15 minutes' },
    groupBy: ['page'],
    aggregates: [
      { fn: 'count' as const, as: 'views' },
      { fn: 'sum' as const, column: 'amount', as: 'total' },
    ],
  },
  partitioning: 'hour' as const,
  stream: { pool: 'p', tenant: 't', resources: { cpu: 1, memoryMb: 1024 } },
  schedule: { start: '2026-01-01T00' },
};
const issues = (spec: unknown) => {
  try {
    parsePipelineSpec(spec);
    return [];
  } catch (err) {
    return (err as InvalidPipelineSpec).issues;
  }
};

describe('kappa specs', () => {
  test('defaults: exact diffs, one day of retention for a replaced generation, a week of view snapshots', () => {
    const spec = definePipeline(base) as KappaPipelineSpec;
    expect(spec.kappa).toEqual({
      tolerances: [],
      localCheckMaxRows: 2_000_000,
      retainOld: '1 day',
      retainSnapshots: '7 days',
    });
  });

  test('errors name the field', () => {
    expect(issues({ ...base, kappa: { tolerances: [{ column: 'nope', kind: 'abs', value: 1 }] } })).toEqual([
      'kappa.tolerances[0].column: unknown value column "nope" (aggregates: views, total)',
    ]);
    expect(issues({ ...base, kappa: { retainOld: 'soon' } })).toEqual([expect.stringMatching(/^kappa\.retainOld: /)]);
    expect(issues({ ...base, schedule: { start: '2026-01-01' } })).toEqual([
      'schedule.start: "2026-01-01" is not a hour partition (YYYY-MM-DDTHH)',
    ]);
    expect(issues({ ...base, name: 'x'.repeat(57) })).toEqual([
      'name: at most 56 characters (generations are named <name>-g<n>)',
    ]);
    expect(issues({ ...base, sink: { lake: true } })).toEqual([expect.stringMatching(/sink/)]);
  });

  test('generation n runs under its own name, reading from the earliest offsets into its own table, late records kept', () => {
    const spec = definePipeline(base) as KappaPipelineSpec;
    expect([1, 2, 7].map((n) => generationName(spec, n))).toEqual(['clicks', 'clicks-g2', 'clicks-g7']);
    const g2 = generationSpec(spec, 2);
    expect(g2).toMatchObject({ name: 'clicks-g2', kind: 'streaming', sink: { lake: true, late: true } });
    expect(g2.source).toEqual(spec.source);
    const changed = generationSpec(spec, 3, {
      ...spec.transform,
      aggregates: [{ fn: 'max', column: 'amount', as: 'total' }],
    });
    expect(changed.transform.aggregates).toEqual([{ fn: 'max', column: 'amount', as: 'total' }]);
    expect(() => generationSpec(spec, 3, { ...spec.transform, groupBy: ['nope'] })).toThrow(InvalidPipelineSpec);
  });

  test("the view's columns and the diff's keys", () => {
    const spec = definePipeline(base) as KappaPipelineSpec;
    expect(kappaColumns(spec).map((c) => `${c.name} ${c.type}`)).toEqual([
      'partition STRING',
      'window_start TIMESTAMP',
      'window_end TIMESTAMP',
      'page STRING',
      'views BIGINT',
      'total BIGINT',
    ]);
    expect(kappaKeys(spec)).toEqual(['window_start', 'page']);
  });
});
