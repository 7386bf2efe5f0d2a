/**
 * Argument parsing shared by the benchmarks: commander, with errors that name the option
 * (`error: option '--iterations <n>' argument 'ten' is invalid. expected an integer >= 1`) and no
 * `process.exit` from inside a bench. `bench/run.ts` turns a {@link CommanderError} into exit code 2
 * (0 after `--help`).
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';

export { CommanderError };

/** A command for `npm run bench -- <name>`, writing help and errors to stderr (stdout is the JSON). */
export function benchCommand(name: string, description: string): Command {
  return new Command(`npm run bench -- ${name}`)
    .description(description)
    .helpOption('-h, --help', 'show the options')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stderr.write(s),
      writeErr: (s) => process.stderr.write(s),
    });
}

/** Parses `args` (the bench's own, without node and script) and returns the options. */
export function parseBenchArgs<T>(command: Command, args: readonly string[]): T {
  command.parse([...args], { from: 'user' });
  return command.opts<T & Record<string, unknown>>() as T;
}

/** An option parser for integers >= `min`. */
export function integer(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

/** An option parser for finite numbers > 0. */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
}
