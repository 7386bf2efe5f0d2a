/**
 * A pool that owes more signals than the server lets one workflow have pending. The server refuses
 * a workflow task whose commands would leave more than `limit.numPendingSignals.error` signals to
 * other workflows pending (2000 by default; 100 on this suite's dev server), and it refuses every
 * retry of that task alike: a scheduler that sent all it owed at once would be stuck for good. The
 * scheduler keeps at most `maxSignalsInFlight` signals in flight and the rest in a backlog.
 *
 * The first test is the control: it shows the limit is real on this server (a pool allowed 500
 * signals in flight gets stuck after a resize that grants 150 holders at once). The second is the
 * fix: the same burst with 40 in flight grants and releases every holder.
 */
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { holdResourcesWorkflow, poolSchedulerWorkflow, type PoolOptions } from '../../workflows';
import { poolState, requestRecords } from '../../workflows/messages';
import { startWorkflowSuite, type WorkflowSuite } from '../helpers/temporal';
import { until } from '../../lib/poll';

jest.setTimeout(600_000);

const PENDING_SIGNALS_LIMIT = 100;
const HOLDERS = 150;
const poolQueue = 'limit-pools';
const holderQueue = 'limit-holders';

let suite: WorkflowSuite;
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  suite = await startWorkflowSuite(
    [{ taskQueue: poolQueue }, { taskQueue: holderQueue, options: { maxConcurrentWorkflowTaskExecutions: 50 } }],
    { serverArgs: ['--dynamic-config-value', `limit.numPendingSignals.error=${PENDING_SIGNALS_LIMIT}`] },
  );
  env = suite.env;
});
afterAll(() => suite?.stop());

/**
 * A pool of capacity `HOLDERS`: a first holder takes all of it, `HOLDERS - 1` more queue behind it
 * (demand 1 each); when the first lets go, the scheduler owes them all a grant at once.
 */
async function burst(
  name: string,
  options: Partial<PoolOptions>,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof poolSchedulerWorkflow>> {
  const pool = await env.client.workflow.start(poolSchedulerWorkflow, {
    taskQueue: poolQueue,
    workflowId: `pool/${name}`,
    args: [{ name, capacity: { cpu: HOLDERS }, policy: { kind: 'fifo' }, options }],
  });
  const hold = (i: number, cpu: number, holdMs: number) =>
    env.client.workflow.start(holdResourcesWorkflow, {
      taskQueue: holderQueue,
      workflowId: `${name}-h${i}`,
      args: [{ pool: name, demand: { cpu }, holdMs, tenant: 't', kind: 'batch', requestId: `${name}-h${i}#r` }],
    });
  const first = await hold(0, HOLDERS, 600_000);
  await until(`the first holder's grant in pool ${name}`, async () => {
    const v = await pool.query(poolState);
    return v.running.length === 1 ? v : undefined;
  });
  for (let i = 1; i < HOLDERS; i += 25) {
    await Promise.all(Array.from({ length: Math.min(25, HOLDERS - i) }, (_, k) => hold(i + k, 1, 0)));
  }
  await until(`${HOLDERS} requests in pool ${name}`, async () => {
    const v = await pool.query(poolState);
    return v.running.length === 1 && v.pending.length === HOLDERS - 1 ? v : undefined;
  });
  await first.cancel(); // cancelled, it releases
  return pool;
}

test('control: with more signals in flight than the server allows, the scheduler gets stuck', async () => {
  const pool = await burst('limit-control', { maxSignalsInFlight: 500 });
  // The workflow task that would send the grants is refused, and so is every retry of it.
  const refused = await until('the scheduler workflow task to be refused, and refused again', async () => {
    const history = await pool.fetchHistory();
    const failed = (history.events ?? []).flatMap((e) => {
      const cause = e.workflowTaskFailedEventAttributes?.cause;
      return cause === undefined || cause === null ? [] : [temporal.api.enums.v1.WorkflowTaskFailedCause[cause]];
    });
    return failed.length >= 2 ? failed : undefined;
  });
  expect(new Set(refused)).toEqual(new Set(['WORKFLOW_TASK_FAILED_CAUSE_PENDING_SIGNALS_LIMIT_EXCEEDED']));
  // Nothing was granted since the first holder released: one grant sent in all, and the holders
  // still wait. Even queries are refused while the task is failing.
  const history = await pool.fetchHistory();
  expect((history.events ?? []).filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes)).toHaveLength(
    1,
  );
  const waiting = await env.client.workflow.getHandle(`limit-control-h${HOLDERS - 1}`).describe();
  expect(waiting.status.name).toBe('RUNNING');
  await expect(pool.query(poolState)).rejects.toThrow();
  await pool.terminate('control test over');
});

test('with signals in flight capped under the limit, a burst of grants goes out and every holder releases', async () => {
  const pool = await burst('limit-capped', { maxSignalsInFlight: 40, recordLimit: HOLDERS });
  const records = await until(
    `all ${HOLDERS} holders released`,
    async () => {
      const page = await pool.query(requestRecords);
      return page.records.filter((r) => r.outcome === 'released').length === HOLDERS ? page.records : undefined;
    },
    { timeoutMs: 180_000 },
  );
  expect(new Set(records.map((r) => r.requestId)).size).toBe(HOLDERS);
  const v = await pool.query(poolState);
  expect(v.counters).toMatchObject({ submitted: HOLDERS, granted: HOLDERS, released: HOLDERS, duplicateGrants: 0 });
  expect(v.running).toEqual([]);
  // No workflow task of the scheduler was refused.
  const history = await pool.fetchHistory();
  expect((history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
  await pool.terminate('test over');
});
