import { renderKappaStatus } from '../../cli/kappa';
import type { CheckFigures, KappaStatus } from '../../workflows/messages';

const PLAIN = { style: { head: [], border: [] } };

const check = (partition: string, consistent: boolean): CheckFigures & { partition: string } => ({
  partition,
  consistent,
  matched: 7,
  mismatched: consistent ? 0 : 2,
  missingInBatch: 0,
  missingInStream: consistent ? 0 : 1,
  duplicateKeys: { batch: 0, stream: 0 },
  report: `/lake/checks/clicks/${partition}/reprocess-g2-vs-g1.json`,
  engine: 'local',
});

const status: KappaStatus = {
  pipeline: 'clicks',
  state: 'RUNNING',
  paused: false,
  serving: 3,
  watermarkMs: Date.parse('2026-04-01T02:15:00Z'),
  viewSnapshot: '42',
  generations: [
    {
      generation: 1,
      pipeline: 'clicks',
      workflowId: 'stream/clicks',
      state: 'retained',
      startedAt: 0,
      checks: [],
      retainUntil: Date.parse('2026-04-02T00:00:00Z'),
    },
    {
      generation: 2,
      pipeline: 'clicks-g2',
      workflowId: 'stream/clicks-g2',
      state: 'rejected',
      startedAt: 1,
      checks: [check('2026-04-01T00', false), check('2026-04-01T01', true)],
      reason: 'diff failed in 2026-04-01T00',
    },
    {
      generation: 3,
      pipeline: 'clicks-g3',
      workflowId: 'stream/clicks-g3',
      state: 'serving',
      startedAt: 2,
      checks: [check('2026-04-01T00', true), check('2026-04-01T01', true)],
    },
  ],
  events: [],
};

test('sluice status kappa/<p> names the generation served and each generation with its diff and note', () => {
  const out = renderKappaStatus('kappa/clicks', status, PLAIN);
  const lines = out.split('\n');
  expect(lines[0]).toBe('kappa/clicks: RUNNING; the view serves generation 3');
  expect(lines[1]).toBe('watermark: 2026-04-01T02:15:00.000Z; view snapshot: 42');
  const row = (g: string) => lines.find((l) => l.includes(`stream/${g} `))!;
  expect(row('clicks')).toMatch(/│ 1 .*│ retained .*│ retained until 2026-04-02T00:00:00.000Z/);
  expect(row('clicks-g2')).toMatch(/│ rejected .*│ failed in 1 of 2 .*│ diff failed in 2026-04-01T00/);
  expect(row('clicks-g3')).toMatch(/│ serving .*│ passed \(2\)/);
});

test('an error is shown under the table', () => {
  expect(
    renderKappaStatus('kappa/clicks', { ...status, state: 'FAILED', error: 'boom' }, PLAIN)
      .trimEnd()
      .split('\n')
      .at(-1),
  ).toBe('error: boom');
});
