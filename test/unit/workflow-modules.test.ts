import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';

/**
 * Every workflow run in the control worker's cache holds its own copy of each module it has
 * loaded (Temporal's reusable V8 context keeps a module cache per run), and the bundle's entry
 * loads for every run what workflows/index.ts imports at its top. The schemas and the libraries
 * behind them cost a run about 2 MB, so they are loaded where they are used
 * (workflows/lib/lazy-modules.ts). Node loads top-level imports the way the bundle does, and
 * leaves a require inside a function until it is called, so its module cache shows what a run
 * of any workflow loads.
 */
const heavy = /node_modules\/(zod|@noble|cron-parser|luxon)\/|dist\/config\/schema\/(?!plan-defaults)|dist\/plan\//;

function modulesLoadedBy(script: string): string[] {
  const distDir = path.resolve(__dirname, '..', '..');
  const out = execFileSync(process.execPath, ['-e', `${script}; console.log(JSON.stringify(Object.keys(require.cache)))`], { cwd: distDir, timeout: 30_000 }).toString();
  return (JSON.parse(out) as string[]).map((f) => path.relative(path.dirname(distDir), f));
}

describe('what a workflow run loads', () => {
  it('the workflows load no schema, no zod and none of the signature or calendar libraries until a run needs them', () => {
    const loaded = modulesLoadedBy(`require('./workflows')`);
    assert.ok(loaded.some((f) => f.startsWith('dist/workflows/agent-migration/')), 'the workflows themselves were loaded');
    assert.deepEqual(loaded.filter((f) => heavy.test(f)), [], 'loaded with every run');
  });

  it('a migration started by hand, a week, a decision and a calendar load theirs when they need them', () => {
    const cases: Array<[string, RegExp]> = [
      ['migrationInputs()', /node_modules\/zod\//],
      ['workflowInputs()', /dist\/config\/schema\/workflow-inputs\.js/],
      ['planSteps()', /dist\/plan\/steps\/index\.js/],
      ['signatures()', /node_modules\/@noble\/curves\//],
      ['calendars()', /node_modules\/cron-parser\//],
      ['deploymentSchemas()', /dist\/config\/schema\/deployment\.js/],
    ];
    for (const [call, expected] of cases) {
      const loaded = modulesLoadedBy(`require('./workflows'); require('./workflows/lib/lazy-modules').${call}`);
      assert.ok(loaded.some((f) => expected.test(f)), `${call} loads ${expected}`);
    }
  });
});
