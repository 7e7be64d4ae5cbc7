import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { budgetExceeded, planBatches, planRounds } from '../../decisions/batches';
import { autoPromotionStep, evaluateGate, nextGateReminder, type GateReport } from '../../decisions/gates';
import { planSchema } from '../../config/schema/plan';
import { migrationSteps } from '../../decisions/migration-steps';

const timings = { rapidVerificationMs: 10, stageVerificationMs: 60, observationMs: 86_400_000 };
const kinds = (s: ReturnType<typeof migrationSteps>) => s.map((x) => (x.kind === 'apply-stage' || x.kind === 'await-approval' ? `${x.kind}:${x.stage}` : x.kind));

describe('strategy steps', () => {
  it('rapid: stages back to back, one verification at the end', () => {
    assert.deepEqual(kinds(migrationSteps('rapid', timings)), ['baseline', 'apply-stage:1', 'apply-stage:2', 'apply-stage:3', 'verify']);
  });
  it('staged: a verification window after each stage', () => {
    assert.deepEqual(kinds(migrationSteps('staged', timings)), ['baseline', 'apply-stage:1', 'verify', 'apply-stage:2', 'verify', 'apply-stage:3', 'verify']);
  });
  it('framework: staged, then the 24-hour observation', () => {
    const steps = migrationSteps('framework', timings);
    assert.deepEqual(kinds(steps).slice(-2), ['verify', 'observe']);
    assert.deepEqual(steps.at(-1), { kind: 'observe', durationMs: 86_400_000 });
  });
  it('critical: a human approval before every stage', () => {
    assert.deepEqual(kinds(migrationSteps('critical', timings)).filter((k) => k.startsWith('await')), ['await-approval:1', 'await-approval:2', 'await-approval:3']);
  });
});

describe('batches', () => {
  const cases: Array<[number, number, number, number[]]> = [
    [10, 3, 4, [3, 4, 3]],
    [10, 0, 5, [5, 5]],
    [2, 3, 5, [2]],
    [0, 3, 5, []],
    [7, 1, 10, [1, 6]],
  ];
  for (const [n, pilots, size, shape] of cases) {
    it(`${n} agents, ${pilots} pilots, batches of ${size} -> ${JSON.stringify(shape)}`, () => {
      const agents = Array.from({ length: n }, (_, i) => i);
      const batches = planBatches(agents, pilots, size);
      assert.deepEqual(batches.map((b) => b.length), shape);
      assert.deepEqual(batches.flat(), agents, 'every agent once, in order');
    });
  }
  it('budget: over per batch, over per week, within', () => {
    assert.equal(budgetExceeded({ failedInBatch: 2, failedInWeek: 2 }, { perBatch: 1, perWeek: 3 }), 'batch');
    assert.equal(budgetExceeded({ failedInBatch: 1, failedInWeek: 4 }, { perBatch: 1, perWeek: 3 }), 'week');
    assert.equal(budgetExceeded({ failedInBatch: 1, failedInWeek: 3 }, { perBatch: 1, perWeek: 3 }), null);
  });
});

