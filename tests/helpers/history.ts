/**
 * Reading a workflow's history in tests: for assertions that something did NOT happen, a test
 * waits for the event that would have been followed by it, then checks the history.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export async function historyEvents(handle: WorkflowHandle): Promise<HistoryEvent[]> {
  return (await handle.fetchHistory()).events ?? [];
}

/** Names of the activities of every ActivityTaskCompleted event, in order. */
export function completedActivities(events: HistoryEvent[]): string[] {
  const typeOf = new Map<string, string>();
  const out: string[] = [];
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) typeOf.set(String(e.eventId), scheduled.activityType?.name ?? '');
    const done = e.activityTaskCompletedEventAttributes;
    if (done) out.push(typeOf.get(String(done.scheduledEventId)) ?? '');
  }
  return out;
}

/** True when the workflow is idle: its last event completes a workflow task, and none is pending. */
export function isIdle(events: HistoryEvent[]): boolean {
  return events.at(-1)?.workflowTaskCompletedEventAttributes != null;
}
