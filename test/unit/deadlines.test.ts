import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planSchema } from '../../config/schema/plan';
import { deadlinesForStep, nextDeadline, plannedStepMs, whyMigrationStuck, whyWeekStuck, type DeadlineSettings, type DeadlineWatch } from '../../decisions/deadlines';
import { migrationSteps } from '../../decisions/migration-steps';

const t = { baselineSamples: 10, sampleIntervalMs: 1000 };
const timings = { rapidVerificationMs: 10_000, stageVerificationMs: 60_000, observationMs: 86_400_000 };

describe('the time the plan gives a step by itself (decisions/deadlines.ts plannedStepMs)', () => {
  const cases: Array<[string, Parameters<typeof plannedStepMs>[0], number]> = [
    ['baseline: its samples, one interval each', { kind: 'baseline' }, 10_000],
    ['apply: none (an action has no planned length)', { kind: 'apply-stage', stage: 2 }, 0],
    ['approval: none (a person has no planned length)', { kind: 'await-approval', stage: 1 }, 0],
    ['verification: its window', { kind: 'verify', stage: 3, durationMs: 60_000 }, 60_000],
    ['observation: its 24 hours', { kind: 'observe', durationMs: 86_400_000 }, 86_400_000],
  ];
  for (const [name, step, ms] of cases) it(name, () => assert.equal(plannedStepMs(step, t), ms));
});

describe('the deadlines watched while a step runs (deadlinesForStep)', () => {
  const staged = migrationSteps('staged', timings); // baseline, apply 1, verify 1, apply 2, verify 2, apply 3, verify 3
  const critical = migrationSteps('critical', timings);
  const d = (over: Partial<DeadlineSettings>): DeadlineSettings => ({ onPassed: 'pause', ...over });
  const now = 1_000_000;
  type Row = [string, ReturnType<typeof migrationSteps>, number, DeadlineSettings | undefined, DeadlineWatch | null, { step: Partial<DeadlineWatch> | null; stage: Partial<DeadlineWatch> | null }];
  const existingStage: DeadlineWatch = { scope: 'stage', what: 'stage 1 of 3, infrastructure', at: now - 5, passed: false };
  const cases: Row[] = [
    ['no deadlines in the plan: nothing watched', staged, 1, undefined, null, { step: null, stage: null }],
    ['a step deadline on an apply: its own budget only', staged, 1, d({ stepMs: 30_000 }), null, { step: { scope: 'step', what: 'the apply of stage 1 of 3, infrastructure', at: now + 30_000 }, stage: null }],
    ['a step deadline on a verification: its window, then the budget', staged, 2, d({ stepMs: 30_000 }), null, { step: { what: 'the verification of stage 1 of 3, infrastructure', at: now + 60_000 + 30_000 }, stage: null }],
    ['a step deadline on the baseline: its samples, then the budget', staged, 0, d({ stepMs: 5_000 }), null, { step: { what: 'the baseline before stage 1', at: now + 10_000 + 5_000 }, stage: null }],
    ['the first step of a stage starts its stage deadline: the stage\'s windows, then the budget', staged, 1, d({ stageMs: 120_000 }), null, { step: null, stage: { scope: 'stage', what: 'stage 1 of 3, infrastructure', at: now + 60_000 + 120_000 } }],
    ['a later step of the same stage keeps the stage deadline it was given', staged, 2, d({ stageMs: 120_000 }), existingStage, { step: null, stage: existingStage }],
    ['the next stage starts a new one', staged, 3, d({ stageMs: 120_000 }), existingStage, { step: null, stage: { what: 'stage 2 of 3, core logic', at: now + 60_000 + 120_000 } }],
    ['critical: the approval opens the stage, so a person who does not answer counts against it', critical, 1, d({ stageMs: 1000 }), null, { step: null, stage: { what: 'stage 1 of 3, infrastructure', at: now + 60_000 + 1000 } }],
    ['the baseline belongs to no stage', staged, 0, d({ stageMs: 1000 }), null, { step: null, stage: null }],
    ['the observation belongs to no stage', migrationSteps('framework', timings), 7, d({ stageMs: 1000, stepMs: 1000 }), existingStage, { step: { what: 'the observation after stage 3', at: now + 86_400_000 + 1000 }, stage: null }],
  ];
  for (const [name, steps, i, settings, current, want] of cases) {
    it(name, () => {
      const got = deadlinesForStep(steps, i, now, settings, t, current);
      for (const k of ['step', 'stage'] as const) {
        if (want[k] === null) assert.equal(got[k], null, k);
        else {
          assert.ok(got[k], k);
          for (const [f, v] of Object.entries(want[k]!)) assert.deepEqual(got[k]![f as keyof DeadlineWatch], v, `${k}.${f}`);
        }
      }
      if (current && want.stage === current) assert.equal(got.stage, current, 'the same watch object, so a pause that moves it moves it for the whole stage');
    });
  }
});

