import { Client, Connection, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import Table from 'cli-table3';
import { InvalidArgumentError, type Command } from 'commander';
import { parseEnv, poolTaskQueue, type Env } from '../config/env';
import { SluiceKind, SluicePool } from '../lib/search-attributes';
import { parsePolicyConfig, type PolicyConfig, type ResourceVector } from '../scheduler-policies';
import { NAME_MESSAGE, NAME_PATTERN } from '../lib/names';
import { connectionOptions } from '../workers/connection';
import { poolSchedulerWorkflow, poolWorkflowId } from '../workflows';
import { configurePool, explain, poolState, type Explanation, type PoolStateView } from '../workflows/messages';
import { plain } from './table-style';
import { UsageError } from './errors';
import { requireWorker } from './worker-check';
import { parsePositiveInt } from './stack';

/** Runs `fn` with a client from the configuration, and closes its connection. */
export async function withClient<T>(fn: (client: Client, env: Env) => Promise<T>): Promise<T> {
  const env = parseEnv();
  const connection = await Connection.connect(connectionOptions(env));
  try {
    return await fn(new Client({ connection, namespace: env.TEMPORAL_NAMESPACE }), env);
  } finally {
    await connection.close();
  }
}

/** `cpu=8,memoryMb=16384` → `{ cpu: 8, memoryMb: 16384 }`. */
export function parseCapacity(value: string): ResourceVector {
  const out: ResourceVector = {};
  for (const part of value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z][A-Za-z0-9_.-]*)=(.*)$/.exec(part);
    if (!m)
      throw new InvalidArgumentError(`expected name=amount pairs such as cpu=8,memoryMb=16384; "${part}" is not one`);
    const name = m[1]!;
    const amount = m[2]!;
    if (!/^\d+(?:\.\d+)?$/.test(amount))
      throw new InvalidArgumentError(`${name}: expected an amount >= 0 such as ${name}=8, got "${amount}"`);
    if (name in out) throw new InvalidArgumentError(`${name} is given twice`);
    out[name] = Number(amount);
  }
  if (Object.keys(out).length === 0) throw new InvalidArgumentError('expected at least one resource, e.g. cpu=8');
  return out;
}

