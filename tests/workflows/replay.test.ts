/**
 * Every recorded history under tests/histories/ must replay against the current workflow code: a
 * change that would break running workflows (a non-determinism) fails the build.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflows } from '../helpers/temporal';

jest.setTimeout(120_000);

const DIR = path.join(__dirname, '..', 'histories');
const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json'));
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  workflowBundle = await bundleWorkflows();
});

test('there are recorded histories to replay', () => {
  expect(files.length).toBeGreaterThan(0);
});

test('every recorded history replays without a determinism error', async () => {
  const histories = files.map((f) => ({
    workflowId: f,
    history: JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')) as unknown,
  }));
  const outcomes: string[] = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle }, histories)) {
    outcomes.push(`${r.workflowId}: ${r.error ? r.error.message : 'ok'}`);
  }
  expect(outcomes).toEqual(files.map((f) => `${f}: ok`));
});
