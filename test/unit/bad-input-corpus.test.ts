import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { CatalogueRunner } from '../../activities/machine/catalogue-runner';
import { ConfigError, loadConfig, loadPlan } from '../../config/load';
import { planSchema } from '../../config/schema/plan';
import { assessRisk } from '../../decisions/risk';
import { evaluateSample, initialEvaluationState, type Reading } from '../../decisions/triggers';
import { judgeGap } from '../../decisions/validation';
import { createLogger } from '../../lib/logger';
import { defaultConfigDir } from '../../lib/paths';
import { recordReliability } from '../support/reliability-summary';

/**
 * A corpus of malformed plans, inventories, catalogues, deployments and action requests. Each
 * must be refused before anything runs, with the file, the field and the reason; loading
 * touches nothing but the files read. Then properties (fast-check) of the schemas and the
 * pure decisions over arbitrary input.
 */

const config = loadConfig(defaultConfigDir);
const read = (f: string) => JSON.parse(readFileSync(path.join(defaultConfigDir, f), 'utf8'));
const goodPlan = () => ({
  version: 1,
  id: 'corpus',
  title: 'a valid plan to break',
  weeks: [{ id: 'week1', title: 'w', steps: [{ id: 's1', migrate: { change: 'c', select: { agents: ['tutoring_agent'] } } }], gate: { criteria: [] } }],
});
let rejected = 0;

function expectRejected(load: () => unknown, file: RegExp, field: string | RegExp, reason: RegExp): void {
  try {
    load();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.match(err.file, file);
    const hit = err.issues.find((i) => (typeof field === 'string' ? i.field === field : field.test(i.field)) && reason.test(i.reason));
    assert.ok(hit, `no issue at ${String(field)} matching ${reason}; got ${JSON.stringify(err.issues)}`);
    rejected++;
    return;
  }
  assert.fail('the input was accepted');
}

function tempFile(name: string, content: unknown): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'phasegate-corpus-')), name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** A copy of the default configuration with one file edited. */
function configWith(file: string, edit: (data: any) => void): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'phasegate-corpus-config-'));
  cpSync(defaultConfigDir, dir, { recursive: true });
  const data = read(file);
  edit(data);
  writeFileSync(path.join(dir, file), JSON.stringify(data));
  return dir;
}

