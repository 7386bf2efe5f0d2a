import { intakeArg, renderIntakeStatus } from '../../cli/intake';
import type { IntakeStatus } from '../../workflows/messages';

const PLAIN = { style: { head: [], border: [] } };

const status: IntakeStatus = {
  intake: 'web-logs',
  state: 'RUNNING',
  topic: 'web',
  deadLetterTopic: 'web.dlq',
  source: 'files:/var/log/web/access.log* (jsonl)',
  recordsIn: 1205,
  recordsOut: 1200,
  deadLetters: 5,
  commits: 13,
  lagBytes: 4096,
  files: [
    { path: '/var/log/web/access.log.1', offset: 88_000 },
    { path: '/var/log/web/access.log', offset: 1_200 },
  ],
};

describe('sluice status intake/<name>', () => {
  it('shows the counts, the lag and how far each file is read', () => {
    const out = renderIntakeStatus('intake/web-logs', status, PLAIN);
    expect(out.split('\n').slice(0, 2)).toEqual([
      'intake/web-logs: RUNNING; files:/var/log/web/access.log* (jsonl) → web',
      'records in 1205, out 1200, dead letters 5 (web.dlq); 13 transactions; lag 4096 bytes',
    ]);
    expect(out).toMatch(/access\.log\.1[\s│]+88000/);
    expect(out).toMatch(/access\.log[\s│]+1200/);
    expect(out).not.toContain('error:');
  });

  it('says when nothing is read yet, and shows the error being retried', () => {
    const out = renderIntakeStatus('intake/web-logs', { ...status, files: [], error: 'directory gone' }, PLAIN);
    expect(out).toContain('no file read yet');
    expect(out).toContain('error: directory gone');
  });
});

describe('sluice intake <spec>', () => {
  it('knows the registered intakes and names them when the one asked for is unknown', () => {
    expect(intakeArg('page-view-logs').topic).toBe('page-views');
    expect(() => intakeArg('nope')).toThrow('unknown intake "nope" (known: page-view-logs; or give a JSON spec file)');
  });

  it('reads the example JSON specs, one per source kind', () => {
    expect(intakeArg('pipelines/intakes/orders-csv.json')).toMatchObject({
      name: 'orders-csv',
      source: { format: 'csv' },
    });
    expect(intakeArg('pipelines/intakes/orders-cdc.json')).toMatchObject({
      source: { kind: 'postgres', table: 'public.orders', deletes: 'tombstone' },
      key: ['order_id'],
    });
    expect(intakeArg('pipelines/intakes/clicks-by-page.json')).toMatchObject({
      source: { kind: 'kafka', topic: 'raw-clicks', format: 'csv', columns: ['user', 'page', 'at'] },
      key: ['page'],
    });
    expect(() => intakeArg('pipelines/intakes/missing.json')).toThrow(/missing\.json: ENOENT/);
  });
});
