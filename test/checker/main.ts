import { parseArgs } from 'node:util';
import { startCheckerStack, runSchedule, type ScheduleReport } from './run-schedule';
import { makeSchedule } from './schedule';
import { renderCheckerSummary } from './summary';

/**
 * The randomized checker, as many seeds as asked: `scripts/check.sh --seeds 200` (seeds
 * 1..200), `--seed 4711` (one seed), `--from 300 --seeds 50`. Prints each schedule's result,
 * for a failing seed its log and the command that replays it, and a closing summary.
 * Exits 1 if any invariant was violated.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { seeds: { type: 'string' }, seed: { type: 'string' }, from: { type: 'string' }, verbose: { type: 'boolean', default: false } } });
  const seeds = values.seed !== undefined ? [Number(values.seed)] : Array.from({ length: Number(values.seeds ?? 20) }, (_, i) => Number(values.from ?? 1) + i);
  if (seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error('seeds are whole numbers: --seed S, or --seeds N [--from S]');
  const env = await startCheckerStack();
  const reports: ScheduleReport[] = [];
  try {
    for (const seed of seeds) {
      const schedule = makeSchedule(seed);
      // A schedule the checker could not play to the end is a failing seed, reported like one.
      const r = await runSchedule(env, schedule).catch(
        (err: unknown): ScheduleReport => ({
          seed,
          phases: [],
          operatorActions: 0,
          faults: 0,
          durationMs: 0,
          log: [],
          violations: [`the schedule could not be played: ${err instanceof Error ? err.message : String(err)}`],
          actionsChecked: 0,
          workflowsChecked: 0,
          alertsChecked: 0,
          eventsAsked: 0,
          eventsLost: 0,
          outcomes: {},
        }),
      );
      reports.push(r);
      const line = `seed ${seed}: ${r.violations.length ? `${r.violations.length} VIOLATION(S)` : 'ok'} in ${(r.durationMs / 1000).toFixed(0)} s; ${r.operatorActions} operator actions, ${r.faults} faults; ${Object.entries(r.outcomes).map(([k, n]) => `${k} ${n}`).join(', ')}`;
      process.stdout.write(`${line}\n`);
      if (r.violations.length || values.verbose) {
        for (const v of r.violations) process.stdout.write(`    violation: ${v}\n`);
        for (const l of r.log) process.stdout.write(`    ${l}\n`);
        if (r.violations.length) process.stdout.write(`    replay: scripts/check.sh --seed ${seed}   (test run data kept in ${env.dataDir})\n`);
      }
    }
  } finally {
    if (reports.some((r) => r.violations.length)) process.exitCode = 1;
    await env.stop();
  }
  process.stdout.write(`${renderCheckerSummary(reports)}\n`);
  return reports.some((r) => r.violations.length) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`checker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
