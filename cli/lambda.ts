import type { Client } from '@temporalio/client';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { env as loadEnv, type Env } from '../config/env';
import { viewRows, viewSnapshots, type ViewSnapshot } from '../engines/lake-view';
import { withSession } from '../engines/spark-connect-step';
import { sparkTableName } from '../lib/lake-catalog';
import { partitionBounds, partitionsBetween, type KappaPipelineSpec, type LambdaPipelineSpec } from '../lib/pipelines';
import { localSparkDefaults } from '../stack/install';
import { lambdaPipelineWorkflow } from '../workflows';
import { cancelStream, lambdaStatus, lambdaWorkflowId, pause, resume, type LambdaStatus } from '../workflows/messages';
import { UsageError } from './errors';
import { startPipelineRun, type StartRunOptions } from './start-run';
import { withClient } from './pool';
import { requireWorker } from './worker-check';

/** `lambda/<pipeline>` ids. */
export const isLambdaId = (id: string) => id.startsWith(lambdaWorkflowId(''));

/** Starts a lambda pipeline's workflow (its layers start under it) and prints its id. */
export function startLambda(client: Client, env: Env, spec: LambdaPipelineSpec, opts: StartRunOptions): Promise<void> {
  return startPipelineRun(
    client,
    env,
    {
      workflow: lambdaPipelineWorkflow,
      workflowId: lambdaWorkflowId(spec.name),
      args: [{ pipeline: spec }],
      summary: `lambda ${spec.name}: stream/${spec.name} (Flink) + batch/${spec.name}/<partition> (Spark) from ${spec.schedule.start}, view lake.${spec.name}.merged`,
    },
    opts,
  );
}

/** pause, resume or cancel of a lambda pipeline: the workflow passes it on to both layers. */
export async function controlLambda(
  verb: 'pause' | 'resume' | 'cancel',
  id: string,
  opts: { wait: boolean; savepoint?: boolean },
): Promise<void> {
  await withClient(async (client, env) => {
    await requireWorker(client, env, ['pipelines'], { wait: opts.wait });
    const handle = client.workflow.getHandle(id);
    if (verb === 'pause') await handle.signal(pause);
    else if (verb === 'resume') await handle.signal(resume);
    else
      await handle.signal(cancelStream, { reason: 'cancelled with sluice cancel', savepoint: opts.savepoint ?? true });
    process.stderr.write(`sluice: ${verb} sent to ${id}\n`);
  });
}

export async function showLambdaStatus(id: string, opts: { json?: boolean; wait: boolean }): Promise<void> {
  await withClient(async (client, env) => {
    await requireWorker(client, env, ['pipelines'], { wait: opts.wait && !opts.json });
    const s = await client.workflow.getHandle(id).query(lambdaStatus);
    process.stdout.write(opts.json ? `${JSON.stringify(s)}\n` : renderLambdaStatus(id, s));
  });
}

export function renderLambdaStatus(id: string, s: LambdaStatus): string {
  const table = new Table({ head: ['partition', 'phase', 'batch runs', 'check', 'report'], style: { head: [] } });
  for (const p of s.partitions) {
    const last = p.checks.at(-1);
    table.push([
      p.partition,
      `${p.phase}${p.flagged ? ' (flagged)' : ''}`,
      String(p.batchRuns),
      last
        ? last.consistent
          ? 'consistent'
          : `${last.mismatched} mismatched, ${last.missingInBatch + last.missingInStream} one-sided`
        : '',
      last?.report ?? p.error ?? '',
    ]);
  }
  return [
    `${id}: ${s.state}${s.paused ? ' (paused)' : ''}`,
    `watermark: ${s.watermarkMs !== undefined ? new Date(s.watermarkMs).toISOString() : '(none yet)'}; next to close: ${s.nextToClose}`,
    `high-water mark: ${s.highWaterMark ?? '(none yet)'}; view snapshot: ${s.viewSnapshot ?? '(none yet)'}; gaps: ${s.gaps.join(', ') || 'none'}`,
    s.partitions.length ? table.toString() : '(no partition has closed yet)',
    s.error ? `error: ${s.error}` : undefined,
  ]
    .filter((l) => l !== undefined)
    .join('\n')
    .concat('\n');
}

/** One partition of the view in a snapshot, as `sluice view` reports it. */
export interface ViewPartition {
  partition: string;
  layer: 'batch' | 'stream' | 'gap';
  rows: number;
  check?: string;
  flagged?: boolean;
  checksum?: string;
  report?: string;
  /** Why a partition is a gap. */
  reason?: string;
}

/**
 * The view's partitions `from`..`to` in a snapshot, with their provenance: every partition of the
 * range is listed, and one with no rows in the view is a gap, with why (Sluice never serves around
 * a hole silently).
 */
export function viewPartitions(
  snap: ViewSnapshot | undefined,
  range: { from: string; to: string },
  partitioning: 'hour' | 'day',
) {
  const prov = snap?.provenance;
  return partitionsBetween(partitioning, range.from, range.to).map((p): ViewPartition => {
    const entry = prov?.partitions[p];
    if (entry && entry.rows > 0) {
      return {
        partition: p,
        layer: entry.layer,
        rows: entry.rows,
        checksum: entry.checksum,
        ...(entry.check ? { check: entry.check } : {}),
        ...(entry.flagged ? { flagged: true } : {}),
        ...(entry.report ? { report: entry.report } : {}),
      };
    }
    const beyond = prov?.highWaterMark === undefined || p > prov.highWaterMark;
    const reason = entry
      ? 'verified empty: the batch layer, checked against the stream layer, has no rows'
      : beyond
        ? 'no rows in the stream layer, and no verified batch partition yet'
        : 'no rows';
    return { partition: p, layer: 'gap', rows: 0, reason, ...(entry?.check ? { check: entry.check } : {}) };
  });
}

