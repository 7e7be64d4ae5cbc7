import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../lib/paths';
import { validationInput } from '../plan/compile';
import { startTestStack, type TestStack } from '../test/support/harness';
import { fastPlan, startMigration } from '../test/support/migration';
import { validationWorkflow } from '../workflows/validation';
import { benchMachine, writeBenchJson } from './report';

const run = promisify(execFile);

/**
 * History growth, measured on the real dev server: events per hour of observation (a
 * framework migration with 0 and with 4 observation windows; the difference per window,
 * times the windows in an hour at the default 10-minute window) and per hour of validation
 * (2 and 6 validation windows; per window, times 12 at the default 5-minute window). The
 * largest single history of a full Phase 2 run comes from the resilience plan run over all
 * 77 agents on the time-skipping test server (phase2-resilience-77.test, which writes it).
 *
 * node dist/bench/history-growth.js
 */
const events = async (env: TestStack, workflowId: string) => (await env.client.workflow.getHandle(workflowId).fetchHistory()).events?.length ?? 0;

async function observationEvents(env: TestStack, windows: number): Promise<number> {
  const plan = fastPlan({ timings: { baselineSamples: 1, stageVerificationMs: 300, observationMs: windows * 1000, observationWindowMs: 1000 } });
  const handle = await startMigration(env, 'ChitchatAgent', plan, `obs${windows}`, { strategy: 'framework', reason: 'history growth benchmark' });
  const result = await handle.result();
  if (result.outcome !== 'migrated') throw new Error(`observation run ended ${result.outcome}`);
  return events(env, handle.workflowId);
}

async function validationEvents(env: TestStack, windows: number): Promise<number> {
  const input = validationInput(
    { durationMs: windows * 2000, windowMs: 2000, uptimeFloorPct: 99.9, uptimeTargetPct: 99.95, latenessMs: 300, maxWaitMs: 3000, maxEventsPerRun: 2000 },
    env.config.inventory,
    `history growth, ${windows} windows`,
  );
  const workflowId = `bench.validation.${windows}`;
  await env.client.workflow.execute(validationWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId, args: [input] });
  return events(env, workflowId);
}

async function main(): Promise<void> {
  const env = await startTestStack();
  let perObservationWindow: number;
  let perValidationWindow: number;
  const raw: Record<string, number> = {};
  try {
    raw.observation0 = await observationEvents(env, 0);
    raw.observation4 = await observationEvents(env, 4);
    perObservationWindow = (raw.observation4 - raw.observation0) / 4;
    raw.validation2 = await validationEvents(env, 2);
    raw.validation6 = await validationEvents(env, 6);
    perValidationWindow = (raw.validation6 - raw.validation2) / 4;
  } finally {
    await env.stop();
  }
  process.stdout.write(`observation: ${perObservationWindow} events per window -> ${perObservationWindow * 6} per hour at 10-minute windows\n`);
  process.stdout.write(`validation: ${perValidationWindow} events per window -> ${perValidationWindow * 12} per hour at 5-minute windows (continue-as-new every 2000 events: a new run every ${(2000 / (perValidationWindow * 12)).toFixed(1)} h)\n`);

  // The largest history of a full Phase 2 run (resilience plan, 77 agents, 216 simulated hours).
  const phase2File = path.join(projectRoot, '.data', 'bench', 'phase2-histories.json');
  rmSync(phase2File, { force: true });
  process.stdout.write('running the Phase 2 resilience plan on the time-skipping test server (about 3 minutes) ...\n');
  await run(process.execPath, ['--test', '--test-timeout=900000', 'dist/test/integration/phase2-resilience-77.test.js'], {
    cwd: projectRoot,
    env: { ...process.env, PHASEGATE_HISTORY_SIZES_OUT: phase2File },
    maxBuffer: 64 * 1024 * 1024,
  });
  const phase2 = JSON.parse(readFileSync(phase2File, 'utf8')) as { largest: { workflowId: string; events: number }; byType: Record<string, { workflows: number; p50: number; max: number }> };
  process.stdout.write(`Phase 2: largest history ${phase2.largest.events} events (${phase2.largest.workflowId})\n`);

  const report = {
    benchmark: 'history-growth',
    at: new Date().toISOString(),
    machine: benchMachine(),
    observation: { eventsPerWindow: perObservationWindow, eventsPerHourAtDefaultWindow: perObservationWindow * 6, defaultWindowMinutes: 10 },
    validation: { eventsPerWindow: perValidationWindow, eventsPerHourAtDefaultWindow: perValidationWindow * 12, defaultWindowMinutes: 5, continueAsNewAtEvents: 2000 },
    phase2,
    raw,
  };
  const out = writeBenchJson('history-growth', report);
  process.stdout.write(`written to ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
