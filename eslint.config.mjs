// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Workflow and policy code runs in Temporal's deterministic sandbox: no I/O, no engine clients,
// no Node built-ins. Activities are imported into workflows as types only.
const sandboxRestrictions = {
  patterns: [
    { group: ['node:*'], message: 'Node built-ins are not deterministic: use an activity.' },
    {
      group: ['../activities', '../activities/*'],
      allowTypeImports: true,
      message: 'Import activities as types only (proxyActivities).',
    },
  ],
  paths: [
    ...['fs', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'dns', 'worker_threads', 'process'].map(
      (name) => ({
        name,
        message: 'Node built-ins are not deterministic: use an activity.',
      }),
    ),
    { name: 'kafkajs', message: 'Engine clients belong in activities/.' },
    { name: 'apache-arrow', message: 'Arrow belongs in activities/.' },
    { name: 'parquet-wasm', message: 'Parquet belongs in activities/.' },
    { name: '@temporalio/activity', message: 'Activity APIs are not available in workflow code.' },
    { name: '@temporalio/client', message: 'Clients are not available in workflow code.' },
    { name: '@temporalio/worker', message: 'Worker APIs are not available in workflow code.' },
  ],
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
  {
    files: ['workflows/**/*.ts', 'scheduler-policies/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', sandboxRestrictions] },
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
