/**
 * `npm run bench -- <name> [args...]`: runs one benchmark and prints exactly one JSON object on
 * stdout. Progress and diagnostics go to stderr so the output stays machine-readable.
 */
import { CommanderError } from './args';

type Bench = (args: string[]) => Promise<Record<string, unknown>>;

// Each benchmark lives in its own module and is loaded lazily, so one bench's dependencies
// (a running stack, a Temporal server) are not required by another.
const benches: Record<string, () => Bench> = {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  policies: () => require('./policies').run as Bench,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  'batch-overhead': () => require('./batch-overhead').run as Bench,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  'batch-latency': () => require('./batch-latency').run as Bench,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  'policy-sim': () => require('./sim/run-sim').run as Bench,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  admission: () => require('./admission').run as Bench,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  rescale: () => require('./rescale').run as Bench,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  check: () => require('./check').run as Bench,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  intake: () => require('./intake').run as Bench,
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const load = name ? benches[name] : undefined;
  if (!load) {
    process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}>\n`);
    process.exitCode = 2;
    return;
  }
  const result = await load()(args);
  process.stdout.write(JSON.stringify(result) + '\n');
}

main()
  .catch((err: unknown) => {
    if (err instanceof CommanderError) {
      // Bad arguments: commander has already said which option and why (or printed the help).
      process.exitCode = err.code === 'commander.helpDisplayed' ? 0 : 2;
      return;
    }
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  // The worker runtime forwards the SDK core's logs, which holds the event loop open (see
  // workers/runtime.ts): end explicitly, as bin/sluice.js does.
  .finally(() => process.exit(process.exitCode ?? 0));
