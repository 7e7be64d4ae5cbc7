// Lint rules whose main job is to keep workflow code deterministic: workflow files run in
// Temporal's sandbox and are replayed, so they may not touch Node built-ins or I/O
// libraries, and may only see activities as types.
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs',
  'fs/promises', 'http', 'http2', 'https', 'net', 'os', 'path', 'perf_hooks', 'process',
  'readline', 'stream', 'timers', 'tls', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.data/**'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  {
    // node:test's describe() and it() return promises that the runner itself tracks.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not use Node built-ins: it is replayed in a sandbox.' })),
            ...nodeBuiltins.map((name) => ({ name: `node:${name}`, message: 'Workflow code must not use Node built-ins: it is replayed in a sandbox.' })),
            { name: 'nats', message: 'I/O belongs in activities.' },
            { name: 'pino', message: 'Use the workflow logger from @temporalio/workflow.' },
            { name: 'systeminformation', message: 'Probes belong in activities.' },
            { name: '@temporalio/client', message: 'Workflows talk to the server through @temporalio/workflow only.' },
            { name: '@temporalio/worker', message: 'Workflows talk to the server through @temporalio/workflow only.' },
            { name: '@temporalio/activity', message: 'Activity context is not available in workflows.' },
          ],
          patterns: [
            {
              group: ['**/activities', '**/activities/**', '**/simulator/**', '**/workers/**'],
              allowTypeImports: true,
              message: 'Workflows may import activities only with `import type` and proxy them.',
            },
          ],
        },
      ],
    },
  },
);
