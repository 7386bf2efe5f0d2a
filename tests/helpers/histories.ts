import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = path.join(__dirname, '..', 'histories');
const INDEX = path.join(HISTORIES_DIR, 'workflow-ids.json');

/** The workflow id each recorded history ran under (workflow code may read it: replay needs it). */
export function historyIndex(): Record<string, string> {
  return fs.existsSync(INDEX) ? (JSON.parse(fs.readFileSync(INDEX, 'utf8')) as Record<string, string>) : {};
}

/**
 * With RECORD_HISTORIES=1, saves a workflow's history (the proto3 JSON that `temporal workflow show
 * -o json` prints) for tests/workflows/replay.test.ts, with its workflow id in the index.
 */
export async function recordHistory(file: string, handle: WorkflowHandle): Promise<void> {
  if (!process.env.RECORD_HISTORIES) return;
  fs.writeFileSync(path.join(HISTORIES_DIR, file), historyToJSON(await handle.fetchHistory()));
  const index = { ...historyIndex(), [file]: handle.workflowId };
  fs.writeFileSync(INDEX, `${JSON.stringify(index, Object.keys(index).sort(), 2)}\n`);
}
