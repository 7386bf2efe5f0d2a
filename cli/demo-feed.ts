/**
 * Where the demo's traffic comes from. `files` (the default): the generated page views are written
 * as a web server's JSON-lines access log, rotated once, and an intake (`intake/<demo>-logs`, a
 * copy of pipelines/intakes/page-view-logs.ts) carries them into the pipeline's topic exactly once,
 * a line cut short going to the dead-letter topic. `generator`: the demo produces them to the topic
 * itself. Either way a phase is in the topic, committed, before `send` returns: the demo's
 * late records are late only because of when they are sent.
 */
import type { Client } from '@temporalio/client';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureTopic, produceJson, type KafkaClient } from '../engines/kafka';
import { describeSource, dlqTopic, parseIntakeSpec, type IntakeSpec } from '../lib/intake/spec';
import { until } from '../lib/poll';
import { SluiceKind, SluicePipeline, SluicePool, SluiceTenant } from '../lib/search-attributes';
import { pageViewLogs } from '../pipelines/intakes/page-view-logs';
import { intakeWorkflow } from '../workflows';
import { cancelStream, intakeWorkflowId, type IntakeStatus } from '../workflows/messages';
import type { DemoEvent } from './demo-traffic';
import { intakeCounts } from './intake';

export const DEMO_FEEDS = ['files', 'generator'] as const;
export type DemoFeedKind = (typeof DEMO_FEEDS)[number];

/** What the intake did, for the demo's report. */
export interface DemoIntakeReport {
  workflowId: string;
  dir: string;
  files: string[];
  recordsIn: number;
  recordsOut: number;
  deadLetters: number;
  deadLetterTopic: string;
}

export interface DemoFeed {
  kind: DemoFeedKind;
  topic: string;
  /** Sends a phase of the traffic; resolves once all of it is committed to the topic. Returns a log line. */
  send(events: DemoEvent[]): Promise<string>;
  /** Ends the feed (an intake is cancelled and gives its pool grant back); what it did. */
  close(): Promise<DemoIntakeReport | undefined>;
}

/** The demo produces each phase to the topic itself (one partition: the events stay in the order sent). */
export async function generatorFeed(kafka: KafkaClient, topic: string): Promise<DemoFeed> {
  await ensureTopic(kafka, topic, 1);
  return {
    kind: 'generator',
    topic,
    async send(events) {
      await produceJson(kafka, topic, events);
      return `produced ${events.length} page views to ${topic}`;
    },
    close: () => Promise.resolve(undefined),
  };
}

/**
 * A line a web server cut short (the disk filled up, say): the intake sends it to `<topic>.dlq`
 * with the reason and its file and offset, and goes on.
 */
export const CUT_SHORT_LINE = '{"user":"u07","page":"/chec';

/**
 * An intake reads the access log in `dir`: the first phase is `access.log` with one line cut short;
 * before the second, the log is rotated (`access.log` → `access.log.1`) and the second phase is
 * the new `access.log`. The intake runs on the demo's worker and pool; the topic has one partition
 * so the records keep the log's order, as the generator's do.
 */
export async function intakeFeed(
  client: Client,
  opts: { demo: string; topic: string; dir: string; pool: string; taskQueue: string },
): Promise<DemoFeed> {
  const spec: IntakeSpec = parseIntakeSpec({
    ...pageViewLogs,
    name: `${opts.demo}-logs`,
    description: `The ${opts.demo} demo's access logs into ${opts.topic}`,
    source: { ...pageViewLogs.source, dir: opts.dir },
    topic: opts.topic,
    partitions: 1,
    intake: { ...pageViewLogs.intake, pool: opts.pool },
  });
  fs.mkdirSync(opts.dir, { recursive: true });
  const workflowId = intakeWorkflowId(spec.name);
  const handle = await client.workflow.start(intakeWorkflow, {
    taskQueue: opts.taskQueue,
    workflowId,
    args: [{ intake: spec }],
    typedSearchAttributes: [
      { key: SluicePipeline, value: spec.name },
      { key: SluiceKind, value: 'intake' },
      { key: SluicePool, value: spec.intake.pool },
      { key: SluiceTenant, value: spec.intake.tenant },
    ],
    staticSummary: `demo: intake ${spec.name}: ${describeSource(spec)} → ${spec.topic}`,
  });
  const log = path.join(opts.dir, 'access.log');
  let sent = 0;
  let cutShort = 0;
  let phases = 0;
  let final: IntakeStatus | undefined;

  return {
    kind: 'files',
    topic: opts.topic,
    async send(events) {
      const lines = events.map((e) => JSON.stringify(e));
      if (phases === 0) {
        lines.splice(Math.floor(lines.length / 2), 0, CUT_SHORT_LINE);
        cutShort += 1;
      } else {
        fs.renameSync(log, `${log}.${phases}`);
      }
      phases += 1;
      // One write: the intake reads whole lines only, so a half-flushed last line waits for its end.
      fs.writeFileSync(log, `${lines.join('\n')}\n`);
      sent += events.length;
      const s = await until(
        () => `${workflowId} to commit ${sent} records and ${cutShort} dead letter to ${opts.topic}`,
        async () => {
          const c = await intakeCounts(client, workflowId);
          if (c.state === 'FAILED') throw new Error(`${workflowId} failed: ${c.error ?? 'no error recorded'}`);
          return c.recordsOut >= sent && c.deadLetters >= cutShort ? c : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 250 },
      );
      return `wrote ${events.length} page views to ${log}${phases > 1 ? ` (after rotating it to access.log.${phases - 1})` : ''}; ${workflowId} has ${s.recordsOut} in ${opts.topic}, ${s.deadLetters} in ${s.deadLetterTopic}`;
    },
    async close() {
      if (!final) {
        await handle.signal(cancelStream);
        final = await handle.result();
      }
      return {
        workflowId,
        dir: opts.dir,
        files: final.files.map((f) => path.basename(f.path)).sort(),
        recordsIn: final.recordsIn,
        recordsOut: final.recordsOut,
        deadLetters: final.deadLetters,
        deadLetterTopic: dlqTopic(spec.topic),
      };
    },
  };
}