describe('the next deadline to wait for (nextDeadline)', () => {
  const w = (at: number, passed = false, scope: DeadlineWatch['scope'] = 'step'): DeadlineWatch => ({ scope, what: String(at), at, passed });
  const cases: Array<[string, Array<DeadlineWatch | null>, number, { at: number; waitMs: number } | null]> = [
    ['none set', [null, null], 0, null],
    ['the earlier of step and stage', [w(500), w(300, false, 'stage')], 100, { at: 300, waitMs: 200 }],
    ['a passed one is not waited for again', [w(300, true), w(500, false, 'stage')], 400, { at: 500, waitMs: 100 }],
    ['all passed: nothing left', [w(300, true), w(500, true)], 600, null],
    ['already past: wait 0', [w(300)], 900, { at: 300, waitMs: 0 }],
  ];
  for (const [name, watches, now, want] of cases) {
    it(name, () => {
      const got = nextDeadline(watches, now);
      assert.deepEqual(got && { at: got.watch.at, waitMs: got.waitMs }, want);
    });
  }
});

describe('why a migration is stuck, as far as phasegate knows (whyMigrationStuck)', () => {
  const base = { state: 'applying', machine: 'mainpc', unreachable: null, agentHeldBy: null, waitingForPerson: [] };
  const cases: Array<[string, Parameters<typeof whyMigrationStuck>[0], RegExp]> = [
    ['an action still running', base, /^an action still running on mainpc/],
    ['a person not answering comes first', { ...base, state: 'awaiting-approval', waitingForPerson: [{ what: 'stage-approval', detail: 'stage 1 of 3 of c1', resolve: 'phasegate stage approve ...' }] }, /^waiting for a person who has not answered: stage 1 of 3 of c1 \(stage-approval; phasegate stage approve/],
    ['waiting for a machine', { ...base, state: 'machine-unreachable', unreachable: { machine: 'pc2', what: 'apply' } }, /^waiting for machine pc2: no worker there takes "apply"/],
    ['waiting for the agent held by another migration', { ...base, state: 'waiting-for-agent', agentHeldBy: { holder: 'wf-1', change: 'c0' } }, /another migration holds it \(wf-1, c0\)/],
    ['probes past their window', { ...base, state: 'verifying' }, /^probes still running on mainpc past the window's planned length/],
    ['anything else: its state', { ...base, state: 'needs-human' }, /in state "needs-human"/],
  ];
  for (const [name, facts, want] of cases) it(name, () => assert.match(whyMigrationStuck(facts), want));
});

describe('why a week has not reached its gate (whyWeekStuck)', () => {
  const base = { currentStep: 'migrate', pauseReason: null, unreachableMachines: [], agents: [], waitingForPerson: [] };
  const cases: Array<[string, Parameters<typeof whyWeekStuck>[0], RegExp]> = [
    ['migrations running and agents not started', { ...base, agents: [{ agent: 'A', state: 'running' }, { agent: 'B', state: 'waiting' }, { agent: 'C', state: 'migrated' }] }, /^at step migrate; 1 migration\(s\) still running \(A\); 1 agent\(s\) not started yet$/],
    ['a person not answering', { ...base, waitingForPerson: [{ agent: 'A', what: 'stage-approval', detail: 'stage 2 of 3 of c' }] }, /waiting for a person: A: stage 2 of 3 of c \(stage-approval\)/],
    ['a lost machine and its pause', { ...base, unreachableMachines: ['pc2'], pauseReason: 'machine pc2 unreachable; resume once it is back' }, /machine pc2 unreachable; machine pc2 unreachable; resume/],
    ['nothing known', { ...base, currentStep: null }, /nothing is known to be running/],
  ];
  for (const [name, facts, want] of cases) it(name, () => assert.match(whyWeekStuck(facts), want));
});

describe('the plan\'s deadlines (config/schema/plan.ts deadlinesSchema)', () => {
  const plan = (deadlines: unknown) => ({ version: 1, id: 'p', title: 'p', timings: { deadlines }, weeks: [{ id: 'w1', title: 'w', steps: [{ id: 's', observe: { durationMs: 1000 } }] }] });
  it('none by default: a plan without them adds no timer', () => {
    const parsed = planSchema.parse({ ...plan(undefined), timings: {} });
    assert.equal(parsed.timings.deadlines, undefined);
  });
  it('onPassed defaults to pause', () => {
    assert.deepEqual(planSchema.parse(plan({ stepMs: 60_000 })).timings.deadlines, { stepMs: 60_000, onPassed: 'pause' });
  });
  const refused: Array<[string, unknown, string, RegExp]> = [
    ['an empty deadlines object', {}, 'timings.deadlines', /set at least one of stepMs, stageMs, weekMs/],
    ['a deadline under a second', { stageMs: 10 }, 'timings.deadlines.stageMs', /1000/],
    ['an unknown action', { weekMs: 60_000, onPassed: 'ignore' }, 'timings.deadlines.onPassed', /pause|rollback/],
    ['an unknown field', { weekMs: 60_000, progressMs: 1 }, 'timings.deadlines', /progressMs/],
  ];
  for (const [name, deadlines, path, message] of refused) {
    it(`refused, naming the field: ${name}`, () => {
      const r = planSchema.safeParse(plan(deadlines));
      assert.equal(r.success, false);
      const issue = r.error!.issues.find((i) => i.path.join('.') === path);
      assert.ok(issue, `an issue at ${path}: ${JSON.stringify(r.error!.issues)}`);
      assert.match(issue.message, message);
    });
  }
});
