import { checkBatchOutput, definePipeline, validationPlan, type BatchPipelineSpec } from '../../../lib/pipelines';
import { dailyRevenue } from '../../../pipelines/daily-revenue';
import { pageViews } from '../../../pipelines/page-views';
import { changed } from './helpers';

/** What the Spark runner reports for a correct page-views partition (Spark `simpleString` types). */
const written = [
  { name: 'window_start', type: 'timestamp' },
  { name: 'window_end', type: 'timestamp' },
  { name: 'page', type: 'string' },
  { name: 'views', type: 'bigint' },
  { name: 'total_amount', type: 'bigint' },
  { name: 'max_amount', type: 'bigint' },
];

describe('validationPlan', () => {
  it('requires every declarative output column by default', () => {
    expect(validationPlan(pageViews)).toEqual({
      minRows: 0,
      requiredColumns: ['window_start', 'window_end', 'page', 'views', 'total_amount', 'max_amount'],
      columns: written.map((c) => ({ name: c.name, type: c.type.toUpperCase() })),
    });
  });

  it('takes minRows and requiredColumns from the spec; raw SQL has no expected types', () => {
    expect(validationPlan(dailyRevenue)).toEqual({
      minRows: 0,
      requiredColumns: ['page', 'views', 'revenue'],
      columns: undefined,
    });
    const spec = definePipeline(changed({ validate: { minRows: 1, requiredColumns: ['views'] } }) as BatchPipelineSpec);
    expect(validationPlan(spec)).toEqual(expect.objectContaining({ minRows: 1, requiredColumns: ['views'] }));
  });
});

describe('checkBatchOutput', () => {
  it('passes a correct output', () => {
    expect(checkBatchOutput(validationPlan(pageViews), { rows: 12, columns: written })).toEqual([]);
  });

  it('reports too few rows, missing columns and wrong types', () => {
    const plan = { ...validationPlan(pageViews), minRows: 1 };
    const columns = written
      .filter((c) => c.name !== 'views')
      .map((c) => (c.name === 'page' ? { ...c, type: 'int' } : c));
    expect(checkBatchOutput(plan, { rows: 0, columns })).toEqual([
      'expected at least 1 row, got 0',
      'missing column "views"',
      'column "page" is int, expected STRING',
    ]);
  });

  it('checks only rows and required columns for raw SQL, matching names case-insensitively', () => {
    const plan = validationPlan(dailyRevenue);
    const columns = [
      { name: 'PAGE', type: 'string' },
      { name: 'views', type: 'bigint' },
      { name: 'revenue', type: 'decimal(20,0)' },
    ];
    expect(checkBatchOutput(plan, { rows: 3, columns })).toEqual([]);
    expect(checkBatchOutput({ ...plan, minRows: 5 }, { rows: 3, columns: columns.slice(1) })).toEqual([
      'expected at least 5 rows, got 3',
      'missing column "page"',
    ]);
  });
});