/** A policy kind (`fifo`) or a JSON config (`{"kind":"fair","weights":{"a":2}}`), validated. */
export function parsePolicyArg(value: string): PolicyConfig {
  let input: unknown;
  try {
    input = value.trim().startsWith('{') ? JSON.parse(value) : { kind: value.trim() };
  } catch (err) {
    throw new InvalidArgumentError(`not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parsePolicyConfig(input);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const fmt = (v: ResourceVector) =>
  Object.entries(v)
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
/** Time since epoch ms `t`, on this clock (never negative: the server's clock may run ahead of ours). */
const since = (t: number, now: number) => Math.max(0, now - t);
const ago = (ms: number) =>
  ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`;

export function printPool(v: PoolStateView, now = Date.now()): string {
  const lines = [
    `pool ${v.pool}  policy ${JSON.stringify(v.policy)}  generation ${v.generation}`,
    `capacity ${fmt(v.capacity)}`,
    `used     ${fmt(v.used)}`,
    `requests submitted ${v.counters.submitted}, granted ${v.counters.granted}, released ${v.counters.released}, ` +
      `rejected ${v.counters.rejected}, revoked ${v.counters.revoked}, reclaimed ${v.counters.reclaimed}`,
  ];
  const running = new Table({ head: ['running', 'holder', 'tenant', 'queue', 'demand', 'granted'], ...plain() });
  for (const g of v.running) {
    running.push([
      g.requestId,
      g.holderWorkflowId,
      g.tenant,
      g.queue ?? '-',
      fmt(g.demand),
      `${ago(since(g.grantedAt, now))} ago${g.revoking ? ` (revoking: ${g.revoking})` : ''}`,
    ]);
  }
  const pending = new Table({ head: ['pending', 'tenant', 'queue', 'prio', 'demand', 'waiting', 'why'], ...plain() });
  for (const p of v.pending) {
    // From submittedAt: the view's waitingMs stops at the scheduler's last workflow task.
    const waited = ago(since(p.submittedAt, now));
    pending.push([p.requestId, p.tenant, p.queue ?? '-', p.priority, fmt(p.demand), waited, p.reason]);
  }
  return [
    ...lines,
    v.running.length ? running.toString() : 'no running grants',
    v.pending.length ? pending.toString() : 'no pending requests',
  ].join('\n');
}

/** How long a pending request has waited, or a running one has held, up to now. */
function elapsed(a: Explanation, now = Date.now()): string {
  if (a.status === 'pending' && a.submittedAt !== undefined) return `, waiting for ${ago(since(a.submittedAt, now))}`;
  if (a.status === 'running' && a.grantedAt !== undefined) return `, granted ${ago(since(a.grantedAt, now))} ago`;
  return '';
}

export function registerPool(program: Command): void {
  program
    .command('pool <name>')
    .description('show a resource pool; with --capacity/--policy, create it or change it')
    .option('--json', 'print the poolState query as JSON (implies --no-wait)')
    .option('--no-wait', 'do not wait for a worker: fail at once when none polls')
    .option('--capacity <resources>', 'capacity, e.g. cpu=8,memoryMb=16384', parseCapacity)
    .option(
      '--policy <policy>',
      'fifo | priority | fair | capacity | backfill, or a JSON policy config',
      parsePolicyArg,
    )
    .option('--check-interval <seconds>', 'how often holders are checked for being alive (new pools)', parsePositiveInt)
    .action(
      async (
        name: string,
        opts: {
          json?: boolean;
          wait: boolean;
          capacity?: ResourceVector;
          policy?: PolicyConfig;
          checkInterval?: number;
        },
      ) => {
        if (!NAME_PATTERN.test(name)) {
          throw new UsageError(`pool name "${name}": ${NAME_MESSAGE}`);
        }
        await withClient(async (client, env) => {
          // Its scheduler runs on the pools' queue: without a worker, an update or query never returns.
          await requireWorker(client, env, ['pools'], { wait: opts.wait && !opts.json });
          const handle = client.workflow.getHandle(poolWorkflowId(name));
          const isRunning = await handle
            .describe()
            .then((d) => d.status.name === 'RUNNING')
            .catch((err: unknown) => {
              if (err instanceof WorkflowNotFoundError) return false;
              throw err;
            });
          if (opts.capacity || opts.policy) {
            if (!isRunning) {
              if (!opts.capacity)
                throw new Error(`pool ${name} is not running: create it with --capacity (and --policy)`);
              await client.workflow.start(poolSchedulerWorkflow, {
                taskQueue: poolTaskQueue(env),
                workflowId: poolWorkflowId(name),
                args: [
                  {
                    name,
                    capacity: opts.capacity,
                    policy: opts.policy ?? { kind: 'fifo' },
                    options: opts.checkInterval ? { holderCheckIntervalMs: opts.checkInterval * 1000 } : {},
                  },
                ],
                typedSearchAttributes: [
                  { key: SluiceKind, value: 'pool' },
                  { key: SluicePool, value: name },
                ],
                staticSummary: `resource pool ${name}: admission control (${(opts.policy ?? { kind: 'fifo' }).kind})`,
              });
              process.stderr.write(`sluice: started pool ${name}\n`);
            } else {
              try {
                await handle.executeUpdate(configurePool, { args: [{ capacity: opts.capacity, policy: opts.policy }] });
              } catch (err) {
                if (err instanceof WorkflowUpdateFailedError) {
                  throw new Error(`pool ${name} refused the change: ${err.cause?.message ?? err.message}`);
                }
                throw err;
              }
              process.stderr.write(`sluice: reconfigured pool ${name}\n`);
            }
          } else if (!isRunning) {
            throw new Error(
              `pool ${name} is not running (create it: sluice pool ${name} --capacity cpu=8,memoryMb=16384)`,
            );
          }
          const view = await handle.query(poolState);
          process.stdout.write(opts.json ? `${JSON.stringify(view)}\n` : `${printPool(view)}\n`);
        });
      },
    );

  program
    .command('explain <requestId>')
    .description('say why a request waits, or why it was granted')
    .option('--pool <name>', 'the pool to ask (default: every running pool)')
    .option('--json', 'print {"pool","requestId","status","explanation","submittedAt","grantedAt"} (implies --no-wait)')
    .option('--no-wait', 'do not wait for a worker: fail at once when none polls')
    .action(async (requestId: string, opts: { pool?: string; json?: boolean; wait: boolean }) => {
      await withClient(async (client, env) => {
        await requireWorker(client, env, ['pools'], { wait: opts.wait && !opts.json });
        const pools = opts.pool ? [opts.pool] : await runningPools(client);
        if (pools.length === 0) throw new Error('no pool is running');
        for (const pool of pools) {
          const answer = await client.workflow
            .getHandle(poolWorkflowId(pool))
            .query(explain, requestId)
            .catch((err: unknown) => {
              if (err instanceof WorkflowNotFoundError) throw new Error(`pool ${pool} is not running`);
              throw err;
            });
          if (answer.status === 'unknown' && pools.length > 1) continue;
          process.stdout.write(
            opts.json
              ? `${JSON.stringify({ pool, ...answer })}\n`
              : `${requestId} in pool ${pool}: ${answer.status}${elapsed(answer)}\n  ${answer.explanation}\n`,
          );
          if (answer.status === 'unknown') process.exitCode = 1;
          return;
        }
        process.stderr.write(`sluice: no running pool (${pools.join(', ')}) knows request ${requestId}\n`);
        process.exitCode = 1;
      });
    });
}

async function runningPools(client: Client): Promise<string[]> {
  const names: string[] = [];
  for await (const wf of client.workflow.list({ query: `SluiceKind = 'pool' AND ExecutionStatus = 'Running'` })) {
    if (wf.workflowId.startsWith('pool/')) names.push(wf.workflowId.slice('pool/'.length));
  }
  return names.sort();
}
