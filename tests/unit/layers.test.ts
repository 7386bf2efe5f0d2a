/**
 * The layer rules of eslint.config.mjs bite: in each protected folder a forbidden import fails
 * lint with the layer rule, at any depth of relative path, while the imports the layering allows
 * pass. (The tree itself is linted by the test script: `npx eslint .` must pass on it.)
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

// ESLint loads its (ESM) config with a dynamic import, which jest's module sandbox refuses: the
// cases are linted in one child process, as `npx eslint` would lint them.
const LINT_CASES = `
const { ESLint } = require('eslint');
const cases = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
(async () => {
  const eslint = new ESLint();
  const out = [];
  for (const { filePath, code } of cases) {
    const [result] = await eslint.lintText(code, { filePath });
    out.push(result.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message));
  }
  process.stdout.write(JSON.stringify(out));
})();
`;

/** The messages of the import rule for each `code`, linted as if it were the file `filePath`. */
function importProblems(cases: { filePath: string; code: string }[]): string[][] {
  const root = path.join(__dirname, '..', '..');
  return JSON.parse(
    execFileSync(process.execPath, ['-e', LINT_CASES], { cwd: root, input: JSON.stringify(cases), encoding: 'utf8' }),
  ) as string[][];
}

const use = (specifier: string) => `import { x } from '${specifier}';\nexport const y = x;\n`;
const useType = (specifier: string) => `import type { X } from '${specifier}';\nexport type Y = X;\n`;

// [file, import, what the message must say]
const FORBIDDEN: [string, string, string][] = [
  ['activities/x.ts', '../stack/install', 'stack/ is a leaf'],
  ['activities/nested/x.ts', '../../workers/deps', 'own dependency interface'],
  ['activities/x.ts', '../workflows/pool/admission', 'only the message contract'],
  ['engines/x.ts', '../activities', 'import only lib/'],
  ['engines/x.ts', '../config/env', 'import only lib/'],
  ['engines/x.ts', '@temporalio/client', 'no Temporal in them'],
  ['workflows/pool/x.ts', '../../activities', 'as types only'],
  ['workflows/pool/x.ts', '../../engines/kafka', 'through activities'],
  ['workflows/x.ts', '../stack/paths', 'stack/ is a leaf'],
  ['workflows/x.ts', 'node:fs', 'not deterministic'],
  ['scheduler-policies/x.ts', '../workflows/messages', 'Policies are pure'],
  ['scheduler-policies/x.ts', 'kafkajs', 'engines/'],
  ['config/x.ts', '../stack/paths', 'imports only lib/'],
  ['config/x.ts', '../workers/deps', 'imports only lib/'],
  ['lib/x.ts', '../scheduler-policies', 'bottom layer'],
  ['lib/pipelines/x.ts', '../../engines/spark', 'bottom layer'],
  ['lib/pipelines/x.ts', '../../activities/deps', 'bottom layer'],
  ['workers/x.ts', '../stack/install', 'stack/ is a leaf'],
  ['workers/x.ts', '../cli/main', 'Only the CLI'],
  ['stack/x.ts', '../workers/worker', 'does not run Sluice'],
];

const ALLOWED: [string, string][] = [
  ['activities/x.ts', '../engines/kafka'],
  ['activities/x.ts', '../workflows/messages'],
  ['activities/x.ts', '../lib/errors'],
  ['engines/x.ts', '../lib/http'],
  ['workflows/pool/x.ts', '../../lib/errors'],
  ['workflows/pool/x.ts', '../../scheduler-policies'],
  ['workers/x.ts', '../activities'],
  ['stack/x.ts', '../engines/kafka'],
  ['stack/x.ts', '../config/env'],
  ['config/x.ts', '../lib/project-root'],
  ['cli/x.ts', '../stack/stack'],
  ['cli/x.ts', '../workers/worker'],
];

const results = importProblems([
  ...FORBIDDEN.map(([filePath, specifier]) => ({ filePath, code: use(specifier) })),
  ...ALLOWED.map(([filePath, specifier]) => ({ filePath, code: use(specifier) })),
  { filePath: 'workflows/x.ts', code: useType('../activities') },
]);

test.each(FORBIDDEN.map((c, i) => [...c, results[i]!] as const))(
  '%s may not import %s',
  (_file, _specifier, why, problems) => {
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(why);
  },
);

test.each(ALLOWED.map((c, i) => [...c, results[FORBIDDEN.length + i]!] as const))(
  '%s may import %s',
  (_file, _specifier, problems) => {
    expect(problems).toEqual([]);
  },
);

test('workflows may import activities as types', () => {
  expect(results.at(-1)).toEqual([]);
});
