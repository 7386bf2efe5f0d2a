import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import Table from 'cli-table3';
import type { Command } from 'commander';
import * as fs from 'node:fs';
import type { Env } from '../config/env';
import { rootCauseMessage } from '../lib/errors';
import type { KappaPipelineSpec } from '../lib/pipelines';
import { kappaPipelineWorkflow } from '../workflows';
import { kappaStatus, kappaWorkflowId, reprocess, rollback, type KappaStatus } from '../workflows/messages';
import { plain } from './table-style';
import { UsageError } from './errors';
import { startPipelineRun, type StartRunOptions } from './start-run';
import { withClient } from './pool';
import { requireWorker } from './worker-check';

/** `kappa/<pipeline>` ids. */
export const isKappaId = (id: string) => id.startsWith(kappaWorkflowId(''));

/** Starts a Kappa pipeline's workflow (its first generation starts under it) and prints its id. */
export function startKappa(client: Client, env: Env, spec: KappaPipelineSpec, opts: StartRunOptions): Promise<void> {
  return startPipelineRun(
    client,
    env,
    {
      workflow: kappaPipelineWorkflow,
      workflowId: kappaWorkflowId(spec.name),
      args: [{ pipeline: spec }],
      summary: `kappa ${spec.name}: stream/${spec.name} (Flink) serving view lake.${spec.name}.merged; reprocess replays as new generations`,
    },
    opts,
  );
}

export async function showKappaStatus(id: string, opts: { json?: boolean; wait: boolean }): Promise<void> {
  await withClient(async (client, env) => {
    await requireWorker(client, env, ['pipelines'], { wait: opts.wait && !opts.json });
    const s = await client.workflow.getHandle(id).query(kappaStatus);
    process.stdout.write(opts.json ? `${JSON.stringify(s)}\n` : renderKappaStatus(id, s));
  });
}

export function renderKappaStatus(id: string, s: KappaStatus, tableStyle = plain()): string {
  const table = new Table({ head: ['generation', 'workflow', 'state', 'diff', 'note'], ...tableStyle });
  for (const g of s.generations) {
    const failed = g.checks.filter((c) => !c.consistent);
    table.push([
      String(g.generation),
      g.workflowId,
      g.state,
      g.checks.length
        ? failed.length
          ? `failed in ${failed.length} of ${g.checks.length}`
          : `passed (${g.checks.length})`
        : '',
      g.reason ?? (g.retainUntil ? `retained until ${new Date(g.retainUntil).toISOString()}` : ''),
    ]);
  }
  return [
    `${id}: ${s.state}${s.paused ? ' (paused)' : ''}; the view serves generation ${s.serving}`,
    `watermark: ${s.watermarkMs !== undefined ? new Date(s.watermarkMs).toISOString() : '(none yet)'}; view snapshot: ${s.viewSnapshot ?? '(none yet)'}`,
    table.toString(),
    s.error ? `error: ${s.error}` : undefined,
  ]
    .filter((l) => l !== undefined)
    .join('\n')
    .concat('\n');
}

/** `--transform`: inline JSON or `@file`. */
function transformArg(text: string): unknown {
  const raw = text.startsWith('@') ? readFile(text.slice(1)) : text;
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new UsageError(`--transform: not JSON: ${(err as Error).message}`);
  }
}
function readFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`--transform: cannot read ${file}`);
  }
}

export function registerKappa(program: Command, pipelineArg: (name: string) => KappaPipelineSpec): void {
  program
    .command('reprocess <pipeline>')
    .description(
      'Kappa: replay the source as a new generation, diff it against the serving one, switch the view only if it passes',
    )
    .option('--transform <json|@file>', 'a changed computation for the new generation (same output columns)')
    .option('--force', 'switch even when the diff finds differences')
    .option('--rollback', 'switch the view back to the retained generation it replaced, in one commit')
    .option('--json', 'print the answer as JSON')
    .action(async (name: string, opts: { transform?: string; force?: boolean; rollback?: boolean; json?: boolean }) => {
      const spec = pipelineArg(name);
      if (opts.rollback && (opts.transform || opts.force)) {
        throw new UsageError('--rollback: takes neither --transform nor --force');
      }
      const transform = opts.transform !== undefined ? transformArg(opts.transform) : undefined;
      const id = kappaWorkflowId(spec.name);
      await withClient(async (client, env) => {
        await requireWorker(client, env, ['pipelines'], { wait: !opts.json });
        const handle = client.workflow.getHandle(id);
        try {
          const answer = opts.rollback
            ? await handle.executeUpdate(rollback, { args: [] })
            : await handle.executeUpdate(reprocess, {
                args: [{ ...(transform !== undefined ? { transform } : {}), ...(opts.force ? { force: true } : {}) }],
              });
          process.stdout.write(
            opts.json
              ? `${JSON.stringify(answer)}\n`
              : 'generation' in answer
                ? `${id}: generation ${answer.generation} replays as ${answer.workflowId}; it is diffed once past ${new Date(answer.targetMs).toISOString()} (sluice status ${id})\n`
                : `${id}: the view serves generation ${answer.serving} again (from ${answer.from}; snapshot ${answer.viewSnapshot ?? 'none'})\n`,
          );
        } catch (err) {
          if (err instanceof WorkflowUpdateFailedError) {
            throw new Error(`${opts.rollback ? 'rollback' : 'reprocess'} refused: ${rootCauseMessage(err)}`, {
              cause: err,
            });
          }
          throw err;
        }
      });
    });
}
