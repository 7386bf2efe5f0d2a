/**
 * Every recorded history under tests/histories/ must replay against the current workflow code: a
 * change that would break running workflows (a non-determinism) fails the build.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { historyIndex } from '../helpers/histories';
import { bundleWorkflows } from '../helpers/temporal';

jest.setTimeout(120_000);

const DIR = path.join(__dirname, '..', 'histories');
const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json') && f !== 'workflow-ids.json');
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  workflowBundle = await bundleWorkflows();
});

test('there are recorded histories to replay', () => {
  expect(files.length).toBeGreaterThan(0);
});

test('every recorded history replays without a determinism error', async () => {
  // Workflow code may read its own id (request ids derive from it): replay under the recorded one.
  const ids = historyIndex();
  const histories = files.map((f) => ({
    workflowId: ids[f] ?? f,
    history: JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')) as unknown,
  }));
  const outcomes: string[] = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle }, histories)) {
    outcomes.push(`${r.workflowId}: ${r.error ? r.error.message : 'ok'}`);
  }
  expect(outcomes).toEqual(histories.map((h) => `${h.workflowId}: ok`));
});
