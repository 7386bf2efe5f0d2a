import Table from 'cli-table3';
import { InvalidArgumentError, type Command } from 'commander';
import { plain } from './table-style';
import { processTable, stackDown, stackUp, statusOf, type ServiceStatus } from '../stack/stack';

function serviceTable(services: ServiceStatus[]): string {
  const table = new Table({ head: ['service', 'url', 'healthy'], ...plain() });
  for (const s of services) table.push([s.name, s.url, s.healthy ? 'yes' : 'NO']);
  return table.toString();
}

const say = (msg: string) => process.stderr.write(`sluice: ${msg}\n`);

export function registerStack(program: Command): void {
  const stack = program
    .command('stack')
    .description('install, start, inspect and stop the local stack (Temporal, Kafka, Spark, Flink)');

  stack
    .command('up')
    .description('install the engines on first use, start what is not running, wait until healthy')
    .option('--timeout <seconds>', 'how long to wait for every service to be healthy', parsePositiveInt, 240)
    .action(async (opts: { timeout: number }) => {
      const { started, services } = await stackUp({ timeoutMs: opts.timeout * 1000, say });
      if (started.length === 0) say('every service was already running');
      process.stdout.write(serviceTable(services) + '\n');
    });

  stack
    .command('status')
    .description('report each service: url and health')
    .option('--json', 'print {"services":[{"name","url","healthy"}]}')
    .action(async (opts: { json?: boolean }) => {
      const services = await statusOf();
      if (opts.json) {
        process.stdout.write(JSON.stringify({ services }) + '\n');
      } else {
        process.stdout.write(serviceTable(services) + '\n');
        const procs = new Table({ head: ['process', 'pid', 'running', 'log'], ...plain() });
        for (const p of processTable()) procs.push([p.name, p.pid ?? '-', p.alive ? 'yes' : 'no', p.logFile]);
        process.stdout.write(procs.toString() + '\n');
      }
      // Exit code 3: the stack is not (entirely) healthy; scripts can test for it.
      if (!services.every((s) => s.healthy)) process.exitCode = 3;
    });

  stack
    .command('down')
    .description('stop exactly the processes `stack up` started')
    .action(async () => {
      const stopped = await stackDown(say);
      if (stopped.length === 0) say('nothing to stop');
    });
}

export function parsePositiveInt(value: string, _previous?: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  }
  return n;
}