describe('gate criteria', () => {
  const agents = [
    { agent: 'a', machine: 'pc2', outcome: 'migrated' },
    { agent: 'b', machine: 'pc2', outcome: 'rolled-back' },
    { agent: 'c', machine: 'mainpc', outcome: 'migrated' },
  ];
  it('all-migrated per machine, with the numbers', () => {
    const r = evaluateGate([{ kind: 'all-migrated', machines: ['mainpc'] }, { kind: 'all-migrated', machines: ['pc2'] }], { agents, rollbacks: 1, uptimePercent: null });
    assert.deepEqual(r.criteria.map((c) => [c.met, c.detail]), [[true, '1 of 1 agents on mainpc migrated'], [false, '1 of 2 agents on pc2 migrated']]);
    assert.equal(r.met, false);
  });
  it('max-rollbacks', () => {
    assert.equal(evaluateGate([{ kind: 'max-rollbacks', count: 1 }], { agents, rollbacks: 1, uptimePercent: null }).met, true);
    assert.equal(evaluateGate([{ kind: 'max-rollbacks', count: 0 }], { agents, rollbacks: 1, uptimePercent: null }).met, false);
  });
  it('validation-kpis: not met without a validation; a missed KPI fails it, one never exercised does not', () => {
    const kpis = [
      { id: 'system-uptime' as const, name: 'system uptime', verdict: 'target' as const, detail: '99.99 %' },
      { id: 'failover-time' as const, name: 'failover time', verdict: 'not-exercised' as const, detail: 'no hub went down' },
      { id: 'recovery-time' as const, name: 'recovery time', verdict: 'missed' as const, detail: 'agent X: 7.0 min' },
    ];
    const facts = { agents, rollbacks: 0, uptimePercent: 99.99 };
    assert.equal(evaluateGate([{ kind: 'validation-kpis' }], facts).criteria[0]!.detail, 'no validation ran this week');
    const all = evaluateGate([{ kind: 'validation-kpis' }], { ...facts, validationKpis: kpis });
    assert.equal(all.met, false);
    assert.equal(all.criteria[0]!.detail, 'validation KPIs missed: recovery time (agent X: 7.0 min)');
    assert.equal(evaluateGate([{ kind: 'validation-kpis', kpis: ['system-uptime', 'failover-time'] }], { ...facts, validationKpis: kpis }).met, true);
  });

  it('min-uptime is not met without a measurement, and is met at the floor', () => {
    assert.equal(evaluateGate([{ kind: 'min-uptime', percent: 99.9 }], { agents, rollbacks: 0, uptimePercent: null }).met, false);
    assert.equal(evaluateGate([{ kind: 'min-uptime', percent: 99.9 }], { agents, rollbacks: 0, uptimePercent: 99.9 }).met, true);
  });
  it('no criteria at all: a human decides on nothing but the report, which is met', () => {
    assert.equal(evaluateGate([], { agents, rollbacks: 0, uptimePercent: null }).met, true);
  });
});

describe('rounds: a batch split so that a week can start a new run between two (decisions/batches.ts)', () => {
  const agents = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `a${from + i}`);
  for (const [title, batches, perRound, expected] of [
    ['a batch no larger than a round is one round', [agents(3), agents(10, 3)], 400, [[0, 3, true, true], [1, 10, true, true]]],
    ['a batch of 10 in rounds of at most 4: three even rounds, not 4 + 4 + 2', [agents(10)], 4, [[0, 4, true, false], [0, 4, false, false], [0, 2, false, true]]],
    ['a batch of 9 in rounds of at most 3', [agents(9)], 3, [[0, 3, true, false], [0, 3, false, false], [0, 3, false, true]]],
    ['an empty batch is one empty round (its bookkeeping still happens)', [[]], 5, [[0, 0, true, true]]],
  ] as Array<[string, string[][], number, Array<[number, number, boolean, boolean]>]>) {
    it(title, () => {
      const rounds = planRounds(batches, perRound);
      assert.deepEqual(
        rounds.map((r) => [r.batch, r.agents.length, r.firstOfBatch, r.lastOfBatch]),
        expected,
      );
      // Every agent once, in order.
      assert.deepEqual(rounds.flatMap((r) => r.agents), batches.flat());
    });
  }
});

