import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { ReusableVMWorkflowCreator } from '@temporalio/worker/lib/workflow/reusable-vm';
import { createLogger } from '../lib/logger';
import { workflowBundle } from '../workers/workflow-bundle';

/**
 * What one workflow run costs the control worker's workflow thread before it does anything: the
 * modules it loads. The SDK's reusable V8 context (the default) keeps a module cache per run, and
 * each run evaluates every module the bundle's entry (workflows/index.ts) imports at its top, so
 * every run held in the worker's cache holds its own copy of them. This builds the bundle as the
 * control worker does (workers/workflow-bundle.ts), makes N runs in one such context the way the
 * SDK does for a new run (its internal ReusableVMWorkflowCreator, which is why this is a bench and
 * not a test), and prints the heap they hold after a full collection.
 *
 *   node --expose-gc dist/bench/workflow-run-memory.js [--runs 200]
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '200' } } });
  const runs = Number(values.runs);
  if (typeof global.gc !== 'function') throw new Error('workflow-run-memory: run node with --expose-gc');
  const { code } = await workflowBundle(createLogger('workflow-run-memory', 'warn'));
  // The SDK reads the bundle's inline source map only for stack traces; an empty one will do here.
  const creator = await ReusableVMWorkflowCreator.create({ code, filename: '/workflow-bundle.js', sourceMap: { version: 3, sources: [], names: [], mappings: '' } } as never, 5_000, new Set());
  global.gc();
  const before = getHeapStatistics().used_heap_size;
  const held: unknown[] = [];
  for (let i = 0; i < runs; i++) {
    const now = Date.now();
    const info = { workflowType: 'agentMigrationWorkflow', workflowId: `bench.${i}`, runId: `run-${i}`, firstExecutionRunId: `run-${i}`, taskQueue: 'bench', namespace: 'default', attempt: 1, historyLength: 3, historySize: 0, continueAsNewSuggested: false, searchAttributes: {}, typedSearchAttributes: [], memo: {}, startTime: new Date(now), runStartTime: new Date(now), unsafe: { isReplaying: false, now: Date.now }, priority: {} };
    held.push(await creator.createWorkflow({ info, randomnessSeed: [i, 1], now, showStackTraceSources: false } as never));
  }
  global.gc();
  const after = getHeapStatistics().used_heap_size;
  // The run made last is the context's current one.
  const moduleCache = (creator as unknown as { context: { __TEMPORAL_ACTIVATOR__?: { moduleCache?: Map<string, unknown> } } }).context.__TEMPORAL_ACTIVATOR__?.moduleCache;
  const modules = [...(moduleCache?.keys() ?? [])];
  const libraries = [...new Set(modules.map((m) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(m)?.[1]).filter((x): x is string => !!x))].sort();
  console.log(
    JSON.stringify({
      runs,
      bundleMB: Number((code.length / 1e6).toFixed(2)),
      heapPerRunKB: Math.round((after - before) / runs / 1024),
      heapForRunsMB: Number(((after - before) / 1e6).toFixed(1)),
      modulesPerRun: modules.length,
      librariesPerRun: libraries,
      schemaModulesPerRun: modules.filter((m) => m.includes('/config/schema/') || m.includes('/plan/')),
    }),
  );
  void held;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
