/**
 * Fault injection for the crash tests: with `SLUICE_FAILPOINTS_DIR` set, an activity whose type has
 * a file `<activityType>.hold` in that directory when its body returns does not report its result:
 * it waits (its work done, its answer not yet recorded) until its worker is killed or it is
 * cancelled. A test arms the file, waits until the activity is held, and SIGKILLs the worker: the
 * kill always lands inside the activity, after its side effects, which is the hardest case for a
 * retry. Unset (every deployment), no interceptor is installed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** The file that holds activities of `activityType` under `dir` (one name for the worker and the tests). */
export const holdFile = (dir: string, activityType: string) => path.join(dir, `${activityType}.hold`);

/** The held activity's marker: written when an activity is held, so a test knows it is (and which attempt). */
export const heldFile = (dir: string, activityType: string) => path.join(dir, `${activityType}.held`);

export function failpointInterceptors(dir: string | undefined): ActivityInterceptorsFactory[] {
  if (!dir) return [];
  return [
    (ctx) => ({
      inbound: {
        async execute(input, next) {
          const result = await next(input);
          const type = ctx.info.activityType;
          if (!fs.existsSync(holdFile(dir, type))) return result;
          fs.writeFileSync(
            heldFile(dir, type),
            `${ctx.info.workflowExecution?.workflowId} attempt ${ctx.info.attempt}\n`,
          );
          // Held until the process dies; a cancellation (the workflow ended) rejects and lets it go.
          await ctx.cancelled;
          return result;
        },
      },
    }),
  ];
}