describe('gate auto-promotion (decisions/gates.ts autoPromotionStep)', () => {
  const policy = { bakeMs: 2 * 3_600_000, vetoMs: 3_600_000 };
  const met: GateReport = { met: true, criteria: [{ criterion: { kind: 'max-rollbacks', count: 1 }, met: true, detail: '0 rollbacks (at most 1)' }] };
  const unmet: GateReport = { met: false, criteria: [{ criterion: { kind: 'all-migrated' }, met: false, detail: '3 of 4 agents migrated' }] };
  const none: GateReport = { met: true, criteria: [] };
  const hold = { decision: 'hold', by: 'dave', reason: 'dashboards look odd' };
  const cases: Array<[string, GateReport, Array<{ decision: string; by: string; reason?: string }>, number, ReturnType<typeof autoPromotionStep>]> = [
    ['criteria met, just opened: bakes for the whole bake time', met, [], 0, { kind: 'wait', phase: 'baking', forMs: 2 * 3_600_000 }],
    ['criteria met, half-way through the bake', met, [], 3_600_000, { kind: 'wait', phase: 'baking', forMs: 3_600_000 }],
    ['baked: the veto window runs to its end', met, [], 2 * 3_600_000, { kind: 'wait', phase: 'veto-window', forMs: 3_600_000 }],
    ['veto window over with no hold: promote', met, [], 3 * 3_600_000, { kind: 'promote' }],
    ['a hold in the veto window vetoes it', met, [hold], 2.5 * 3_600_000, { kind: 'vetoed', by: 'dave', reason: 'dashboards look odd' }],
    ['a hold during the bake vetoes it too', met, [hold], 60_000, { kind: 'vetoed', by: 'dave', reason: 'dashboards look odd' }],
    ['a criterion unmet: never promotes, however long it waited', unmet, [], 100 * 3_600_000, { kind: 'withhold', reason: 'criteria not met: 3 of 4 agents migrated' }],
    ['no criteria: nothing to judge by, withheld', none, [], 100 * 3_600_000, { kind: 'withhold', reason: 'the gate has no criteria to judge by' }],
  ];
  for (const [title, report, decisions, elapsed, expected] of cases) {
    it(title, () => assert.deepEqual(autoPromotionStep(policy, report, decisions, elapsed), expected));
  }
  it('a pause of the week while its gate waits vetoes it too, even past the veto window', () =>
    assert.deepEqual(autoPromotionStep(policy, met, [], 5 * 3_600_000, 'paused by gina: incident 12'), { kind: 'vetoed', by: 'a pause of the week', reason: 'paused by gina: incident 12' }));

  it('a plan that sets auto-promotion on a gate without criteria is refused, naming the field', () => {
    const r = planSchema.safeParse({
      version: 1,
      id: 'p',
      title: 'p',
      weeks: [{ id: 'w1', title: 'w', steps: [{ id: 's', migrate: { change: 'c', select: { agents: ['A'] } } }], gate: { autoPromote: { bakeMs: 0, vetoMs: 60_000 } } }],
    });
    assert.equal(r.success, false);
    const issue = r.error!.issues.find((i) => i.path.join('.') === 'weeks.0.gate.autoPromote');
    assert.ok(issue, JSON.stringify(r.error!.issues));
    assert.match(issue.message, /at least one criterion/);
  });
});

describe("an open gate's reminders and its deadline (decisions/gates.ts nextGateReminder)", () => {
  const h = 3_600_000;
  const cases: Array<[string, number, number | undefined, ReturnType<typeof nextGateReminder>]> = [
    ['no deadline: level-1 reminders every 4 h, for ever', 0, undefined, { waitMs: 4 * h, level: 1 }],
    ['no deadline, a day later: still level 1', 24 * h, undefined, { waitMs: 4 * h, level: 1 }],
    ['deadline 10 h, just opened: the first reminder comes first', 0, 10 * h, { waitMs: 4 * h, level: 1 }],
    ['deadline 10 h, at 8 h: the wait ends at the deadline, and escalates', 8 * h, 10 * h, { waitMs: 2 * h, level: 2 }],
    ['deadline 2 h, just opened: the deadline comes before the first reminder', 0, 2 * h, { waitMs: 2 * h, level: 2 }],
    ['past the deadline: every reminder is level 2', 11 * h, 10 * h, { waitMs: 4 * h, level: 2 }],
    ['exactly at the deadline: level 2 from then on', 10 * h, 10 * h, { waitMs: 4 * h, level: 2 }],
  ];
  for (const [title, elapsed, deadline, expected] of cases) {
    it(title, () => assert.deepEqual(nextGateReminder(elapsed, 4 * h, deadline), expected));
  }
});
