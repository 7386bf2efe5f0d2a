/**
 * `sluice intake <spec>` starts an intake (`intake/<name>`, docs/intake.md); `sluice status
 * intake/<name>` shows its counts, files and lag; `pause`, `resume` and `cancel` reach it as they
 * reach streams (cli/pipelines.ts dispatches them here).
 */
import type { Client } from '@temporalio/client';
import Table from 'cli-table3';
import type { Command } from 'commander';
import * as fs from 'node:fs';
import { createKafkaClient } from '../engines/kafka';
import { readTopicSchema } from '../engines/schema-registry';
import { compareSchemas, incompatibleChangeMessage } from '../lib/intake/schemas';
import {
  InvalidIntakeSpec,
  describeSource,
  dlqTopic,
  parseIntakeSpec,
  topicSchema,
  type IntakeSpec,
} from '../lib/intake/spec';
import { SluiceKind, SluicePipeline, SluicePool, SluiceTenant } from '../lib/search-attributes';
import { INTAKES } from '../pipelines/intakes';
import { intakeWorkflow } from '../workflows';
import { intakeStatus, intakeWorkflowId, type IntakeStatus } from '../workflows/messages';
import { plain } from './table-style';
import { UsageError } from './errors';
import { withClient } from './pool';
import { requirePoolRunning, startPipelineRun } from './start-run';
import { requireWorker } from './worker-check';

/** `intake/<name>` ids. */
export const isIntakeId = (id: string) => id.startsWith(intakeWorkflowId(''));

/** A registered intake by name, or a JSON spec file (a path ending in `.json`). */
export function intakeArg(arg: string): IntakeSpec {
  if (arg.endsWith('.json')) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(arg, 'utf8'));
    } catch (err) {
      throw new UsageError(`${arg}: ${(err as Error).message}`);
    }
    try {
      return parseIntakeSpec(raw);
    } catch (err) {
      if (err instanceof InvalidIntakeSpec) throw new UsageError(`${arg}: ${err.message}`);
      throw err;
    }
  }
  const spec = Object.hasOwn(INTAKES, arg) ? INTAKES[arg] : undefined;
  if (!spec) {
    throw new UsageError(
      `unknown intake ${JSON.stringify(arg)} (known: ${Object.keys(INTAKES).join(', ')}; or give a JSON spec file)`,
    );
  }
  return spec;
}

export function registerIntake(program: Command): void {
  program
    .command('intake <spec>')
    .description('start an intake (a registered name, or a JSON spec file): its source into its topic, exactly once')
    .option('--no-wait', 'fail at once when no worker polls')
    .option('--json', 'print {"workflowId"} as JSON')
    .option('--force-schema', "register the intake's schema even if it drops or retypes a column of its topic's")
    .action(async (arg: string, opts: { wait: boolean; json?: boolean; forceSchema?: boolean }) => {
      const spec = intakeArg(arg);
      await withClient(async (client, env) => {
        await requirePoolRunning(client, spec.intake.pool, `intake ${spec.name}`);
        // The workflow checks again (and is the one that registers): this refuses before anything starts.
        const registered = await readTopicSchema(createKafkaClient(env.SLUICE_KAFKA_BROKERS), spec.topic);
        const change = compareSchemas(registered?.current.columns, topicSchema(spec));
        if (change.kind === 'incompatible' && !opts.forceSchema) {
          throw new UsageError(incompatibleChangeMessage(spec.name, registered!, change));
        }
        await startPipelineRun(
          client,
          env,
          {
            workflow: intakeWorkflow,
            workflowId: intakeWorkflowId(spec.name),
            args: [{ intake: spec, forceSchema: opts.forceSchema }],
            summary: `intake ${spec.name}: ${describeSource(spec)} → ${spec.topic} (dead letters: ${dlqTopic(spec.topic)})`,
          },
          {
            wait: opts.wait,
            json: opts.json,
            searchAttributes: [
              { key: SluicePipeline, value: spec.name },
              { key: SluiceKind, value: 'intake' },
              { key: SluicePool, value: spec.intake.pool },
              { key: SluiceTenant, value: spec.intake.tenant },
            ],
          },
        );
      });
    });
}

/** The running slice's heartbeat (counts as of its last committed batch), fresher than the query's. */
async function liveCounts(client: Client, id: string): Promise<Partial<IntakeStatus> | undefined> {
  const d = await client.workflow.getHandle(id).describe();
  const data = d.raw.pendingActivities?.find((a) => a.activityType?.name === 'runIntakeSlice')?.heartbeatDetails
    ?.payloads?.[0]?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as Partial<IntakeStatus>) : undefined;
}

/** The intake's status with the running slice's counts (the query alone has the last slice's). */
export async function intakeCounts(client: Client, id: string): Promise<IntakeStatus> {
  const queried = await client.workflow.getHandle(id).query(intakeStatus);
  const live = queried.state === 'RUNNING' ? await liveCounts(client, id).catch(() => undefined) : undefined;
  return { ...queried, ...live };
}

export async function showIntakeStatus(id: string, opts: { json?: boolean; wait: boolean }): Promise<void> {
  await withClient(async (client, env) => {
    await requireWorker(client, env, ['pipelines'], { wait: opts.wait && !opts.json });
    const s = await intakeCounts(client, id);
    process.stdout.write(opts.json ? `${JSON.stringify(s)}\n` : renderIntakeStatus(id, s));
  });
}

export function renderIntakeStatus(id: string, s: IntakeStatus, tableStyle = plain()): string {
  const files = new Table({ head: ['file', 'read to byte'], ...tableStyle });
  for (const f of s.files) files.push([f.path, String(f.offset)]);
  return [
    `${id}: ${s.state}; ${s.source} → ${s.topic}`,
    `records in ${s.recordsIn}, out ${s.recordsOut}, dead letters ${s.deadLetters} (${s.deadLetterTopic})${s.skipped ? `, skipped ${s.skipped}` : ''}; ${s.commits} transactions; lag ${s.lagMessages !== undefined ? `${s.lagMessages} messages` : `${s.lagBytes ?? 0} bytes`}`,
    s.files.length
      ? files.toString()
      : s.source.startsWith('files:')
        ? 'no file read yet'
        : `position: ${s.position ?? 'none committed yet'}`,
    s.error ? `error: ${s.error}` : undefined,
  ]
    .filter((l) => l !== undefined)
    .join('\n')
    .concat('\n');
}
