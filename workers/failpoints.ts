/**
 * The activity failpoints of the crash tests (lib/failpoints.ts): with `SLUICE_FAILPOINTS_DIR` set,
 * every activity is a failpoint named by its type, reached when its body has returned: armed, the
 * activity does not report its result (its work done, its answer not yet recorded) until its worker
 * is killed or it is cancelled. The kill then always lands inside the activity, after its side
 * effects, which is the hardest case for a retry. Unset (every deployment), no interceptor is installed.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { failpoint } from '../lib/failpoints';

export function failpointInterceptors(dir: string | undefined): ActivityInterceptorsFactory[] {
  if (!dir) return [];
  return [
    (ctx) => ({
      inbound: {
        async execute(input, next) {
          const result = await next(input);
          const { activityType, workflowExecution, attempt } = ctx.info;
          await failpoint(dir, activityType, ctx.cancelled, `${workflowExecution?.workflowId} attempt ${attempt}`);
          return result;
        },
      },
    }),
  ];
}
