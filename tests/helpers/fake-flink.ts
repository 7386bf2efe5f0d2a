/**
 * A fake Flink for workflow tests of the pipelines built on streams (lambda, Kappa): the stream
 * activities over a map of job id → state. Submitting starts a job RUNNING at the asked
 * parallelism; a watch round lasts 500 ms (or until cancelled); a stop with a savepoint finishes
 * it and answers a savepoint path.
 */
import { Context } from '@temporalio/activity';
import type { Activities } from '../../activities';
import type { JobSnapshot } from '../../activities/stream';

export function fakeFlink(jobs: Map<string, string>) {
  let savepoints = 0;
  const fakes: Partial<Activities> = {
    submitStreamGeneration: async (input) => {
      const jobId = `${input.pipeline}-${input.generation}`;
      if (!jobs.has(jobId)) jobs.set(jobId, 'RUNNING');
      return { jobId, jobName: `sluice:${input.pipeline}#${input.generation}`, jobUrl: `http://flink/${jobId}` };
    },
    awaitStreamRunning: async ({ jobId, parallelism }) => ({
      jobId,
      state: jobs.get(jobId)!,
      vertexParallelism: [parallelism ?? 1],
      restarts: 0,
    }),
    watchStreamJob: async ({ jobId }) => {
      const ctx = Context.current();
      const snap = (): JobSnapshot => ({
        jobId,
        state: jobs.get(jobId) ?? 'GONE',
        vertexParallelism: [1],
        restarts: 0,
      });
      if (snap().state === 'RUNNING') {
        await new Promise<void>((resolve) => {
          // Not a wait for a state: a fake watch round's length (the real one lasts until the job changes or maxMs).
          const t = setTimeout(resolve, 500);
          ctx.cancellationSignal.addEventListener('abort', () => (clearTimeout(t), resolve()));
        });
      }
      return snap();
    },
    stopStreamJob: async ({ jobId, savepoint }) => {
      jobs.set(jobId, savepoint ? 'FINISHED' : 'CANCELED');
      return savepoint ? { location: `file:/sp/${jobId}-${++savepoints}`, offsets: { '0': '10' } } : {};
    },
    checkRestorable: async ({ snapshots: s }) => s.map(({ path }) => ({ path, restorable: true })),
    disposeSavepoint: async () => undefined,
    newestRetainedCheckpoint: async () => undefined,
  };
  return fakes;
}
