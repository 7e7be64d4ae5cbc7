import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestStack } from '../support/harness';
import { recordReliability } from '../support/reliability-summary';
import { runSchedule, startCheckerStack, type ScheduleReport } from '../checker/run-schedule';
import { makeSchedule } from '../checker/schedule';
import { renderCheckerSummary } from '../checker/summary';

/**
 * The randomized checker in the suite: a fixed set of seeds (PHASEGATE_CHECKER_SEEDS="1-20" by
 * default; "5,9,14" or "100-119" to choose), each a whole phase on the real stack with operator
 * actions and faults at random moments, judged against the simulator's record
 * (test/checker/invariants.ts). scripts/check.sh runs as many seeds as asked.
 */
function seeds(): number[] {
  const spec = process.env.PHASEGATE_CHECKER_SEEDS ?? '1-20';
  return spec.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i);
  });
}

describe('randomized checker: operator actions and faults at random moments, the fleet against the record', () => {
  let env: TestStack;
  const reports: ScheduleReport[] = [];
  before(async () => {
    env = await startCheckerStack();
  });
  after(async () => {
    await env?.stop();
    if (reports.length) {
      console.log(renderCheckerSummary(reports));
      recordReliability({
        suite: 'randomized checker',
        faultsInjected: reports.reduce((n, r) => n + r.faults, 0),
        phasesFinished: reports.reduce((n, r) => n + r.phases.length, 0),
        actionsChecked: reports.reduce((n, r) => n + r.actionsChecked, 0),
        inputsRejected: 0,
        eventsLost: reports.reduce((n, r) => n + r.eventsLost, 0),
        detail: `${reports.length} schedules, ${reports.reduce((n, r) => n + r.operatorActions, 0)} operator actions, ${reports.reduce((n, r) => n + r.violations.length, 0)} invariant violations`,
      });
    }
  });

  for (const seed of seeds()) {
    it(`seed ${seed}: every invariant holds (replay: scripts/check.sh --seed ${seed})`, async () => {
      const r = await runSchedule(env, makeSchedule(seed));
      reports.push(r);
      assert.deepEqual(r.violations, [], `seed ${seed}:\n${r.log.join('\n')}`);
    });
  }
});
