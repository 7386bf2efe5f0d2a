// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layers point one way (docs/architecture.md#layers):
 *   cli/ → workers/ → workflows/ (deterministic) and activities/ → engines/ → lib/
 * with scheduler-policies/ pure (imported by workflows), config/ usable by all but the sandbox,
 * and stack/ a leaf that only cli/ and tests import. Each folder lists the folders it must not
 * import; the regexes catch every depth of relative path (`../stack`, `../../stack/install`).
 */
const FOLDERS = [
  'cli',
  'workers',
  'workflows',
  'activities',
  'engines',
  'lib',
  'scheduler-policies',
  'config',
  'stack',
];

/** A pattern that forbids importing `folder` (at any relative depth) from the files it applies to. */
const layer = (folder, why, extra = {}) => ({
  regex: `^(\\.\\./)+${folder}(/.*)?$`,
  message: `${why} (layers point one way: docs/architecture.md#layers)`,
  ...extra,
});

const NOT_BELOW_CLI = [
  layer('cli', 'Only the CLI imports cli/'),
  layer('stack', 'stack/ is a leaf: only cli/ and tests import the local stack'),
];

// Workflow and policy code runs in Temporal's deterministic sandbox: no I/O, no engine clients,
// no Node built-ins. Activities are imported into workflows as types only.
const sandboxPaths = [
  ...['fs', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'dns', 'worker_threads', 'process'].map(
    (name) => ({ name, message: 'Node built-ins are not deterministic: use an activity.' }),
  ),
  { name: 'kafkajs', message: 'Engine clients belong in engines/, called from activities/.' },
  { name: 'apache-arrow', message: 'Arrow belongs in engines/ and activities/.' },
  { name: '@grpc/grpc-js', message: 'Engine clients (Spark Connect) belong in engines/, called from activities/.' },
  {
    name: '@grpc/proto-loader',
    message: 'Engine clients (Spark Connect) belong in engines/, called from activities/.',
  },
  { name: '@temporalio/activity', message: 'Activity APIs are not available in workflow code.' },
  { name: '@temporalio/client', message: 'Clients are not available in workflow code.' },
  { name: '@temporalio/worker', message: 'Worker APIs are not available in workflow code.' },
];
const nodeBuiltins = { group: ['node:*'], message: 'Node built-ins are not deterministic: use an activity.' };

/** Per protected folder: its forbidden imports (patterns, and package paths). */
const RULES = {
  workflows: {
    patterns: [
      nodeBuiltins,
      ...NOT_BELOW_CLI,
      layer('workers', 'Workflows do not import the worker wiring'),
      layer('engines', 'Workflows reach engines through activities'),
      layer('config', 'Workflows do not read the configuration (activities do)'),
      layer('activities', 'Import activities as types only (proxyActivities)', { allowTypeImports: true }),
    ],
    paths: sandboxPaths,
  },
  'scheduler-policies': {
    patterns: [
      nodeBuiltins,
      ...NOT_BELOW_CLI,
      ...['workers', 'workflows', 'activities', 'engines', 'config'].map((f) =>
        layer(f, 'Policies are pure: they import only lib/'),
      ),
    ],
    paths: sandboxPaths,
  },
  activities: {
    patterns: [
      ...NOT_BELOW_CLI,
      layer('workers', 'Activities define their own dependency interface (activities/deps.ts)'),
      layer('workflows/(?!messages$)[^/]+', 'Activities import from workflows/ only the message contract', {}),
    ],
  },
  engines: {
    patterns: [
      ...NOT_BELOW_CLI,
      ...['workers', 'workflows', 'activities', 'config', 'scheduler-policies'].map((f) =>
        layer(f, 'Engine clients are typed clients below activities: they import only lib/'),
      ),
      { group: ['@temporalio/*'], message: 'Engine clients have no Temporal in them (activities wrap them).' },
    ],
  },
  lib: {
    patterns: FOLDERS.filter((f) => f !== 'lib').map((f) =>
      layer(f, 'lib/ is the bottom layer: it imports no other folder'),
    ),
  },
  config: {
    patterns: FOLDERS.filter((f) => f !== 'config' && f !== 'lib').map((f) =>
      layer(f, 'config/ is read by every layer: it imports only lib/'),
    ),
  },
  workers: { patterns: [...NOT_BELOW_CLI] },
  stack: {
    patterns: ['cli', 'workers', 'workflows', 'activities'].map((f) =>
      layer(f, 'stack/ starts engines; it does not run Sluice (engines/, config/ and lib/ serve it)'),
    ),
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...Object.entries(RULES).map(([folder, options]) => ({
    files: [`${folder}/**/*.ts`],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', options] },
  })),
  // Users' workflow code (the examples run by `sluice worker --workflows`): the sandbox's rules,
  // and Sluice reached only through its building blocks, `sluice/workflow`.
  {
    files: ['pipelines/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: sandboxPaths,
          patterns: [
            nodeBuiltins,
            { regex: '^\\.\\./', message: "Workflow code outside Sluice imports Sluice from 'sluice/workflow'." },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