export function registerLambda(
  program: Command,
  pipelineArg: (name: string) => LambdaPipelineSpec | KappaPipelineSpec,
): void {
  program
    .command('view <pipeline>')
    .description("a lambda or Kappa pipeline's serving view (lake.<pipeline>.merged) with each partition's provenance")
    .option('--from <partition>', 'first partition (default: the schedule start)')
    .option('--to <partition>', 'last partition (default: the newest the view holds)')
    .option('--as-of <snapshot>', 'read this snapshot of the view (time travel; default: the current one)')
    .option('--rows <n>', 'rows to print at most', (v) => Number(v), 50)
    .option('--json', 'print { snapshot, highWaterMark, partitions, gaps, rows } as JSON')
    .action(async (name: string, opts: { from?: string; to?: string; asOf?: string; rows: number; json?: boolean }) => {
      const spec = pipelineArg(name);
      for (const [flag, v] of [
        ['--from', opts.from],
        ['--to', opts.to],
      ] as const) {
        if (v === undefined) continue;
        try {
          partitionBounds(spec.partitioning, v);
        } catch (err) {
          throw new UsageError(`${flag}: ${(err as Error).message}`);
        }
      }
      if (opts.asOf !== undefined && !/^-?\d+$/.test(opts.asOf)) {
        throw new UsageError(`--as-of: expected a snapshot id (an integer), got ${JSON.stringify(opts.asOf)}`);
      }
      if (!Number.isInteger(opts.rows) || opts.rows < 0) throw new UsageError('--rows: expected an integer >= 0');
      const table = sparkTableName(spec.name, 'merged');
      const e = loadEnv();
      const connect = {
        address: e.SLUICE_SPARK_CONNECT,
        uiUrl: e.SLUICE_SPARK_CONNECT_UI,
        protoDir: e.SLUICE_SPARK_CONNECT_PROTO ?? localSparkDefaults(e)!.connectProto,
      };
      const out = await withSession(connect, async (client, sessionId) => {
        const snaps = await viewSnapshots({ client, sessionId }, table);
        const snap = opts.asOf ? snaps.find((x) => x.snapshotId === opts.asOf) : snaps.at(-1);
        if (opts.asOf && !snap) {
          throw new UsageError(
            `--as-of: ${table} has no snapshot ${opts.asOf} (expired, or never; it has ${snaps.map((x) => x.snapshotId).join(', ') || 'none'})`,
          );
        }
        const known = Object.keys(snap?.provenance.partitions ?? {}).sort();
        const from = opts.from ?? spec.schedule.start;
        const to = opts.to ?? known.at(-1) ?? from;
        if (to < from) throw new UsageError(`--to: ${to} is before --from ${from}`);
        const partitions = viewPartitions(snap, { from, to }, spec.partitioning);
        const rows = snap
          ? await viewRows({ client, sessionId }, { table, snapshotId: snap.snapshotId, from, to, limit: opts.rows })
          : [];
        return {
          table,
          snapshot: snap?.snapshotId,
          committedAt: snap?.committedAt,
          highWaterMark: snap?.provenance.highWaterMark,
          streamSnapshot: snap?.provenance.streamSnapshot,
          generation: snap?.provenance.generation,
          partitions,
          gaps: partitions.filter((p) => p.layer === 'gap').map((p) => ({ partition: p.partition, reason: p.reason })),
          rows,
        };
      });
      if (opts.json) return void process.stdout.write(`${JSON.stringify(out)}\n`);
      const prov = new Table({ head: ['partition', 'served by', 'rows', 'check', 'checksum'], style: { head: [] } });
      for (const p of out.partitions) {
        prov.push([
          p.partition,
          p.layer === 'gap' ? `GAP: ${p.reason}` : p.layer,
          String(p.rows),
          `${p.check ?? ''}${p.flagged ? ' (flagged)' : ''}`,
          p.checksum ?? '',
        ]);
      }
      const rows = new Table({ head: Object.keys(out.rows[0] ?? {}), style: { head: [] } });
      for (const r of out.rows)
        rows.push(Object.values(r).map((v) => (v instanceof Date ? v.toISOString() : String(v))));
      process.stdout.write(
        [
          `${out.table} @ snapshot ${out.snapshot ?? '(none: nothing published yet)'}${out.committedAt ? ` (${out.committedAt})` : ''}`,
          spec.kind === 'kappa'
            ? `stream generation ${out.generation ?? '(none yet)'} (stream snapshot ${out.streamSnapshot ?? 'none'})`
            : `batch up to ${out.highWaterMark ?? '(none yet)'}, stream after it (stream snapshot ${out.streamSnapshot ?? 'none'})`,
          prov.toString(),
          out.rows.length ? rows.toString() : '(no rows)',
        ].join('\n') + '\n',
      );
    });
}
