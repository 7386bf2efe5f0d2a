import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { env } from '../config/env';
import { PROJECT_ROOT } from '../lib/project-root';
import { registerCheck } from './check';
import { registerDemo } from './demo';
import { UsageError } from './errors';
import { registerLambda } from './lambda';
import { registerKappa } from './kappa';
import { registerIntake } from './intake';
import { kappaPipelineArg, viewPipelineArg, registerPipelines } from './pipelines';
import { registerPool } from './pool';
import { registerWorker } from './worker';
import { registerStack } from './stack';
import { registerStreams } from './streams';

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description('Sluice: batch (Spark), streaming (Flink + Kafka) and lambda pipelines on one pool, on Temporal')
    .version(projectVersion())
    .showHelpAfterError()
    .exitOverride();
  registerStack(program);
  registerDemo(program);
  registerPool(program);
  registerPipelines(program);
  registerStreams(program);
  registerLambda(program, viewPipelineArg);
  registerKappa(program, kappaPipelineArg);
  registerIntake(program);
  registerCheck(program);
  registerWorker(program);
  return program;
}

/** Runs the CLI; user errors print one clear line and exit 1, usage errors exit 2. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`sluice: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    if (err instanceof CommanderError) {
      // Commander already printed its parse error.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`sluice: ${err instanceof Error ? err.message : String(err)}\n`);
    if (debugEnabled() && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }
}

function projectVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** SLUICE_DEBUG, read from the configuration (a CLI error may itself be a configuration error). */
function debugEnabled(): boolean {
  try {
    return Boolean(env().SLUICE_DEBUG);
  } catch {
    return Boolean(process.env.SLUICE_DEBUG);
  }
}
