import { compareSchemas, describeChange, nextRecord, sourceMismatch } from '../../../lib/intake/schemas';

const v1 = { id: 'string', page: 'string', n: 'int', ts: 'epoch_millis' } as const;

describe('the schema registry rules', () => {
  it('tells a new, an unchanged, a compatible and an incompatible schema apart', () => {
    expect(compareSchemas(undefined, v1)).toMatchObject({ kind: 'new', added: ['id', 'page', 'n', 'ts'] });
    expect(compareSchemas(v1, { ...v1 }).kind).toBe('same');
    expect(compareSchemas(v1, { ...v1, referrer: 'string' })).toEqual({
      kind: 'compatible',
      added: ['referrer'],
      dropped: [],
      retyped: [],
    });
    const { page: _page, ...withoutPage } = v1;
    const change = compareSchemas(v1, { ...withoutPage, n: 'string', at: 'timestamp' });
    expect(change).toEqual({
      kind: 'incompatible',
      added: ['at'],
      dropped: ['page'],
      retyped: [{ column: 'n', from: 'int', to: 'string' }],
    });
    expect(describeChange(change)).toBe('dropped column "page"; column "n" retyped int → string; added column "at"');
  });

  it('versions every change and keeps the versions before it', () => {
    const first = nextRecord('t', undefined, v1, 'intake a', 1000, false);
    expect(first).toEqual({
      topic: 't',
      current: { version: 1, columns: v1, registeredBy: 'intake a', registeredAt: 1000 },
      history: [],
    });
    const second = nextRecord('t', first, { id: 'string' }, 'intake b', 2000, true);
    expect(second.current).toEqual({
      version: 2,
      columns: { id: 'string' },
      registeredBy: 'intake b',
      registeredAt: 2000,
      forced: true,
    });
    expect(second.history).toEqual([first.current]);
  });

  it('lets a pipeline read a subset of the columns, and names every column it would misread', () => {
    expect(sourceMismatch(v1, { page: 'string', ts: 'epoch_millis' })).toEqual([]);
    expect(sourceMismatch(v1, { page: 'string', n: 'bigint', user: 'string' })).toEqual([
      'column "n" is bigint in the pipeline, int in the topic',
      'column "user" is not in the topic (its columns: id, page, n, ts)',
    ]);
  });
});