type PlanCase = [string, (p: any) => void, string | RegExp, RegExp];
const planCases: PlanCase[] = [
  ['version 2', (p) => (p.version = 2), 'version', /expected 1|invalid literal|Invalid input/i],
  ['id with a shell metacharacter', (p) => (p.id = 'x;rm -rf /'), 'id', /must start with a letter/],
  ['id with a path trick', (p) => (p.id = '../../etc/passwd'), 'id', /must start with a letter/],
  ['id of 200 characters', (p) => (p.id = `a${'b'.repeat(199)}`), 'id', /at most 64 characters/],
  ['empty title', (p) => (p.title = ''), 'title', /too small|at least/i],
  ['no weeks', (p) => (p.weeks = []), 'weeks', /too small|at least/i],
  ['weeks is a string', (p) => (p.weeks = 'week1'), 'weeks', /expected array/i],
  ['duplicate week ids', (p) => p.weeks.push({ ...p.weeks[0], steps: [{ id: 's2', observe: { durationMs: 1 } }] }), 'weeks[1].id', /duplicate id "week1"/],
  ['duplicate step ids', (p) => p.weeks[0].steps.push({ id: 's1', observe: { durationMs: 1 } }), 'weeks[0].steps[1].id', /duplicate id "s1"/],
  ['a step of two kinds', (p) => (p.weeks[0].steps[0].observe = { durationMs: 5 }), 'weeks[0].steps[0]', /exactly one kind/],
  ['a step of no kind', (p) => (p.weeks[0].steps = [{ id: 's1' }]), 'weeks[0].steps[0]', /exactly one kind/],
  ['an unknown field', (p) => (p.weeks[0].steps[0].migrate.shell = 'reboot'), /weeks\[0\]\.steps\[0\]\.migrate/, /unrecognized key|Unrecognized/i],
  ['negative duration', (p) => (p.weeks[0].steps = [{ id: 's1', observe: { durationMs: -5 } }]), 'weeks[0].steps[0].observe.durationMs', /too small|>=\s*0|at least/i],
  ['absurd duration (a year)', (p) => (p.weeks[0].steps = [{ id: 's1', observe: { durationMs: 365 * 24 * 3600 * 1000 } }]), 'weeks[0].steps[0].observe.durationMs', /at most 30 days/],
  ['fractional duration', (p) => (p.weeks[0].steps = [{ id: 's1', observe: { durationMs: 1.5 } }]), 'weeks[0].steps[0].observe.durationMs', /integer|int/i],
  ['duration as a string', (p) => (p.weeks[0].steps = [{ id: 's1', observe: { durationMs: '24h' } }]), 'weeks[0].steps[0].observe.durationMs', /expected number/i],
  ['GPU threshold over 100 %', (p) => (p.thresholds = { gpuMemoryPct: 120 }), 'thresholds.gpuMemoryPct', /too big|<=\s*100|at most/i],
  ['GPU threshold of 0', (p) => (p.thresholds = { gpuMemoryPct: 0 }), 'thresholds.gpuMemoryPct', /too small|>\s*0|greater/i],
  ['negative load threshold', (p) => (p.thresholds = { load: -1 }), 'thresholds.load', /too small|>\s*0|greater/i],
  ['sampling slower than 5 s', (p) => (p.thresholds = { sampleIntervalMs: 60_000 }), 'thresholds.sampleIntervalMs', /every 5 s or faster/],
  ['zero consecutive breaches', (p) => (p.thresholds = { consecutiveBreaches: 0 }), 'thresholds.consecutiveBreaches', /too small|>=\s*1|at least/i],
  ['an unknown threshold', (p) => (p.thresholds = { diskPct: 90 }), 'thresholds', /unrecognized key|Unrecognized/i],
  ['batch size 0', (p) => (p.weeks[0].steps[0].migrate.batchSize = 0), 'weeks[0].steps[0].migrate.batchSize', /too small|>=\s*1|at least/i],
  ['negative failure budget', (p) => (p.weeks[0].steps[0].migrate.failureBudget = { perBatch: -1 }), 'weeks[0].steps[0].migrate.failureBudget.perBatch', /too small|>=\s*0|at least/i],
  ['an unknown budget action', (p) => (p.weeks[0].steps[0].migrate.failureBudget = { onExceeded: 'ignore' }), 'weeks[0].steps[0].migrate.failureBudget.onExceeded', /invalid|expected one of/i],
  ['an empty selector', (p) => (p.weeks[0].steps[0].migrate.select = {}), 'weeks[0].steps[0].migrate.select', /name at least one of/],
  ['an agent name with a space', (p) => (p.weeks[0].steps[0].migrate.select = { agents: ['tutoring agent'] }), 'weeks[0].steps[0].migrate.select.agents[0]', /must start with a letter/],
  ['an unknown risk band', (p) => (p.weeks[0].steps[0].migrate.select = { riskBands: ['extreme'] }), 'weeks[0].steps[0].migrate.select.riskBands[0]', /invalid|expected one of/i],
  ['an unknown gate criterion', (p) => (p.weeks[0].gate = { criteria: [{ kind: 'vibes' }] }), /weeks\[0\]\.gate\.criteria\[0\]/, /invalid|discriminator|expected one of/i],
  ['uptime over 100 %', (p) => (p.weeks[0].gate = { criteria: [{ kind: 'min-uptime', percent: 101 }] }), 'weeks[0].gate.criteria[0].percent', /too big|<=\s*100|at most/i],
  ['a validation window longer than the validation', (p) => (p.weeks[0].steps = [{ id: 's1', validate: { durationMs: 60_000, windowMs: 120_000 } }]), 'weeks[0].steps[0].validate.windowMs', /not be longer than durationMs/],
  ['a validation target under its floor', (p) => (p.weeks[0].steps = [{ id: 's1', validate: { durationMs: 3_600_000, uptimeFloorPct: 99.9, uptimeTargetPct: 99 } }]), 'weeks[0].steps[0].validate.uptimeTargetPct', /at least uptimeFloorPct/],
  ['continue-as-new past the server suggestion', (p) => (p.weeks[0].steps = [{ id: 's1', validate: { durationMs: 3_600_000, maxEventsPerRun: 50_000 } }]), 'weeks[0].steps[0].validate.maxEventsPerRun', /too big|<=\s*4000|at most/i],
  // Fields that are fine alone and cannot work together.
  ['a stage window shorter than one sample', (p) => (p.thresholds = { sampleIntervalMs: 2000 }) && (p.timings = { stageVerificationMs: 1000 }), 'timings.stageVerificationMs', /shorter than one sampling interval/],
  ['a rapid window shorter than one sample', (p) => (p.thresholds = { sampleIntervalMs: 1000 }) && (p.timings = { rapidVerificationMs: 500 }), 'timings.rapidVerificationMs', /shorter than one sampling interval/],
  ['an observation window shorter than one sample', (p) => (p.thresholds = { sampleIntervalMs: 3000 }) && (p.timings = { observationMs: 60_000, observationWindowMs: 1000 }), 'timings.observationWindowMs', /shorter than one sampling interval/],
  ['an uptime criterion in a week without a validation', (p) => (p.weeks[0].gate = { criteria: [{ kind: 'min-uptime', percent: 99 }] }), 'weeks[0].gate.criteria[0].kind', /needs a validate step in this week/],
  ['KPI criteria in a week without a validation', (p) => (p.weeks[0].gate = { criteria: [{ kind: 'validation-kpis' }] }), 'weeks[0].gate.criteria[0].kind', /needs a validate step in this week/],
  ['a migration criterion in a week that migrates nothing', (p) => (p.weeks[0].steps = [{ id: 's1', observe: { durationMs: 1000 } }]) && (p.weeks[0].gate = { criteria: [{ kind: 'all-migrated' }] }), 'weeks[0].gate.criteria[0].kind', /needs a migrate step in this week/],
];
// Against the inventory and catalogues: names that parse but do not exist.
const planAgainstConfig: PlanCase[] = [
  ['an unknown agent', (p) => (p.weeks[0].steps[0].migrate.select = { agents: ['GhostAgent'] }), 'weeks[0].steps[0].migrate.select.agents[0]', /unknown agent "GhostAgent"/],
  ['an unknown machine', (p) => (p.weeks[0].steps[0].migrate.select = { machines: ['pc3'] }), 'weeks[0].steps[0].migrate.select.machines[0]', /unknown machine "pc3"/],
  ['a selector that selects nobody', (p) => (p.weeks[0].steps[0].migrate.select = { machines: ['pc2'], riskBands: ['critical'] }), 'weeks[0].steps[0].migrate.select', /selects no agent/],
  ['a step written before "action" was renamed "operation"', (p) => (p.weeks[0].steps = [{ id: 's1', action: { machine: 'pc2', operation: 'deploy-edgehub' } }]), 'weeks[0].steps[0].action', /renamed: write "operation": \{ "machine": "pc2", "name": "deploy-edgehub" \}/],
  ['an operation outside the catalogue', (p) => (p.weeks[0].steps = [{ id: 's1', operation: { machine: 'pc2', name: 'format-disk' } }]), 'weeks[0].steps[0].operation.name', /not an operation of pc2's catalogue/],
  ['an operation on an unknown machine', (p) => (p.weeks[0].steps = [{ id: 's1', operation: { machine: 'pc9', name: 'deploy-edgehub' } }]), 'weeks[0].steps[0].operation.machine', /unknown machine "pc9"/],
  ['excluding an unknown agent', (p) => (p.weeks[0].steps[0].migrate.select = { machines: ['pc2'], exclude: ['Nobody'] }), 'weeks[0].steps[0].migrate.select.exclude[0]', /unknown agent "Nobody"/],
  ['a gate criterion on an unknown machine', (p) => (p.weeks[0].gate = { criteria: [{ kind: 'all-migrated', machines: ['pc3'] }] }), 'weeks[0].gate.criteria[0].machines[0]', /unknown machine "pc3"/],
  ['a gate criterion on a machine none of the week\'s agents are on', (p) => (p.weeks[0].gate = { criteria: [{ kind: 'all-migrated', machines: ['mainpc'] }] }), 'weeks[0].gate.criteria[0].machines[0]', /no agent this week migrates is on mainpc/],
  ['the same agent and change twice in a week', (p) => p.weeks[0].steps.push({ id: 's2', migrate: { change: 'c', select: { machines: ['pc2'], categories: ['learning', 'utility', 'core', 'memory', 'communication', 'integration'] } } }), 'weeks[0].steps[1].migrate', /acts on tutoring_agent, which step "s1" of this week already migrates to "c"/],
];

describe('bad-input corpus: every malformed input is refused with file, field and reason, before anything runs', () => {
  after(() => {
    recordReliability({ suite: 'bad-input corpus', faultsInjected: 0, phasesFinished: 0, actionsChecked: 0, inputsRejected: rejected, eventsLost: 0, detail: `${rejected} malformed plans, inventories, catalogues and deployments refused with file, field and reason` });
    console.log(`bad-input corpus: ${rejected} malformed inputs rejected`);
  });

  for (const [name, edit, field, reason] of [...planCases, ...planAgainstConfig]) {
    it(`plan: ${name}`, () => {
      const plan = goodPlan();
      edit(plan);
      const file = tempFile('plan.json', plan);
      expectRejected(() => loadPlan(file, config), /plan\.json$/, field, reason);
    });
  }

  it('plan: not JSON', () => expectRejected(() => loadPlan(tempFile('plan.json', '{"version": 1,'), config), /plan\.json$/, '', /not valid JSON/));
  it('plan: an oversized file (6 MB)', () => expectRejected(() => loadPlan(tempFile('plan.json', `{"title":"${'x'.repeat(6 * 1024 * 1024)}"}`), config), /plan\.json$/, '', /the limit is/));
  it('plan: a missing file', () => expectRejected(() => loadPlan('/nonexistent/plan.json', config), /plan\.json$/, '', /cannot read/));
  it('plan: a JSON array', () => expectRejected(() => loadPlan(tempFile('plan.json', '[]'), config), /plan\.json$/, '', /expected object/i));

  const inventoryCases: Array<[string, (inv: any) => void, string | RegExp, RegExp]> = [
    ['an agent on an unknown machine', (inv) => (inv.agents[7].machine = 'pc3'), 'agents[7].machine', /unknown machine "pc3"/],
    ['a duplicate agent', (inv) => (inv.agents[5].name = inv.agents[4].name), 'agents[5].name', /duplicate agent name/],
    ['an agent named like a hub', (inv) => (inv.agents[5].name = 'EdgeHub'), 'agents[5].name', /already a hub's name/],
    ['a port out of range', (inv) => (inv.agents[2].healthPort = 70000), 'agents[2].healthPort', /too big|<=\s*65535|at most/i],
    ['two agents on one port', (inv) => (inv.agents[1].healthPort = inv.agents[0].healthPort), 'agents[1].healthPort', /already used by/],
    ['an unknown failover hub', (inv) => (inv.agents[0].failoverHub = 'MoonHub'), 'agents[0].failoverHub', /unknown hub "MoonHub"/],
    ['a health path with a shell trick', (inv) => (inv.agents[0].healthPath = '/health;reboot'), 'agents[0].healthPath', /absolute URL path/],
    ['a host with a space', (inv) => (inv.machines[0].host = '127.0.0.1 ; reboot'), 'machines[0].host', /host name or IPv4/],
    ['a heartbeat interval of 10 ms', (inv) => (inv.heartbeats = { agentIntervalMs: 10 }), 'heartbeats.agentIntervalMs', /too small|>=\s*100|at least/i],
    ['a risk rating that is not one', (inv) => (inv.agents[0].risk.gpu = 'huge'), 'agents[0].risk.gpu', /invalid|expected one of/i],
    ['a version with a slash', (inv) => (inv.agents[0].version = '1.0/../../x'), 'agents[0].version', /version string/],
    ['10,001 agents', (inv) => (inv.agents = Array.from({ length: 10_001 }, () => inv.agents[0])), 'agents', /too big|<=\s*10000|at most/i],
    ['an agent on its machine\'s hub port', (inv) => (inv.agents[0].healthPort = inv.hubs.find((h: { machine: string }) => h.machine === inv.agents[0].machine).port), 'agents[0].healthPort', /already taken by hub/],
    ['a hub on the simulator\'s admin port of the same host', (inv) => (inv.hubs.find((h: { machine: string }) => h.machine === 'mainpc').port = 7900), /hubs\[\d\]\.port/, /already taken by deployment\.json's simulator\.adminPort/],
  ];
  for (const [name, edit, field, reason] of inventoryCases) {
    it(`inventory: ${name}`, () => expectRejected(() => loadConfig(configWith('inventory.json', edit)), /inventory\.json$/, field, reason));
  }

  const catalogueCases: Array<[string, (c: any) => void, string | RegExp, RegExp]> = [
    ['a shell expression as the command', (c) => (c.actions.backup.command = 'fleetctl backup; curl evil | sh'), 'actions.backup.command', /not a shell expression/],
    ['a placeholder that does not exist', (c) => (c.actions.backup.args = ['{rootPassword}']), 'actions.backup.args[0]', /unknown placeholder "\{rootPassword\}"/],
    ['a timeout of an hour', (c) => (c.actions.backup.timeoutMs = 3_600_000), 'actions.backup.timeoutMs', /too big|at most|<=/i],
    ['a machine that is not the file\'s', (c) => (c.machine = 'mainpc'), 'machine', /is "mainpc" but deployment\.json lists this file for "pc2"/],
    ['an unknown action', (c) => (c.actions['format-disk'] = { command: '/bin/sh', args: ['-c', 'x'], timeoutMs: 1000 }), /actions/, /unrecognized key|Unrecognized/i],
    ['a command found on the PATH, not an absolute path', (c) => (c.actions['apply-stage'].command = 'fleetctl'), 'actions.apply-stage.command', /neither an absolute path nor one of \{node\}/],
    ['an unknown placeholder as the command', (c) => (c.actions['apply-stage'].command = '{python}'), 'actions.apply-stage.command', /neither an absolute path nor one of/],
    ['a key the verify-marker request never carries', (c) => c.actions['verify-marker'].args.push('--key', '{idempotencyKey}'), 'actions.verify-marker.args', /\{idempotencyKey\} is not given to the verify-marker action/],
    ['a change the integration check request never carries', (c) => c.actions['integration-check'].args.push('--change', '{change}'), 'actions.integration-check.args', /\{change\} is not given to the integration-check action/],
    ['an agent in an operation, which acts on the machine', (c) => c.operations['deploy-edgehub'].run.args.push('{agent}'), 'operations.deploy-edgehub.run.args', /\{agent\} is not given to an operation/],
  ];
  for (const [name, edit, field, reason] of catalogueCases) {
    it(`catalogue: ${name}`, () => expectRejected(() => loadConfig(configWith('catalogues/pc2.json', edit)), /catalogues\/pc2\.json$/, field, reason));
  }

  const deploymentCases: Array<[string, (d: any) => void, string, RegExp]> = [
    ['an unknown Temporal mode', (d) => (d.temporal = { mode: 'cloud' }), 'temporal.mode', /invalid|discriminator|expected/i],
    ['an external Temporal without a port', (d) => (d.temporal = { mode: 'external', address: 'temporal', namespace: 'default' }), 'temporal.address', /host:port/],
    ['a NATS URL with a shell trick', (d) => (d.nats = { mode: 'external', servers: ['nats://x;reboot:4222'] }), 'nats.servers[0]', /nats:\/\/host:port/],
    ['a webhook that is not a URL', (d) => (d.alerts = { webhooks: { level2: 'pager please' } }), 'alerts.webhooks.level2', /url/i],
    ['a log level that does not exist', (d) => (d.logLevel = 'loud'), 'logLevel', /invalid|expected one of/i],
    ['an unknown field', (d) => (d.sshPassword = 'hunter2'), '', /unrecognized key|Unrecognized/i],
    ['the Web UI on the NATS port', (d) => (d.temporal.uiPort = d.nats.port), 'nats.port', /port 4222 on 127\.0\.0\.1 is already temporal\.uiPort's/],
    ['a worker\'s metrics on Temporal\'s port', (d) => (d.metrics.ports.pc2 = 7233), 'metrics.ports.pc2', /port 7233 on 127\.0\.0\.1 is already temporal\.port's/],
  ];
  for (const [name, edit, field, reason] of deploymentCases) {
    it(`deployment: ${name}`, () => expectRejected(() => loadConfig(configWith('deployment.json', edit)), /deployment\.json$/, field, reason));
  }
});

describe('a worker runs only its catalogue, whatever a workflow sends (security)', () => {
  const runner = new CatalogueRunner(config.catalogues.pc2!, config.inventory.agents, { node: '/usr/bin/node', projectRoot: '/srv/phasegate', machine: 'pc2', simulatorAdmin: 'http://127.0.0.1:7900' });
  const catalogueCommands = new Set(Object.values(config.catalogues.pc2!.actions).map((a) => a.command.replace('{node}', '/usr/bin/node')));

  it('arbitrary requests either resolve to a catalogue command with only validated values, or are refused without being retried', () => {
    const anything = fc.oneof(fc.string(), fc.constantFrom('tutoring_agent', 'apply-stage', 'backup', 'x;reboot', '$(id)', '../../etc/passwd', '`id`', 'a b', '--help'));
    fc.assert(
      fc.property(
        fc.record({ action: fc.oneof(anything, fc.constantFrom('apply-stage', 'undo-stage', 'backup', 'verify-marker', 'integration-check')), agent: anything, change: fc.option(anything, { nil: undefined }), stage: fc.option(fc.oneof(fc.integer(), fc.double()), { nil: undefined }), idempotencyKey: fc.option(anything, { nil: undefined }) }),
        (req) => {
          let resolved: { command: string; args: string[] };
          try {
            resolved = runner.resolve(req as never);
          } catch (err) {
            assert.equal((err as { nonRetryable?: boolean }).nonRetryable, true);
            return;
          }
          assert.ok(catalogueCommands.has(resolved.command), `ran ${resolved.command}`);
          for (const a of resolved.args) assert.match(a, /^[A-Za-z0-9_.:@/=-]+$/, `argument ${JSON.stringify(a)}`);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('properties of the schemas and the pure decisions over arbitrary input (fast-check)', () => {
  it('the plan schema never throws: any JSON value is either a plan or a list of issues with field paths', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = planSchema.safeParse(v);
        if (!r.success) assert.ok(r.error.issues.length > 0);
      }),
      { numRuns: 500 },
    );
  });

  it('a mutated valid plan is accepted or refused, never half-parsed', () => {
    fc.assert(
      fc.property(fc.constantFrom('version', 'id', 'title', 'weeks'), fc.jsonValue(), (key, value) => {
        const plan: Record<string, unknown> = goodPlan();
        plan[key] = value;
        const r = planSchema.safeParse(plan);
        if (r.success) assert.equal(r.data.weeks.length > 0, true);
      }),
      { numRuns: 500 },
    );
  });

  it('risk scores stay within 0-40 and the band follows the score', () => {
    const rating = fc.constantFrom('low' as const, 'medium' as const, 'high' as const);
    fc.assert(
      fc.property(fc.record({ fileSize: rating, gpu: rating, threading: rating, databases: rating, role: rating }), (risk) => {
        const r = assessRisk({ risk });
        assert.ok(r.score >= 0 && r.score <= 40);
        assert.equal(r.band, r.score <= 15 ? 'low' : r.score <= 25 ? 'medium' : r.score <= 35 ? 'high' : 'critical');
      }),
    );
  });

  it('judging a heartbeat gap: downtime is never negative nor longer than the gap, and at least one heartbeat was sent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 1e7 }), fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 100, max: 600_000 }), (ts, gap, seqA, seqB, interval) => {
        const g = judgeGap({ ts, seq: seqA }, { ts: ts + gap, seq: seqB }, interval);
        assert.ok(g.downMs >= 0 && g.downMs <= gap);
        assert.ok(g.sent >= 1);
      }),
    );
  });

  it('trigger evaluation never throws on any reading, and a fail names its evidence', () => {
    const reading = fc.oneof(
      fc.record({ metric: fc.constantFrom('responseTimeMs', 'gpuMemoryPct', 'load', 'integration', 'agentUp'), status: fc.constant('measured' as const), value: fc.oneof(fc.double(), fc.integer()) }),
      fc.record({ metric: fc.constantFrom('responseTimeMs', 'gpuMemoryPct', 'load'), status: fc.constantFrom('no-data' as const, 'not-applicable' as const), detail: fc.string() }),
    );
    fc.assert(
      fc.property(fc.array(reading, { maxLength: 8 }), (readings) => {
        const { result } = evaluateSample(readings as Reading[], null, planSchema.parse(goodPlan()).thresholds, initialEvaluationState());
        if (result.verdict === 'fail') assert.ok(result.trigger && result.trigger.kind);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('secrets in configuration are redacted in logs', () => {
  it('webhook URLs, API keys, passwords and tokens come out as [REDACTED], wherever they sit', () => {
    const lines: string[] = [];
    const logger = createLogger('test', 'info', { write: (s: string) => lines.push(s) });
    const secret = 'https://hooks.slack.example/services/T000/B000/SECRET-TOKEN-123';
    logger.info({ deployment: { alerts: { webhooks: { level2: secret } } }, apiKey: 'SECRET-KEY-456', db: { password: 'SECRET-PW-789' }, request: { headers: { authorization: 'Bearer SECRET-BEARER' } }, alertWebhooks: { 2: secret } }, 'config loaded');
    logger.info({ webhook: secret, token: 'SECRET-TOKEN-XYZ' }, 'posting');
    const out = lines.join('');
    assert.doesNotMatch(out, /SECRET/);
    assert.equal(out.match(/\[REDACTED\]/g)?.length, 7);
  });
});
